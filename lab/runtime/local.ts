/**
 * A node handle over a node object in this process. The embedded runtime hands these to
 * the lab; the node agent (`flashlab node`) serves one over the node protocol, so both
 * runtimes answer every call with the same code.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { RouterNode } from '../kinds/router.ts';
import { ServerNode } from '../kinds/ServerNode.ts';
import type { LabNode, NodeEvent, NodeHandle, NodeInfo, RouterStatus, ServerFile, TranscriptOptions, TranscriptReply } from './types.ts';

/** Raised for a call the node cannot answer (exec on a server, faults on a router). */
export class NodeCallError extends Error {}

export async function md5OfFile(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * By its kind, not `instanceof`: the router's class is known here as a type only, so a node
 * agent running a server never loads the router's code.
 */
function isRouterNode(node: LabNode): node is RouterNode {
  return node.kind === 'router';
}

export class LocalNodeHandle implements NodeHandle {
  private readonly listeners = new Set<(e: NodeEvent) => void>();

  constructor(readonly node: LabNode) {
    // Routers: every syslog line, from power-on, to whoever listens.
    if (isRouterNode(node)) node.router.log.onMessage((m) => this.emit({ type: 'syslog', line: m.line }));
  }

  get name(): string {
    return this.node.name;
  }

  get kind(): string {
    return this.node.kind;
  }

  info(): NodeInfo {
    return this.node.info();
  }

  healthy(): Promise<boolean> {
    return this.node.healthy();
  }

  async exec(lines: string[]): Promise<string> {
    if (!this.node.exec) throw new NodeCallError(`node "${this.name}" is a ${this.kind} node: exec runs on routers`);
    return this.node.exec(lines);
  }

  async transcript(lines: string[], o: TranscriptOptions): Promise<TranscriptReply> {
    return this.router('a transcript').transcript(lines, o);
  }

  async setFaults(faults: Record<string, unknown>): Promise<void> {
    if (!this.node.setFaults) throw new NodeCallError(`node "${this.name}" is a ${this.kind} node: it has no faults`);
    this.node.setFaults(faults);
  }

  async logs(): Promise<unknown[]> {
    if (!this.node.logs) throw new NodeCallError(`node "${this.name}" is a ${this.kind} node: it keeps no log`);
    return this.node.logs();
  }

  async routerStatus(): Promise<RouterStatus> {
    const r = this.router('a router status').router;
    return { state: r.state, bootedAt: r.bootedAt?.toISOString(), bootFailure: r.bootFailure, defaultFs: r.fs.default.name };
  }

  async serverFile(path: string): Promise<ServerFile> {
    const n = this.node;
    if (!(n instanceof ServerNode) || !n.root) throw new NodeCallError(`node "${this.name}" is a ${this.kind} node, not a file server`);
    const root = resolve(n.root);
    const p = resolve(root, path.replace(/^\/+/, ''));
    if (p !== root && !p.startsWith(root + sep)) throw new NodeCallError(`"${path}" is outside ${this.name}'s root`);
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return { exists: false };
    return { exists: true, size: s.size, md5: await md5OfFile(p) };
  }

  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Lab log lines and warnings the node's context reports go out as events too. */
  emit(e: NodeEvent): void {
    for (const l of this.listeners) l(e);
  }

  private router(what: string): RouterNode {
    if (!isRouterNode(this.node)) throw new NodeCallError(`node "${this.name}" is a ${this.kind} node, not a router (${what} needs one)`);
    return this.node;
  }
}
