import { describe, expect, it } from 'vitest';
import { Eta, fmtSeconds } from '../../src/cli/progress.js';

describe('progress ETA', () => {
  it('formats durations without a 60-second minute', () => {
    expect(fmtSeconds(659.6)).toBe('11m00s');
    expect(fmtSeconds(59.6)).toBe('1m00s');
    expect(fmtSeconds(42.2)).toBe('42s');
    expect(fmtSeconds(3 * 3600 + 125)).toBe('3h02m');
    expect(fmtSeconds(NaN)).toBe('?');
  });

  it('times the steps from the first one seen, so start-up does not count as step time', () => {
    let t = 0;
    const eta = new Eta(() => t);
    t = 120_000; // two minutes of start-up and calibration before the first step ends
    expect(eta.after(1, 1000)).toBeUndefined();
    t += 49 * 1500; // then 1.5 s per step
    expect(eta.after(50, 1000)).toBeCloseTo(950 * 1.5, 6);
  });
});
