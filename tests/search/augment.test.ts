import { describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { batches } from '../../src/data/loader.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { getStrategy } from '../../src/search/strategy.js';
import '../../src/search/strategies/index.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import type { SearchContext } from '../../src/search/strategy.js';

/** 64 random 32×32×3 images: a crop or flip changes almost every pixel. */
function images(): ImageDataset {
  const rand = seedrandom('augment-test');
  const n = 64;
  return {
    name: 'random/train', images: Uint8Array.from({ length: n * 32 * 32 * 3 }, () => Math.floor(rand() * 256)),
    labels: Int32Array.from({ length: n }, (_, i) => i % 10), shape: [32, 32, 3], numClasses: 10,
  };
}

const norm = { mean: [0, 0, 0], std: [1, 1, 1] };
const space = parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } });

describe('search batches are augmented as the references augment them', () => {
  for (const name of ['autorep', 'snl', 'darts']) {
    it(`${name}: 'auto' resolves to crop (pad 4) and flip on 32-pixel images, none on 28-pixel digits, and the batches it yields differ from the raw images`, () => {
      const strategy = getStrategy(name);
      const section = strategy.section.parse({ strategy: name, budget: 100, epochs: 1, batchSize: 16 });
      const s = strategy.normalize!(section, { space, imageShape: [32, 32, 3] }) as unknown as { augment: unknown };
      expect(s.augment).toEqual({ cropPad: 4, flip: true });
      expect((strategy.normalize!(section, { space, imageShape: [28, 28, 1] }) as unknown as { augment: unknown }).augment).toBe(false);
      const train = images();
      const ctx = { data: { train, test: train, norm }, seed: 0 } as unknown as SearchContext;
      const half = { train, search: train };
      const stream = strategy.batches({ ctx, s: section, halves: half } as never, 0) as unknown as Iterator<{ x: Float32Array; indices: Int32Array }[]>;
      const first = stream.next().value!;
      // Every stream of the step (DARTS: both halves) is augmented: its images are not the raw ones.
      for (const b of first) {
        const raw = batches(train, { batchSize: 16, norm, shuffle: false }).next().value!;
        const same = Array.from(b.indices).every((idx, j) => {
          const k = Array.from(raw.indices).indexOf(idx);
          if (k < 0) return true;
          const size = 32 * 32 * 3;
          return raw.x.subarray(k * size, (k + 1) * size).every((v: number, p: number) => v === b.x[j * size + p]);
        });
        expect(same).toBe(false);
      }
    });
  }
});
