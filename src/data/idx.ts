import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { ImageDataset } from './dataset.js';

/** A parsed IDX file (the MNIST / Fashion-MNIST container format). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes. */
export function readMaybeGzip(path: string): Buffer {
  const raw = readFileSync(path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new Error(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/**
 * Parses an unsigned-byte IDX file (raw or gzip): magic `00 00 08 nd`, `nd` big-endian 32-bit
 * dimensions, then the data.
 *
 * @example
 * ```ts
 * const labels = readIdx('t10k-labels-idx1-ubyte.gz'); // { dims: [10000], data }
 * ```
 */
export function readIdx(path: string): IdxArray {
  const buf = readMaybeGzip(path);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new Error(`${path}: not an IDX file (bad magic)`);
  if (buf[2] !== 0x08) throw new Error(`${path}: IDX data type 0x${buf[2]!.toString(16)} is not unsigned byte (0x08)`);
  const nd = buf[3]!;
  if (buf.length < 4 + 4 * nd) throw new Error(`${path}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd;
  if (buf.length - start !== count) {
    throw new Error(`${path}: IDX header announces ${count} bytes of data (dims ${dims.join('x')}) but the file has ${buf.length - start}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + start, count) };
}

/**
 * Builds a dataset from an IDX image file `[N,H,W]` and an IDX label file `[N]`.
 *
 * @example
 * ```ts
 * const dir = '/usr/share/datasets/fashion-mnist';
 * const train = readIdxDataset(`${dir}/train-images-idx3-ubyte.gz`, `${dir}/train-labels-idx1-ubyte.gz`, 'fashion-train');
 * ```
 */
export function readIdxDataset(imagesPath: string, labelsPath: string, name: string, numClasses = 10, classNames?: string[]): ImageDataset {
  const img = readIdx(imagesPath);
  const lab = readIdx(labelsPath);
  if (img.dims.length !== 3) throw new Error(`${imagesPath}: expected 3 dimensions [N,H,W], got [${img.dims}]`);
  if (lab.dims.length !== 1) throw new Error(`${labelsPath}: expected 1 dimension [N], got [${lab.dims}]`);
  if (img.dims[0] !== lab.dims[0]) {
    throw new Error(`${imagesPath} has ${img.dims[0]} images but ${labelsPath} has ${lab.dims[0]} labels`);
  }
  const labels = Int32Array.from(lab.data);
  const bad = labels.findIndex((l) => l >= numClasses);
  if (bad >= 0) throw new Error(`${labelsPath}: label ${labels[bad]} at index ${bad} is not below ${numClasses}`);
  return {
    name,
    images: new Uint8Array(img.data),
    labels,
    shape: [img.dims[1]!, img.dims[2]!, 1],
    numClasses,
    ...(classNames ? { classNames } : {}),
  };
}
