/**
 * A TFTP session worker (see sessionPool.ts): runs the transfers its server hands over, each
 * a ServerSession on its own socket, and reports each one's end and log entry back.
 * Imported outside a worker thread (an image build warming tsx's cache) it does nothing.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { bindSocket, createUdpSocket, type TftpFaults } from './session.ts';
import { ServerSession, type SessionHost, type TftpLogEntry } from './serverSession.ts';
import type { FromWorker, ToWorker, WorkerData } from './sessionPool.ts';

function serve(port: MessagePort, data: WorkerData): void {
  const sessions = new Map<number, ServerSession>();
  /** Opens whose socket is still binding: an abort there ends them as soon as they exist. */
  const opening = new Set<number>();
  const abortedWhileOpening = new Set<number>();
  /** Sessions that let go of their socket and are finishing their cleanup and entry. */
  const closing = new Set<Promise<void>>();
  let faults: TftpFaults | undefined = data.faults;
  let stopping = false;
  let told = false;

  const post = (m: FromWorker): void => port.postMessage(m);

  /** Once stopping and every session let go (cleaned up and logged): tell the server, once. */
  const settle = (): void => {
    if (stopping && !told && sessions.size === 0 && opening.size === 0 && closing.size === 0) {
      told = true;
      post({ t: 'stopped' });
    }
  };

  /** The worker's host for one session: the settings it started with, the faults as last told. */
  const hostFor = (id: number): SessionHost => ({
    settings: data.settings,
    currentFaults: () => faults,
    record: (entry: TftpLogEntry) => post({ t: 'record', entry }),
    finished: () => post({ t: 'finished', id }),
    // A failed transfer's cleanup and entry still follow: a stop waits for them too. (A
    // microtask later its pending entry is in place, and abort() of an ended session waits.)
    forget: (_key, session) => {
      sessions.delete(id);
      post({ t: 'forget', id });
      const done: Promise<void> = Promise.resolve()
        .then(() => session.abort())
        .finally(() => {
          closing.delete(done);
          settle();
        });
      closing.add(done);
    },
  });

  const open = async (m: Extract<ToWorker, { t: 'open' }>): Promise<void> => {
    const address = data.settings.address;
    const sock = createUdpSocket(address);
    sock.on('error', () => {});
    opening.add(m.id);
    try {
      await bindSocket(sock, 0, address);
    } catch {
      opening.delete(m.id);
      post({ t: 'forget', id: m.id });
      settle();
      return;
    }
    opening.delete(m.id);
    if (stopping || abortedWhileOpening.delete(m.id)) {
      sock.close();
      post({ t: 'forget', id: m.id });
      settle();
      return;
    }
    const s = new ServerSession(hostFor(m.id), m.key, sock, m.peer, m.req);
    sessions.set(m.id, s);
    await s.run();
  };

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'open':
        void open(m);
        return;
      case 'repeat': {
        const s = sessions.get(m.id);
        if (s && !s.finished) s.repeat();
        else if (!opening.has(m.id)) post({ t: 'again', id: m.id, msg: m.msg, peer: m.peer });
        return;
      }
      case 'abort': {
        const s = sessions.get(m.id);
        if (s) void s.abort();
        else if (opening.has(m.id)) abortedWhileOpening.add(m.id);
        return;
      }
      case 'faults':
        faults = m.faults;
        return;
      case 'stop':
        stopping = true;
        for (const s of [...sessions.values()]) void s.abort();
        settle();
        return;
    }
  });
  post({ t: 'ready' });
}

if (parentPort) serve(parentPort, workerData as WorkerData);
