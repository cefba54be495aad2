import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { tempDir } from '../helpers.js';

const ckpt = () => ({ meta: { kind: 'test' }, tensors: { 'conv.weight': { shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6]) }, bias: { shape: [2], values: Float32Array.from([0.5, -0.5]) } } });

describe('checkpoint files', () => {
  it('round-trip, with a checksum of the tensor data', () => {
    const back = decodeCheckpoint(encodeCheckpoint(ckpt()));
    expect(Array.from(back.tensors['conv.weight']!.values)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('four flipped bytes in the tensor data are refused, naming the file', () => {
    const dir = tempDir();
    const f = join(dir, 'checkpoint.bin');
    saveCheckpoint(f, ckpt());
    const buf = readFileSync(f);
    for (let i = buf.length - 8; i < buf.length - 4; i++) buf[i] = buf[i]! ^ 0xff;
    writeFileSync(f, buf);
    expect(() => loadCheckpoint(f)).toThrow(CorruptFileError);
    expect(() => loadCheckpoint(f)).toThrow(`${f}: corrupt file: its tensor data does not match its checksum`);
  });

  it('a damaged header is refused with the file named, not a bare JSON error', () => {
    const dir = tempDir();
    const f = join(dir, 'checkpoint.bin');
    saveCheckpoint(f, ckpt());
    const buf = readFileSync(f);
    buf[13] = 'X'.charCodeAt(0);
    writeFileSync(f, buf);
    expect(() => loadCheckpoint(f)).toThrow(new RegExp(`^${f}: corrupt file: its header is not valid JSON`));
  });

  it('non-finite weights are refused on write and on read, naming the tensor', () => {
    const bad = ckpt();
    bad.tensors.bias.values[1] = NaN;
    expect(() => encodeCheckpoint(bad)).toThrow("tensor 'bias' holds a non-finite value (NaN at 1)");
    // A file written without the check (format of polynas 0.1: no checksum) with an infinite weight.
    const good = encodeCheckpoint(ckpt());
    const hlen = new DataView(good.buffer).getUint32(8, true);
    const header = JSON.parse(Buffer.from(good.subarray(12, 12 + hlen)).toString('utf8'));
    delete header.sha256;
    const h = Buffer.from(JSON.stringify(header).padEnd(hlen, ' '));
    const old = new Uint8Array(good);
    old.set(h, 12);
    new DataView(old.buffer).setFloat32(12 + hlen, Infinity, true);
    expect(() => decodeCheckpoint(old, 'old.bin')).toThrow("old.bin: corrupt file: tensor 'conv.weight' holds a non-finite value (Infinity at index 0)");
  });

  it('files written before checksums load as before', () => {
    const good = encodeCheckpoint(ckpt());
    const hlen = new DataView(good.buffer).getUint32(8, true);
    const header = JSON.parse(Buffer.from(good.subarray(12, 12 + hlen)).toString('utf8'));
    delete header.sha256;
    const old = new Uint8Array(good);
    old.set(Buffer.from(JSON.stringify(header).padEnd(hlen, ' ')), 12);
    expect(Array.from(decodeCheckpoint(old).tensors.bias!.values)).toEqual([0.5, -0.5]);
  });
});
