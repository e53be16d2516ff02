import cron from 'node-cron';
import { describe, expect, it, vi } from 'vitest';
import { makeTestRouter } from '../../test/helpers/router.ts';
import { armMaintenanceWindow, cronProblem, nextCronTime } from './MaintenanceWindow.ts';

const next = (expr: string, after: string, offset = 0) => nextCronTime(cron.parse(expr), new Date(after), offset)?.toISOString();

describe('the next time a cron expression names', () => {
  it('weekly, daily, stepped, and strictly after the given time', () => {
    expect(next('0 2 * * 6', '2026-11-25T22:00:00Z')).toBe('2026-11-28T02:00:00.000Z');
    expect(next('0 2 * * 6', '2026-11-28T02:00:00Z')).toBe('2026-12-05T02:00:00.000Z');
    expect(next('*/30 1-3 * * *', '2026-11-25T01:10:00Z')).toBe('2026-11-25T01:30:00.000Z');
    expect(next('15 4 1 * *', '2026-11-25T00:00:00Z')).toBe('2026-12-01T04:15:00.000Z');
  });

  it("day of month and day of week both restricted: either matches (cron's rule)", () => {
    // 2026-12-01 is a Tuesday; the 13th is a Sunday: Friday the 4th comes first.
    expect(next('0 0 13 * 5', '2026-12-01T12:00:00Z')).toBe('2026-12-04T00:00:00.000Z');
  });

  it("reads the calendar in the router's time zone", () => {
    // 02:00 at UTC+2 is 00:00 UTC.
    expect(next('0 2 * * *', '2026-11-25T12:00:00Z', 120)).toBe('2026-11-26T00:00:00.000Z');
  });

  it('a date that never comes and a bad field are refused by node-cron', () => {
    expect(cronProblem('0 0 31 2 *')).toBeDefined();
    expect(cronProblem('61 * * * *')).toContain('61 is a invalid expression for minute');
    expect(cronProblem('0 2 * * 6')).toBeUndefined();
  });
});

describe('a maintenance window on the lab clock', () => {
  it('runs its lines when the lab clock reaches each slot, and not before', async () => {
    const t = await makeTestRouter();
    const stop = armMaintenanceWindow(t.router, { cron: '0 * * * *', commands: ['configure terminal', 'hostname WINDOW', 'end'] });
    t.clock.advance(59 * 60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.router.system.hostname).toBe('R1');
    t.clock.advance(60_000);
    await vi.waitFor(() => expect(t.router.system.hostname).toBe('WINDOW'));
    expect(await t.run('show logging')).toContain('%SYS-6-MAINTENANCE_WINDOW: Maintenance window "0 * * * *" opened');
    stop();
  });
});
