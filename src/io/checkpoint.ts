import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

const MAGIC = 'PNASCKP1';

/** A serialisable tensor: shape and row-major float32 values. */
export interface TensorState {
  shape: number[];
  values: Float32Array;
}

/** Raised for a weights or checkpoint file that cannot be trusted: its data, header or values are damaged. */
export class CorruptFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: corrupt file: ${reason}`);
    this.name = 'CorruptFileError';
  }
}

/** The first NaN or ±∞ among the tensors, if any. */
function firstNonFinite(tensors: Record<string, TensorState>): { key: string; at: number; value: number } | undefined {
  for (const [key, t] of Object.entries(tensors)) {
    const v = t.values;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return { key, at: i, value: v[i]! };
  }
  return undefined;
}

/** A checkpoint: JSON-serialisable metadata plus named float32 tensors. */
export interface Checkpoint<M = unknown> {
  meta: M;
  tensors: Record<string, TensorState>;
}

/**
 * Serialises a checkpoint into one self-describing file: magic `PNASCKP1`, a 4-byte little-endian
 * header length, a JSON header (metadata, a tensor index and the SHA-256 of the data), then the
 * float32 data. Non-finite values are refused.
 */
export function encodeCheckpoint<M>(ckpt: Checkpoint<M>): Uint8Array {
  const index: { key: string; shape: number[]; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [key, t] of Object.entries(ckpt.tensors)) {
    index.push({ key, shape: t.shape, offset, length: t.values.length });
    offset += t.values.length;
  }
  const values = new Float32Array(offset);
  for (const e of index) values.set(ckpt.tensors[e.key]!.values, e.offset);
  const bad = firstNonFinite(ckpt.tensors);
  if (bad) throw new Error(`checkpoint: tensor '${bad.key}' holds a non-finite value (${bad.value} at ${bad.at}); refusing to write it`);
  const sha256 = createHash('sha256').update(new Uint8Array(values.buffer)).digest('hex');
  const header = Buffer.from(JSON.stringify({ meta: ckpt.meta, index, sha256 }), 'utf8');
  const pre = 8 + 4 + header.length;
  const pad = (4 - (pre % 4)) % 4;
  const out = new Uint8Array(pre + pad + offset * 4);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, header.length + pad, true);
  out.set(header, 12);
  out.fill(0x20, pre, pre + pad); // spaces keep the header valid JSON
  new Float32Array(out.buffer, pre + pad, offset).set(values);
  return out;
}

/** Parses a file written by {@link encodeCheckpoint}. */
export function decodeCheckpoint<M>(buf: Uint8Array, source = 'checkpoint'): Checkpoint<M> {
  if (buf.length < 12 || Buffer.from(buf.subarray(0, 8)).toString('latin1') !== MAGIC) {
    throw new Error(`${source}: not a polynas checkpoint (bad magic)`);
  }
  const copy = new Uint8Array(buf); // aligned copy
  const hlen = new DataView(copy.buffer).getUint32(8, true);
  if (12 + hlen > copy.length) throw new Error(`${source}: truncated header`);
  let header: { meta: M; index: { key: string; shape: number[]; offset: number; length: number }[]; sha256?: string };
  try {
    header = JSON.parse(Buffer.from(copy.subarray(12, 12 + hlen)).toString('utf8')) as typeof header;
  } catch (e) {
    throw new CorruptFileError(source, `its header is not valid JSON (${(e as Error).message})`);
  }
  const base = 12 + hlen;
  const total = header.index.reduce((a, e) => Math.max(a, e.offset + e.length), 0);
  if (base + total * 4 > copy.length) throw new Error(`${source}: truncated tensor data`);
  const data = new Float32Array(copy.buffer, base, total);
  // Files written before checksums were added have none; they are read as before.
  if (header.sha256 !== undefined) {
    const sum = createHash('sha256').update(new Uint8Array(copy.buffer, base, total * 4)).digest('hex');
    if (sum !== header.sha256) throw new CorruptFileError(source, `its tensor data does not match its checksum (sha256 ${sum.slice(0, 12)}…, recorded ${header.sha256.slice(0, 12)}…)`);
  }
  const tensors: Record<string, TensorState> = {};
  for (const e of header.index) tensors[e.key] = { shape: e.shape, values: data.slice(e.offset, e.offset + e.length) };
  const bad = firstNonFinite(tensors);
  if (bad) throw new CorruptFileError(source, `tensor '${bad.key}' holds a non-finite value (${bad.value} at index ${bad.at})`);
  return { meta: header.meta, tensors };
}

/**
 * Writes a checkpoint file atomically.
 *
 * @example
 * ```ts
 * saveCheckpoint('runs/x/weights.bin', { meta: { kind: 'my-weights' }, tensors: net.stateDict() });
 * const back = loadCheckpoint('runs/x/weights.bin');
 * net.loadStateDict(back!.tensors);
 * ```
 */
export function saveCheckpoint<M>(path: string, ckpt: Checkpoint<M>): void {
  writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/**
 * Reads a checkpoint file, or returns undefined when it does not exist.
 *
 * @example
 * ```ts
 * const ckpt = loadCheckpoint<{ kind: string }>('runs/x/checkpoint.bin'); // undefined when absent
 * ```
 */
export function loadCheckpoint<M>(path: string): Checkpoint<M> | undefined {
  if (!existsSync(path)) return undefined;
  return decodeCheckpoint<M>(readFileSync(path), path);
}
