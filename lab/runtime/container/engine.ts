/**
 * The container engine as the container runtime sees it: Docker, or Podman behind its
 * Docker-compatible socket, through dockerode. Only this file imports dockerode, so the
 * rest of the runtime reads as lab operations (a network, a volume, a node's container)
 * and every engine failure reaches the user as one clear line in the engine's own words.
 *
 * Everything made here carries the `flashlab.lab` label and a `flashlab-<lab>` name prefix:
 * `down` removes exactly what a lab made, found by label, never by a guess.
 */
import { readdirSync } from 'node:fs';
import Dockerode from 'dockerode';

/** Label every container, network and volume of a lab carries (value: the lab's name). */
export const LAB_LABEL = 'flashlab.lab';
/** Label naming the node a container runs. */
export const NODE_LABEL = 'flashlab.node';

/** An engine failure, already worded for the user (no stack trace, no HTTP jargon). */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    message: string,
    /** The engine's HTTP status, when it answered at all (404: no such object). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Where the engine is expected: DOCKER_HOST, else Docker's default socket. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/**
 * Turns what dockerode throws into an EngineError: the engine's own message when it
 * answered (`{"message": …}`), the socket error and the address when nothing answered.
 */
export function engineError(e: unknown, doing: string, address = engineAddress()): EngineError {
  if (e instanceof EngineError) return e;
  const err = e as { statusCode?: number; json?: { message?: string } | null; reason?: string; message?: string; code?: string };
  if (typeof err?.statusCode === 'number') {
    const said = err.json?.message ?? err.reason ?? err.message ?? `HTTP ${err.statusCode}`;
    return new EngineError(`container engine: ${doing}: ${said.trim()}`, err.statusCode);
  }
  const why = err?.message ?? String(e);
  if (err?.code === 'ENOENT' || err?.code === 'ECONNREFUSED' || err?.code === 'EACCES' || err?.code === 'ETIMEDOUT') {
    return new EngineError(`no container engine at ${address} (${why}); start Docker or "podman system service", or set DOCKER_HOST`);
  }
  return new EngineError(`container engine: ${doing}: ${why}`);
}

export interface NetworkSpec {
  name: string;
  subnet: string;
  labels: Record<string, string>;
}

export interface ContainerSpec {
  name: string;
  image: string;
  hostname: string;
  /** Arguments after the image's entrypoint (`node bin/flashlab.mjs`). */
  command: string[];
  env?: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  address: string;
  /** Named volumes: volume name → mount point. */
  volumes?: Record<string, string>;
  /** Host folders: host path → mount point. */
  binds?: Record<string, string>;
  healthcheck?: { test: string[]; intervalMs: number; timeoutMs: number; retries: number };
  /** Keep standard input open (nobody attached): a process that ends on EOF keeps running. */
  openStdin?: boolean;
}

export type HealthState = 'starting' | 'healthy' | 'unhealthy' | 'none';

export interface ContainerState {
  name: string;
  running: boolean;
  /** `exited`, `running`, `created`… as the engine says. */
  status: string;
  exitCode: number;
  health: HealthState;
  address?: string;
  /** Host pid of the container's first process (0 when it is not running). */
  pid: number;
}

export interface LabObjects {
  containers: string[];
  networks: string[];
  volumes: string[];
}

const ns = (ms: number) => ms * 1_000_000;

export class ContainerEngine {
  private readonly docker: Dockerode;

  constructor(readonly address = engineAddress()) {
    // docker-modem reads DOCKER_HOST itself; passing the socket keeps one source of truth.
    const unix = /^unix:\/\/(.+)$/.exec(address);
    this.docker = unix ? new Dockerode({ socketPath: unix[1]! }) : new Dockerode();
  }

  private async call<T>(doing: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw engineError(e, doing, this.address);
    }
  }

  /** Answers, or throws the reason no engine answers. Returns the engine's name and version. */
  async ping(): Promise<string> {
    return this.call('version', async () => {
      const v = (await this.docker.version()) as { Version?: string; Components?: { Name?: string }[] };
      const name = v.Components?.find((c) => /podman/i.test(c.Name ?? '')) ? 'Podman' : 'Docker';
      return `${name} ${v.Version ?? '?'}`;
    });
  }

  async imageExists(tag: string): Promise<boolean> {
    try {
      await this.docker.getImage(tag).inspect();
      return true;
    } catch (e) {
      const err = engineError(e, `image ${tag}`, this.address);
      if (err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Builds `tag` from a folder with a Containerfile (the folder's .dockerignore applies).
   * Resolves when the engine reports the image built; a failed step is the engine's message.
   */
  async buildImage(context: string, containerfile: string, tag: string, progress?: (line: string) => void): Promise<void> {
    const entries = readdirSync(context);
    await this.call(`build ${tag}`, async () => {
      const stream = await this.docker.buildImage({ context, src: entries }, { t: tag, dockerfile: containerfile });
      await new Promise<void>((done, fail) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, out: { error?: string; errorDetail?: { message?: string } }[]) => {
            const failed = err?.message ?? out.find((o) => o.error)?.error;
            return failed ? fail(new EngineError(`container engine: build ${tag}: ${failed.trim()}`)) : done();
          },
          (e: { stream?: string }) => e.stream?.trim() && progress?.(e.stream.trim()),
        );
      });
    });
  }

  /** Removes an image this lab's tests or benches built (gone already is fine). */
  async removeImage(tag: string): Promise<void> {
    await this.ignoreMissing(`remove image ${tag}`, () => this.docker.getImage(tag).remove());
  }

  async createNetwork(s: NetworkSpec): Promise<void> {
    await this.call(`create network ${s.name} (${s.subnet})`, () =>
      this.docker.createNetwork({ Name: s.name, Driver: 'bridge', CheckDuplicate: true, Labels: s.labels, IPAM: { Driver: 'default', Config: [{ Subnet: s.subnet }] } }),
    );
  }

  /** A named volume; `bindTo` makes it a host folder (the local driver's bind option). */
  async createVolume(name: string, labels: Record<string, string>, o: { bindTo?: string } = {}): Promise<void> {
    const DriverOpts = o.bindTo ? { type: 'none', o: 'bind', device: o.bindTo } : undefined;
    await this.call(`create volume ${name}`, () => this.docker.createVolume({ Name: name, Labels: labels, ...(DriverOpts ? { Driver: 'local', DriverOpts } : {}) }));
  }

  /** Every subnet the engine's networks use (any label): a new lab network must not overlap one. */
  async networkSubnets(): Promise<string[]> {
    return this.call('list networks', async () => {
      const nets = await this.docker.listNetworks();
      return nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')).filter((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s));
    });
  }

  async createContainer(s: ContainerSpec): Promise<void> {
    const binds = [
      ...Object.entries(s.volumes ?? {}).map(([v, at]) => `${v}:${at}`),
      ...Object.entries(s.binds ?? {}).map(([host, at]) => `${host}:${at}`),
    ];
    await this.call(`create container ${s.name}`, () =>
      this.docker.createContainer({
        name: s.name,
        Image: s.image,
        Hostname: s.hostname,
        Cmd: s.command,
        Env: Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`),
        Labels: s.labels,
        OpenStdin: s.openStdin ?? false,
        StdinOnce: false,
        Healthcheck: s.healthcheck && {
          Test: ['CMD', ...s.healthcheck.test],
          Interval: ns(s.healthcheck.intervalMs),
          Timeout: ns(s.healthcheck.timeoutMs),
          Retries: s.healthcheck.retries,
        },
        HostConfig: { Binds: binds, NetworkMode: s.network },
        NetworkingConfig: { EndpointsConfig: { [s.network]: { IPAMConfig: { IPv4Address: s.address } } } },
      }),
    );
  }

  async start(name: string): Promise<void> {
    await this.call(`start ${name}`, () => this.docker.getContainer(name).start());
  }

  /** SIGTERM, then SIGKILL after `graceSeconds` (the engine does both). */
  async stop(name: string, graceSeconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(name).stop({ t: graceSeconds });
    } catch (e) {
      const err = engineError(e, `stop ${name}`, this.address);
      // 304: already stopped; 404: already gone. Either way it is not running.
      if (err.status !== 304 && err.status !== 404) throw err;
    }
  }

  async state(name: string): Promise<ContainerState> {
    return this.call(`inspect ${name}`, async () => {
      const i = await this.docker.getContainer(name).inspect();
      const health = (i.State as { Health?: { Status?: string } }).Health?.Status;
      const nets = Object.values(i.NetworkSettings?.Networks ?? {});
      return {
        name,
        running: i.State.Running,
        status: i.State.Status,
        exitCode: i.State.ExitCode,
        health: health === 'healthy' || health === 'unhealthy' || health === 'starting' ? health : 'none',
        address: nets[0]?.IPAddress || undefined,
        pid: i.State.Pid ?? 0,
      };
    });
  }

  /** The container's output so far (stdout and stderr, as text; the last `tail` lines). */
  async logs(name: string, tail = 200): Promise<string> {
    return this.call(`logs of ${name}`, async () => {
      const buf = (await this.docker.getContainer(name).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
      return demux(buf);
    });
  }

  /** Runs a command in a running container; output as text, with its exit code. */
  async exec(name: string, cmd: string[]): Promise<{ output: string; exitCode: number }> {
    return this.call(`exec in ${name}`, async () => {
      const ex = await this.docker.getContainer(name).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await ex.start({ hijack: true, stdin: false });
      const chunks: Buffer[] = [];
      await new Promise<void>((done, fail) => {
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => done());
        stream.on('error', fail);
      });
      const info = await ex.inspect();
      return { output: demux(Buffer.concat(chunks)), exitCode: info.ExitCode ?? -1 };
    });
  }

  /** Memory the container's processes use now, bytes (cgroup figure, as `docker stats`). */
  async memoryUsage(name: string): Promise<number> {
    return this.call(`stats of ${name}`, async () => {
      const s = (await this.docker.getContainer(name).stats({ stream: false })) as { memory_stats?: { usage?: number; stats?: Record<string, number> } };
      const m = s.memory_stats ?? {};
      // RSS where the engine itemises it (cgroup v2 "anon", v1 "rss"), else the whole usage.
      return m.stats?.anon ?? m.stats?.rss ?? m.usage ?? 0;
    });
  }

  /** Everything carrying the lab's label (all labs: `lab` undefined), and these labels too when given. */
  async labObjects(lab?: string, also: Record<string, string> = {}): Promise<LabObjects> {
    const filters = JSON.stringify({ label: [lab === undefined ? LAB_LABEL : `${LAB_LABEL}=${lab}`, ...Object.entries(also).map(([k, v]) => `${k}=${v}`)] });
    return this.call('list lab objects', async () => {
      const [cs, nets, vols] = await Promise.all([
        this.docker.listContainers({ all: true, filters }),
        this.docker.listNetworks({ filters }),
        this.docker.listVolumes({ filters }),
      ]);
      return {
        containers: cs.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')),
        networks: nets.map((n) => n.Name),
        volumes: (vols.Volumes ?? []).map((v) => v.Name),
      };
    });
  }

  /** Removes a container (stopping it first); gone already is fine. */
  async removeContainer(name: string): Promise<void> {
    await this.ignoreMissing(`remove container ${name}`, () => this.docker.getContainer(name).remove({ force: true, v: false }));
  }

  async removeNetwork(name: string): Promise<void> {
    await this.ignoreMissing(`remove network ${name}`, () => this.docker.getNetwork(name).remove());
  }

  async removeVolume(name: string): Promise<void> {
    await this.ignoreMissing(`remove volume ${name}`, () => this.docker.getVolume(name).remove());
  }

  private async ignoreMissing(doing: string, f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
    } catch (e) {
      const err = engineError(e, doing, this.address);
      if (err.status !== 404) throw err;
    }
  }
}

/**
 * The engine multiplexes stdout and stderr of a container without a tty into frames
 * (1 byte stream, 3 padding, 4 length, payload). Text without that framing passes as is.
 */
export function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at]!;
    const len = buf.readUInt32BE(at + 4);
    if (stream > 2 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0 || at + 8 + len > buf.length) break;
    parts.push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  if (at !== buf.length) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
