import { describe, expect, it } from 'vitest';
import type { ImageDataset } from '../../src/data/dataset.js';
import { batches, channelStats, makeBatch, seededPermutation, seededSplit } from '../../src/data/loader.js';

/** 4 images of 2×3×2 whose pixel value encodes (image, row, col, channel). */
function tiny(): ImageDataset {
  const images = new Uint8Array(4 * 2 * 3 * 2);
  for (let n = 0; n < 4; n++) for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 2; k++) images[((n * 2 + r) * 3 + c) * 2 + k] = n * 100 + r * 10 + c + k * 50;
  return { name: 'tiny', images, labels: Int32Array.from([0, 1, 2, 1]), shape: [2, 3, 2], numClasses: 3 };
}

const identity = { mean: [0, 0], std: [1 / 255, 1 / 255] }; // x = raw byte value

describe('seeded shuffling and splits', () => {
  it('permutations are reproducible, seed-dependent and complete', () => {
    const a = seededPermutation(1000, 7, 'x');
    expect(a).toEqual(seededPermutation(1000, 7, 'x'));
    expect(a).not.toEqual(seededPermutation(1000, 8, 'x'));
    expect([...a].sort((p, q) => p - q)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('a split is disjoint, covers all indices and has the asked sizes', () => {
    const { a, b } = seededSplit(101, 50, 3);
    expect(a.length).toBe(50);
    expect(b.length).toBe(51);
    expect(new Set([...a, ...b]).size).toBe(101);
    expect(() => seededSplit(10, 11, 0)).toThrow('seededSplit: size 11 is not an integer in [0, 10]');
  });
});

describe('normalisation and augmentation', () => {
  it('channel statistics match a hand computation', () => {
    const ds: ImageDataset = { name: 's', images: Uint8Array.from([0, 255, 255, 255]), labels: Int32Array.from([0, 0]), shape: [1, 1, 2], numClasses: 1 };
    // channel 0: {0, 1} → mean 0.5, std 0.5; channel 1: {1, 1} → mean 1, std 0 (floored at 1e-6).
    const s = channelStats(ds);
    expect(s.mean).toEqual([0.5, 1]);
    expect(s.std[0]).toBeCloseTo(0.5, 10);
    expect(s.std[1]).toBeLessThan(1e-5);
  });

  it('normalises as (x/255 − mean)/std', () => {
    const b = makeBatch(tiny(), Int32Array.from([1]), { mean: [0.5, 0.25], std: [0.5, 0.25] });
    expect(b.x[0]).toBeCloseTo((100 / 255 - 0.5) / 0.5, 6);
    expect(b.x[1]).toBeCloseTo((150 / 255 - 0.25) / 0.25, 6);
  });

  it('random crop shifts the image with zero padding and flip mirrors columns', () => {
    const ds = tiny();
    // rand sequence → dy = floor(0.99·3) − 1 = 1, dx = floor(0·3) − 1 = −1, no flip (0.9 ≥ 0.5).
    const seq = [0.99, 0, 0.9];
    const b = makeBatch(ds, Int32Array.from([0]), identity, { cropPad: 1, flip: true }, () => seq.shift()!);
    const at = (r: number, c: number, k: number) => b.x[(r * 3 + c) * 2 + k];
    expect(at(0, 1, 0)).toBeCloseTo(10 + 0, 4); // output (0,1) ← source (1,0)
    expect(at(0, 0, 0)).toBe(0); // source column −1 is padding
    expect(at(1, 2, 0)).toBe(0); // source row 2 is padding
    const f = makeBatch(ds, Int32Array.from([0]), identity, { cropPad: 0, flip: true }, () => 0.1);
    expect(f.x[0]).toBeCloseTo(2, 4); // output (0,0) ← source (0,2)
  });

  it('batches depend only on (seed, epoch, batch): a resumed epoch yields the same batches', () => {
    const ds = tiny();
    const opts = { batchSize: 2, norm: identity, shuffle: true, seed: 4, epoch: 2, augment: { cropPad: 1, flip: true } };
    const all = [...batches(ds, opts)];
    const resumed = [...batches(ds, { ...opts, startBatch: 1 })];
    expect(resumed[0]!.x).toEqual(all[1]!.x);
    expect(resumed[0]!.y).toEqual(all[1]!.y);
    const otherEpoch = [...batches(ds, { ...opts, epoch: 3 })];
    expect(otherEpoch.map((b) => Array.from(b.indices))).not.toEqual(all.map((b) => Array.from(b.indices)));
    expect([...batches(ds, { batchSize: 3, norm: identity, dropLast: true })]).toHaveLength(1);
  });
});
