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
