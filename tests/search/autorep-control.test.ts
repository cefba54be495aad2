import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { autorepTarget } from '../../src/search/strategies/autorep.js';
import { projectToBudget } from '../../src/search/budget.js';
import { hysteresisSte } from '../../src/supernet/mask-rules.js';
import type { MaskGate } from '../../src/supernet/mask-gate.js';

describe('AutoReP budget control', () => {
  const o = { searchable: 188_416, budget: 1_884, annealSteps: 1_000 };

  it('the geometric target gives each decade equal time: the last decade before 1 % gets half the annealing, the linear one 9 %', () => {
    const geo = { ...o, schedule: 'geometric' as const };
    expect(autorepTarget(0, geo)).toBeCloseTo(188_416, 6);
    expect(autorepTarget(500, geo)).toBeCloseTo(Math.sqrt(188_416 * 1_884), 6); // 18,841 ≈ 10·B at half time
    expect(autorepTarget(1_000, geo)).toBe(1_884);
    expect(autorepTarget(5_000, geo)).toBe(1_884);
    // Steps the linear schedule spends between 10·B and B: (10B − B)/(N − B) of the annealing = 9.1 %.
    const lin = { ...o, schedule: 'linear' as const };
    const firstBelow = (sched: typeof lin | typeof geo) => Array.from({ length: 1001 }, (_, i) => i).find((i) => autorepTarget(i, sched) <= 10 * 1_884)!;
    expect(1_000 - firstBelow(lin)).toBe(90); // the first step at or below 10·B is ⌈1000·(1 − 0.0909)⌉ = 910
    expect(Math.abs(1_000 - firstBelow(geo) - 500)).toBeLessThanOrEqual(1); // N/B ≈ 100: two decades, one in each half
  });

  it('an all-polynomial budget anneals to one ReLU, then holds 0', () => {
    const zero = { ...o, budget: 0, schedule: 'geometric' as const };
    expect(autorepTarget(999, zero)).toBeGreaterThan(1);
    expect(autorepTarget(999, zero)).toBeLessThan(1.02);
    expect(autorepTarget(1_000, zero)).toBe(0);
  });

  it('the projection ranks by (mask, α): units the search kept come first, whatever their α', () => {
    const gate = { mask: tf.tensor1d([1, 0, 1, 0]), alpha: tf.tensor1d([-0.001, 0.002, 0.5, 0.9]) } as unknown as MaskGate;
    const scores = hysteresisSte.scores(gate);
    const { keep, count } = projectToBudget([{ scores: () => scores, unitSize: () => 1 }], 2);
    // α alone would keep units 3 and 2; the masks say 0 and 2.
    expect(Array.from(keep[0]!)).toEqual([1, 0, 1, 0]);
    expect(count).toBe(2);
    // With room for three, the best replaced unit (α 0.9) comes next.
    expect(Array.from(projectToBudget([{ scores: () => scores, unitSize: () => 1 }], 3).keep[0]!)).toEqual([1, 0, 1, 1]);
    tf.dispose([(gate as unknown as { mask: tf.Tensor }).mask, (gate as unknown as { alpha: tf.Tensor }).alpha]);
  });
});

describe('offset control', () => {
  it('moves every band by one offset so that the count meets the target, pixels and larger units alike', async () => {
    const { createBackbone } = await import('../../src/backbones/registry.js');
    const { parseSearchSpace } = await import('../../src/spec/space.js');
    const { buildSupernet } = await import('../../src/supernet/build.js');
    const { setOffset } = await import('../../src/search/strategies/autorep.js');
    for (const granularity of ['pixel', 'channel'] as const) {
      const net = createBackbone('lenet5', { numClasses: 10 });
      const gates = (await buildSupernet(net, parseSearchSpace({ name: 'p', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity } }), { gate: 'mask', seed: 0 })) as import('../../src/supernet/gate.js').PlacedGate<MaskGate>[];
      for (const target of [3000, 500, 0]) {
        setOffset(gates, target);
        for (const { gate } of gates) {
          gate.threshold = 0; // no band: the mask is [α > c] exactly
          tf.tidy(() => gate.mask.assign(tf.onesLike(gate.mask)));
          gate.updateMask();
        }
        const count = gates.reduce((a, g) => a + g.gate.reluCount(), 0);
        // Pixels meet it exactly; channels (units of 784 … 1 elements at LeNet's sites) stay at or under it by less than the largest unit.
        if (granularity === 'pixel') expect(count).toBe(target);
        else expect(target - count).toBeGreaterThanOrEqual(0), expect(target - count).toBeLessThan(28 * 28);
      }
      net.dispose();
    }
  });
});
