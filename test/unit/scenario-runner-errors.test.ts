/**
 * A lab that stops answering between its start and the first step (an agent gone, a socket
 * reset) makes that scenario an error, with every step skipped — never a pass with no steps,
 * and never the end of the whole run: the next scenario runs as usual.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalNodeHandle } from '../../lab/runtime/local.ts';
import { DEFAULT_SCENARIOS, loadScenario } from '../../lab/scenario/load.ts';
import { runScenario } from '../../lab/scenario/runner.ts';
import { randomLabSubnet } from '../helpers/net.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('scenario runner, a lab that does not answer', () => {
  it('reports the scenario as an error with its steps skipped, and the next one runs', { timeout: 120_000 }, async () => {
    const scenario = loadScenario(join(DEFAULT_SCENARIOS, 'fail-low-flash.yml'));
    vi.spyOn(LocalNodeHandle.prototype, 'routerStatus').mockRejectedValueOnce(new Error('r1: node agent unreachable (EPIPE)'));
    const broken = await runScenario(scenario, { subnet: randomLabSubnet() });
    expect(broken.status).toBe('error');
    expect(broken.error).toBe('lab did not answer: r1: node agent unreachable (EPIPE)');
    expect(broken.steps).toHaveLength(scenario.steps.length);
    expect(broken.steps.every((s) => s.status === 'skipped')).toBe(true);

    const next = await runScenario(scenario, { subnet: randomLabSubnet() });
    expect(next.error).toBeUndefined();
    expect(next.status).toBe('passed');
  });
});
