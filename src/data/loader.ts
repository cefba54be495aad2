import seedrandom from 'seedrandom';
import { sampleSize, type ImageDataset } from './dataset.js';

/** A random source in [0,1) derived deterministically from a seed and a label. */
export function rngFor(seed: number, label: string): () => number {
  return seedrandom(`polynas-${seed}-${label}`);
}

/**
 * Fisher–Yates permutation of `0..n-1`, fully determined by `seed` and `label`.
 *
 * @example
 * ```ts
 * seededPermutation(5, 1, 'epoch-0'); // the same 5 indices every time
 * ```
 */
export function seededPermutation(n: number, seed: number, label = 'perm'): Int32Array {
  const rand = rngFor(seed, label);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Splits `0..n-1` at random into disjoint parts of `firstSize` and `n − firstSize` indices, each
 * sorted (e.g. the train/search halves of a bilevel search, or MNIST's train/test split).
 *
 * @example
 * ```ts
 * const { a, b } = seededSplit(5_085, 2_542, 0); // two disjoint index sets, the same for the same seed
 * ```
 */
export function seededSplit(n: number, firstSize: number, seed: number): { a: Int32Array; b: Int32Array } {
  if (!Number.isInteger(firstSize) || firstSize < 0 || firstSize > n) {
    throw new Error(`seededSplit: size ${firstSize} is not an integer in [0, ${n}]`);
  }
  const p = seededPermutation(n, seed, 'split');
  return { a: p.slice(0, firstSize).sort(), b: p.slice(firstSize).sort() };
}

/** Per-channel mean and standard deviation in [0,1] pixel units. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * Per-channel mean and (population) standard deviation of a dataset, in [0,1] units.
 *
 * @example
 * ```ts
 * const norm = channelStats(train); // { mean: [0.1307], std: [0.3081] } for MNIST-like data
 * ```
 */
export function channelStats(ds: ImageDataset): Normalization {
  const c = ds.shape[2];
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  const img = ds.images;
  for (let i = 0; i < img.length; i++) {
    const v = img[i]! / 255;
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  const n = img.length / c;
  const mean = [...sum].map((s) => s / n);
  const std = [...sq].map((s, k) => Math.sqrt(Math.max(s / n - mean[k]! ** 2, 1e-12)));
  return { mean, std };
}

/** Train-time augmentation. */
export interface Augmentation {
  /** Zero-pad by this many pixels and crop back at a random offset (0 = off). CIFAR standard: 4. */
  cropPad: number;
  /** Mirror horizontally with probability 1/2. */
  flip: boolean;
}

/** A batch on the host, ready to become tensors. */
export interface HostBatch {
  /** `n·H·W·C` normalised floats. */
  x: Float32Array;
  /** `n` labels. */
  y: Int32Array;
  /** Sample indices into the dataset. */
  indices: Int32Array;
  n: number;
}

/** Options of {@link batches}. */
export interface BatchOptions {
  batchSize: number;
  norm: Normalization;
  /** Shuffle with a permutation determined by (seed, epoch). Default false. */
  shuffle?: boolean;
  augment?: Augmentation;
  seed?: number;
  epoch?: number;
  /** Drop a last, smaller batch. Default false. */
  dropLast?: boolean;
  /** Start at this batch index (resuming inside an epoch). Default 0. */
  startBatch?: number;
}

/** Number of batches {@link batches} yields. */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Yields normalised (and optionally augmented) batches. Shuffling and augmentation depend only on
 * `(seed, epoch, batch index)`, so a resumed epoch sees the same batches as an uninterrupted one.
 *
 * @example
 * ```ts
 * for (const b of batches(train, { batchSize: 128, norm: channelStats(train), shuffle: true, seed: 0, epoch: 3 })) {
 *   // b.x, b.y
 * }
 * ```
 */
export function* batches(ds: ImageDataset, opts: BatchOptions): Generator<HostBatch> {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
  const n = ds.labels.length;
  const seed = opts.seed ?? 0;
  const epoch = opts.epoch ?? 0;
  const order = opts.shuffle ? seededPermutation(n, seed, `epoch-${epoch}`) : Int32Array.from({ length: n }, (_, i) => i);
  const count = batchCount(n, opts.batchSize, opts.dropLast);
  for (let b = opts.startBatch ?? 0; b < count; b++) {
    const indices = order.slice(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize));
    const rand = opts.augment ? rngFor(seed, `aug-${epoch}-${b}`) : undefined;
    yield makeBatch(ds, indices, opts.norm, opts.augment, rand);
  }
}

/** Builds one batch from sample indices. */
export function makeBatch(ds: ImageDataset, indices: Int32Array, norm: Normalization, augment?: Augmentation, rand?: () => number): HostBatch {
  const [h, w, c] = ds.shape;
  if (norm.mean.length !== c || norm.std.length !== c) {
    throw new Error(`normalization has ${norm.mean.length} channels, dataset '${ds.name}' has ${c}`);
  }
  const s = sampleSize(ds);
  const x = new Float32Array(indices.length * s);
  const y = new Int32Array(indices.length);
  const scale = norm.std.map((sd) => 1 / (255 * sd));
  const shift = norm.mean.map((m, k) => -m / norm.std[k]!);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]! * s;
    y[i] = ds.labels[indices[i]!]!;
    let dy = 0;
    let dx = 0;
    let flip = false;
    if (augment && rand) {
      const p = augment.cropPad;
      if (p > 0) {
        dy = Math.floor(rand() * (2 * p + 1)) - p;
        dx = Math.floor(rand() * (2 * p + 1)) - p;
      }
      flip = augment.flip && rand() < 0.5;
    }
    const dst = i * s;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      for (let col = 0; col < w; col++) {
        const scCol = flip ? w - 1 - col : col;
        const sc = scCol + dx;
        const inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
        const o = dst + (r * w + col) * c;
        const iBase = src + (sr * w + sc) * c;
        for (let k = 0; k < c; k++) x[o + k] = (inside ? ds.images[iBase + k]! : 0) * scale[k]! + shift[k]!;
      }
    }
  }
  return { x, y, indices, n: indices.length };
}
