/**
 * The node life cycle every runtime implements (embedded: one process on loopback
 * addresses; later a network namespace or a container per node). Router and server code
 * never sees which runtime runs it.
 */
export type NodeState = 'created' | 'starting' | 'running' | 'booting' | 'rommon' | 'stopped' | 'failed';

export interface NodeInfo {
  name: string;
  kind: string;
  state: NodeState;
  address: string;
  /** Ports by service, as really bound: `{ ssh: 22 }`, `{ tftp: 69 }`. */
  ports: Record<string, number>;
  /** Router platform, server flavour… */
  detail?: Record<string, string>;
}

export interface LabNode {
  readonly name: string;
  readonly kind: string;
  create(): Promise<void>;
  start(): Promise<void>;
  /** True once the node answers on every port it serves (and a router has booted). */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
  info(): NodeInfo;
  /** Runs CLI lines (routers); output without prompts. */
  exec?(lines: string[]): Promise<string>;
  /** Replaces the node's fault knobs (servers); keys as the server names them. */
  setFaults?(faults: Record<string, unknown>): void;
  /** What the node recorded (server transfer/query logs). */
  logs?(): unknown[];
  /** Content-store blobs the node's file systems reference (routers). */
  blobReferences?(): Iterable<string>;
  /** Damaged state found at start (unreadable metadata, missing or short contents), one line each. */
  stateProblems?(): Promise<string[]>;
}

/** Default base: nodes override what they need; create/destroy are often nothing. */
export abstract class BaseNode implements LabNode {
  abstract readonly name: string;
  abstract readonly kind: string;
  async create(): Promise<void> {}
  abstract start(): Promise<void>;
  async healthy(): Promise<boolean> {
    return true;
  }
  abstract stop(): Promise<void>;
  async destroy(): Promise<void> {}
  abstract info(): NodeInfo;
}

// ---- the runtime seam: what the lab, the control API and the scenario runner hold ----------

/** The runtimes `flashlab up --runtime …` knows (`container` plugs in beside the others). */
export const RUNTIME_NAMES = ['embedded', 'netns', 'container'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** What a router handle reports for the scenario runner (`wait for reload`, default file system). */
export interface RouterStatus {
  state: NodeState;
  /** When the current boot happened (ISO text), so a caller sees that a reload took place. */
  bootedAt?: string;
  /** Why the last boot ended in ROMmon. */
  bootFailure?: string;
  /** The file system `copy … <fs>:` defaults to (`bootflash`, `flash0`). */
  defaultFs: string;
}

/** A file under a server's root as the server's disk holds it (`check: { server, file }`). */
export interface ServerFile {
  exists: boolean;
  size?: number;
  md5?: string;
}

/**
 * What a node tells the lab as it happens: syslog lines (routers), state changes, lab log
 * lines (seal refusals) and warnings the user must hear at `up`.
 */
export type NodeEvent =
  | { type: 'syslog'; line: string }
  | { type: 'state'; state: NodeState }
  | { type: 'log'; line: string }
  | { type: 'warn'; line: string };

/** Options of a terminal transcript (`flashlab exec`). */
export interface TranscriptOptions {
  user?: string;
  answers?: string[];
  yes?: boolean;
}

/** What `flashlab exec` prints: the transcript, whether IOS refused a line, where it stopped. */
export interface TranscriptReply {
  text: string;
  refused: boolean;
  stoppedAt?: string;
}

/**
 * One node as the lab sees it, whatever runs it: the same calls in this process (embedded)
 * or over the node protocol to an agent (`flashlab node`) in a namespace or a container.
 * Every call is asynchronous; `info()` is the last state the node reported.
 */
export interface NodeHandle {
  readonly name: string;
  readonly kind: string;
  info(): NodeInfo;
  healthy(): Promise<boolean>;
  /** CLI lines at privilege 15, no prompts (routers). */
  exec(lines: string[]): Promise<string>;
  transcript(lines: string[], o: TranscriptOptions): Promise<TranscriptReply>;
  /** Replaces the node's faults, in the topology's words (servers). */
  setFaults(faults: Record<string, unknown>): Promise<void>;
  /** A server's log entries; a router's console and logging buffer. */
  logs(): Promise<unknown[]>;
  routerStatus(): Promise<RouterStatus>;
  /** Size and MD5 of a file under a file server's root; paths outside it are refused. */
  serverFile(path: string): Promise<ServerFile>;
  /** Events from now on; returns the unsubscribe function. */
  subscribe(listener: (e: NodeEvent) => void): () => void;
}

/** A lab's nodes under one runtime: started together, stopped together. */
export interface LabRuntime {
  readonly name: RuntimeName;
  /** Problems the user must hear about, found while starting (printed by `flashlab up`). */
  readonly warnings: readonly string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  handles(): NodeHandle[];
  handle(name: string): NodeHandle | undefined;
  /** The port a service really listens on at an address. */
  servicePort(address: string, service: string): number;
  /** Resolves once every node follows the lab clock's latest move (scheduled reloads fired). */
  clockSettled(): Promise<void>;
}
