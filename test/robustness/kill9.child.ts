/**
 * One life of a lab for kill9.test.ts, in its own process so the test can SIGKILL it.
 *
 *   node --import tsx kill9.child.ts <stateDir> <subnet> <seed>
 *
 * 1. Before starting: what the previous kill left (`flashlab doctor`'s checks, no repair).
 * 2. Starts the lab on that state (start-up cleans temporaries and collects orphans), then
 *    reports what a user would see: every file's size and verified md5, `dir`'s accounting,
 *    nvram:startup-config, and the doctor's checks again. One `STATE {json}` line.
 * 3. On `go <copy|write|delete>` from stdin: runs that operation over and over until killed,
 *    printing `OP <kind> <n>` before each and `DONE <kind> <n>` after, so the parent knows
 *    what a kill interrupted. On `stop`: stops the lab and exits.
 */
import { createInterface } from 'node:readline';
import { Lab } from '../../lab/Lab.ts';
import { examineLab } from '../../lab/state/doctor.ts';

const [stateDir, subnet, seedText] = process.argv.slice(2) as [string, string, string];
let seed = Number(seedText) >>> 0 || 1;
/** Deterministic per life (xorshift): a failing seed can be replayed. */
const random = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

export const IMAGE = { name: 'isr4300-universalk9.16.12.04.SPA.bin', version: '16.12.4', size: 4 * 1024 * 1024 };

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const before = await examineLab(stateDir);
  const lab = await Lab.start(
    {
      name: 'kill9',
      mgmt: { 'ipv4-subnet': subnet },
      clock: { frozen: false },
      topology: {
        nodes: {
          r1: {
            kind: 'router',
            platform: 'isr4321',
            'boot-seconds': 0,
            flash: { bootflash: '64MB' },
            images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }],
            'startup-config': ['file prompt quiet', 'ip tftp blocksize 8192'],
          },
          tftp: { kind: 'tftp', images: [{ name: IMAGE.name, platform: 'isr4321', version: IMAGE.version, size: IMAGE.size }] },
        },
      },
    },
    { stateDir, wellKnownPorts: false },
  );
  const r1 = lab.router('r1');
  const bootflash = r1.fs.get('bootflash')!;
  const nvram = r1.fs.get('nvram')!;
  const files = [];
  for (const e of bootflash.walk()) if (!e.isDir) files.push({ path: e.path, size: e.size, md5: await bootflash.md5(e.path) });
  const dir = await lab.exec('r1', ['dir bootflash:']);
  const startup = nvram.stat('startup-config') ? await nvram.readText('startup-config') : undefined;
  const after = await examineLab(stateDir);
  say(
    `STATE ${JSON.stringify({
      before: before.findings.map((f) => ({ kind: f.kind, bytes: f.bytes ?? 0 })),
      after: after.findings,
      store: after.store,
      files,
      dir,
      total: bootflash.totalBytes,
      startup,
      warnings: lab.warnings,
    })}`,
  );

  const tftp = lab.topology.nodes.find((n) => n.name === 'tftp')!.address;
  const lines = createInterface({ input: process.stdin });
  let target = 'copy';
  for await (const line of lines) {
    if (line === 'stop') {
      await lab.stop();
      process.exit(0);
    }
    if (line.startsWith('go ')) {
      target = line.slice(3);
      break;
    }
  }
  let n = 0;
  let configs = Number(/^hostname k9-(\d+)$/m.exec(startup ?? '')?.[1] ?? 0);
  const images = () => bootflash.walk().filter((e) => !e.isDir && e.path.startsWith('img-'));
  const copy = async () => {
    n++;
    say(`OP copy ${n}`);
    const out = await lab.exec('r1', [`copy tftp://${tftp}/${IMAGE.name} bootflash:img-${n}.bin`]);
    say(`DONE copy ${n} ${/\[OK - (\d+) bytes\]|bytes copied/.test(out) ? 'ok' : JSON.stringify(out.slice(-200))}`);
  };
  const remove = async () => {
    const present = images();
    const victim = present[Math.floor(random() * present.length)]!;
    say(`OP delete ${victim.path}`);
    await lab.exec('r1', [`delete bootflash:${victim.path}`]);
    say(`DONE delete ${victim.path}`);
  };
  // Each life is killed during one kind of operation (the parent takes turns), with the
  // others only where that one needs them (space to copy into, a file to delete).
  for (;;) {
    if (target === 'copy') {
      if (images().length >= 3) await remove();
      await copy();
    } else if (target === 'write') {
      configs++;
      say(`OP write ${configs}`);
      await lab.exec('r1', ['configure terminal', `hostname k9-${configs}`, `ip domain name n${configs}.lab`, 'end', 'write memory']);
      say(`DONE write ${configs}`);
    } else {
      // Files to delete come from flash itself (instant, still a real new file each time).
      if (images().length === 0) await copy();
      const src = images()[0]!;
      n++;
      await lab.exec('r1', [`copy bootflash:${src.path} bootflash:img-${n}.bin`]);
      await remove();
    }
  }
}

main().catch((e: unknown) => {
  say(`ERROR ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
