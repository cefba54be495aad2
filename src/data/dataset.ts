/**
 * An in-memory labelled image set: 8-bit pixels in NHWC order (the layout of every reader), so that
 * 50,000 CIFAR images take 150 MB rather than 600 MB; batches are converted to float on the fly.
 */
export interface ImageDataset {
  /** Short name, e.g. `cifar10/train`. */
  name: string;
  /** `N·H·W·C` bytes, row-major NHWC. */
  images: Uint8Array;
  /** `N` labels in `[0, numClasses)`. */
  labels: Int32Array;
  /** Per-sample shape `[H, W, C]`. */
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
}

/** A train and a test set. */
export interface DatasetSplits {
  train: ImageDataset;
  test: ImageDataset;
}


/** Bytes per sample. */
export function sampleSize(ds: ImageDataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/**
 * The samples at `indices`, copied, in that order.
 *
 * @example
 * ```ts
 * const small = subset(train, Int32Array.from({ length: 640 }, (_, i) => i), 'train-640');
 * ```
 */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const s = sampleSize(ds);
  const images = new Uint8Array(indices.length * s);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    if (j < 0 || j >= ds.labels.length) throw new Error(`subset: index ${j} out of range [0, ${ds.labels.length})`);
    images.set(ds.images.subarray(j * s, (j + 1) * s), i * s);
    labels[i] = ds.labels[j]!;
  }
  return { ...ds, name, images, labels };
}

/** Concatenates datasets of the same shape and class count. */
export function concat(parts: ImageDataset[], name: string): ImageDataset {
  const first = parts[0];
  if (!first) throw new Error('concat: no datasets');
  for (const p of parts) {
    if (p.shape.join('x') !== first.shape.join('x') || p.numClasses !== first.numClasses) {
      throw new Error(`concat: '${p.name}' has shape ${p.shape.join('x')}/${p.numClasses} classes, expected ${first.shape.join('x')}/${first.numClasses}`);
    }
  }
  const n = parts.reduce((a, p) => a + p.labels.length, 0);
  const images = new Uint8Array(n * sampleSize(first));
  const labels = new Int32Array(n);
  let off = 0;
  for (const p of parts) {
    images.set(p.images, off * sampleSize(first));
    labels.set(p.labels, off);
    off += p.labels.length;
  }
  return { ...first, name, images, labels };
}

/**
 * Samples per class.
 *
 * @example
 * ```ts
 * classCounts(test); // per-class sample counts, e.g. [102, 98, …]
 * ```
 */
export function classCounts(ds: ImageDataset): number[] {
  const c = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) c[l]!++;
  return c;
}
