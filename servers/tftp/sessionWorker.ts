/**
 * A TFTP session worker (see sessionPool.ts): runs the transfers its server hands over, each
 * a ServerSession on its own socket, and reports each one's end and log entry back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { bindSocket, createUdpSocket, type TftpFaults } from './session.ts';
import { ServerSession, type SessionHost, type TftpLogEntry } from './serverSession.ts';
import type { FromWorker, ToWorker, WorkerData } from './sessionPool.ts';

const port = parentPort;
if (!port) throw new Error('sessionWorker.ts runs as a worker thread');
const data = workerData as WorkerData;
const sessions = new Map<number, ServerSession>();
/** Opens whose socket is still binding: an abort there ends them as soon as they exist. */
const opening = new Set<number>();
const abortedWhileOpening = new Set<number>();
let faults: TftpFaults | undefined = data.faults;
let stopping = false;

const post = (m: FromWorker): void => port.postMessage(m);

/** The worker's host for one session: the settings it started with, the faults as last told. */
function hostFor(id: number): SessionHost {
  return {
    settings: data.settings,
    currentFaults: () => faults,
    record: (entry: TftpLogEntry) => post({ t: 'record', entry }),
    finished: () => post({ t: 'finished', id }),
    // Not the moment to settle a stop: a failed transfer's cleanup and entry still follow.
    forget: () => {
      sessions.delete(id);
      post({ t: 'forget', id });
    },
  };
}

async function open(id: number, m: Extract<ToWorker, { t: 'open' }>): Promise<void> {
  const address = data.settings.address;
  const sock = createUdpSocket(address);
  sock.on('error', () => {});
  opening.add(id);
  try {
    await bindSocket(sock, 0, address);
  } catch {
    opening.delete(id);
    post({ t: 'forget', id });
    return;
  }
  opening.delete(id);
  if (stopping || abortedWhileOpening.delete(id)) {
    sock.close();
    post({ t: 'forget', id });
    settle();
    return;
  }
  const s = new ServerSession(hostFor(id), m.key, sock, m.peer, m.req);
  sessions.set(id, s);
  await s.run();
}

/** Once stopping and every session let go (cleaned up and logged): tell the server, once. */
let told = false;
function settle(): void {
  if (stopping && !told && sessions.size === 0 && opening.size === 0) {
    told = true;
    post({ t: 'stopped' });
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      void open(m.id, m);
      return;
    case 'repeat': {
      const s = sessions.get(m.id);
      if (s && !s.finished) s.repeat();
      else if (!opening.has(m.id)) post({ t: 'again', id: m.id, msg: m.msg, peer: m.peer });
      return;
    }
    case 'abort': {
      const s = sessions.get(m.id);
      if (s) s.abort();
      else if (opening.has(m.id)) abortedWhileOpening.add(m.id);
      return;
    }
    case 'faults':
      faults = m.faults;
      return;
    case 'stop':
      stopping = true;
      void Promise.all([...sessions.values()].map((s) => s.abort())).then(settle);
      return;
  }
});
post({ t: 'ready' });
