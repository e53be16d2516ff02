/**
 * The engine adapter against a real engine (Podman's Docker-compatible socket in CI):
 * labelled objects are made, found by label and removed; engine failures come back as one
 * line in the engine's own words.
 */
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContainerEngine, EngineError, LAB_LABEL, demux } from '../../lab/runtime/container/engine.ts';
import { containersRequired, engineProblem, uniqueLabName } from '../helpers/engine.ts';

const problem = await engineProblem();

describe('engine adapter without an engine', () => {
  it('names the address and the socket error when nothing listens there', async () => {
    const e = new ContainerEngine('unix:///tmp/flashlab-no-such-engine.sock');
    const err = await e.ping().then(() => undefined, (x: unknown) => x);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toMatch(/^no container engine at unix:\/\/\/tmp\/flashlab-no-such-engine\.sock \(.*ENOENT.*\)/);
  });

  it('demultiplexes framed engine output and leaves plain text alone', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    expect(demux(Buffer.concat([frame(1, 'out '), frame(2, 'err')]))).toBe('out err');
    expect(demux(Buffer.from('plain text'))).toBe('plain text');
  });
});

describe('container engine', () => {
  it.runIf(containersRequired)('is there (CI requires one)', () => {
    expect(problem).toBeUndefined();
  });
});

describe.skipIf(problem !== undefined)(`engine adapter${problem ? ` (skipped: ${problem})` : ''}`, () => {
  it('makes a labelled network and volume, lists them by label, removes them', async () => {
    const engine = new ContainerEngine();
    const lab = uniqueLabName('eng');
    const labels = { [LAB_LABEL]: lab };
    const net = `flashlab-${lab}`;
    const vol = `flashlab-${lab}-state`;
    try {
      await engine.createNetwork({ name: net, subnet: `10.214.${randomInt(200, 255)}.0/24`, labels });
      await engine.createVolume(vol, labels);
      expect(await engine.labObjects(lab)).toEqual({ containers: [], networks: [net], volumes: [vol] });
    } finally {
      await engine.removeNetwork(net);
      await engine.removeVolume(vol);
    }
    expect(await engine.labObjects(lab)).toEqual({ containers: [], networks: [], volumes: [] });
    // Removing what is gone is not an error (down after a crash).
    await engine.removeVolume(vol);
  });

  it("reports the engine's own refusal in one line", async () => {
    const engine = new ContainerEngine();
    const err = await engine.state('flashlab-no-such-container').then(() => undefined, (x: unknown) => x);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).status).toBe(404);
    expect((err as Error).message).toMatch(/^container engine: inspect flashlab-no-such-container: .*no such container/i);
    expect((err as Error).message).not.toContain('\n');
  });
});
