/** The lab clock on its own: a frozen clock starts exactly where it was told to. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LabClock } from './LabClock.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('LabClock', () => {
  it('a frozen clock reads exactly its start even when the host clock ticks while it is made', () => {
    // A host clock that moves a millisecond at every reading: a busy machine can preempt the
    // constructor between two readings, and `show clock` then said 10:00:00.001.
    let host = Date.parse('2026-12-02T03:00:00.000Z');
    vi.spyOn(Date, 'now').mockImplementation(() => host++);
    const start = new Date('2026-11-25T10:00:00.000Z');
    const c = new LabClock({ start, frozen: true });
    expect(c.now().toISOString()).toBe('2026-11-25T10:00:00.000Z');
    c.dispose();
  });
});
