import { readFileSync } from 'node:fs';
import type { ImageDataset } from './dataset.js';

const PIXELS = 32 * 32;
const IMAGE_BYTES = 3 * PIXELS;

/** Label layout of a CIFAR binary file: CIFAR-10 has one label byte, CIFAR-100 two (coarse, fine). */
export type CifarVariant = 'cifar10' | 'cifar100-fine' | 'cifar100-coarse';

const LAYOUT: Record<CifarVariant, { labelBytes: number; labelIndex: number; classes: number }> = {
  cifar10: { labelBytes: 1, labelIndex: 0, classes: 10 },
  'cifar100-coarse': { labelBytes: 2, labelIndex: 0, classes: 20 },
  'cifar100-fine': { labelBytes: 2, labelIndex: 1, classes: 100 },
};

/**
 * Reads CIFAR binary files (each record: label byte(s), then 1024 red, 1024 green, 1024 blue bytes,
 * row-major 32×32) into one NHWC dataset. Any record count is accepted.
 *
 * @example
 * ```ts
 * const test = readCifarBinary(['cifar-10-batches-bin/test_batch.bin'], 'cifar10', 'cifar10/test');
 * ```
 */
export function readCifarBinary(paths: string[], variant: CifarVariant, name: string, classNames?: string[]): ImageDataset {
  const { labelBytes, labelIndex, classes } = LAYOUT[variant];
  const record = labelBytes + IMAGE_BYTES;
  const bufs = paths.map((p) => {
    const b = readFileSync(p);
    if (b.length === 0 || b.length % record !== 0) {
      throw new Error(`${p}: size ${b.length} is not a multiple of the ${variant} record size ${record}`);
    }
    return { p, b };
  });
  const n = bufs.reduce((a, { b }) => a + b.length / record, 0);
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  let i = 0;
  for (const { p, b } of bufs) {
    for (let off = 0; off < b.length; off += record, i++) {
      const label = b[off + labelIndex]!;
      if (label >= classes) throw new Error(`${p}: record ${off / record} has label ${label}, not below ${classes}`);
      labels[i] = label;
      const src = off + labelBytes;
      const dst = i * IMAGE_BYTES;
      for (let px = 0; px < PIXELS; px++) {
        images[dst + 3 * px] = b[src + px]!;
        images[dst + 3 * px + 1] = b[src + PIXELS + px]!;
        images[dst + 3 * px + 2] = b[src + 2 * PIXELS + px]!;
      }
    }
  }
  return { name, images, labels, shape: [32, 32, 3], numClasses: classes, ...(classNames ? { classNames } : {}) };
}
