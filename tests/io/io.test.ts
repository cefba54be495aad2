import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { cacheDir, EnvError, envInt, torchThreadsFromEnv, wasmThreadsFromEnv } from '../../src/io/env.js';
import { readJsonAs, readJsonFile } from '../../src/io/json.js';
import { TrainResultFileSchema } from '../../src/spec/result.js';
import { tempDir } from '../helpers.js';

describe('environment variables', () => {
  it('thread counts are integers in range, and a bad value names the variable and the value', () => {
    expect(torchThreadsFromEnv({ POLYNAS_TORCH_THREADS: '4' })).toBe(4);
    expect(torchThreadsFromEnv({})).toBeUndefined();
    expect(torchThreadsFromEnv({ POLYNAS_TORCH_THREADS: ' ' })).toBeUndefined();
    expect(() => torchThreadsFromEnv({ POLYNAS_TORCH_THREADS: 'x' })).toThrow(EnvError);
    expect(() => torchThreadsFromEnv({ POLYNAS_TORCH_THREADS: 'x' })).toThrow("POLYNAS_TORCH_THREADS: expected an integer in [1, 256], got 'x'");
    expect(() => wasmThreadsFromEnv({ POLYNAS_WASM_THREADS: '65' })).toThrow("POLYNAS_WASM_THREADS: expected an integer in [1, 64], got '65'");
    expect(() => envInt('N', 0, 3, { N: '2.5' })).toThrow("N: expected an integer in [0, 3], got '2.5'");
  });

  it('one cache folder for downloads and generated files', () => {
    expect(cacheDir({ POLYNAS_CACHE_DIR: '/tmp/c' })).toBe('/tmp/c');
    expect(cacheDir({})).toMatch(/\.cache\/polynas$/);
  });
});

describe('atomic writes and JSON reading', () => {
  it('a failed write leaves neither a partial file nor its temp file', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'taken'));
    expect(() => writeFileAtomic(join(dir, 'taken'), 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    writeFileAtomic(join(dir, 'a', 'b.json'), '{"ok":1}');
    expect(readFileSync(join(dir, 'a', 'b.json'), 'utf8')).toBe('{"ok":1}');
    expect(readdirSync(join(dir, 'a'))).toEqual(['b.json']);
  });

  it('names the file and the field of bad JSON', () => {
    const dir = tempDir();
    writeFileAtomic(join(dir, 'r.json'), '{ "final": ');
    expect(() => readJsonFile(join(dir, 'r.json'), 'training result')).toThrow(`${join(dir, 'r.json')}: cannot read training result`);
    writeFileAtomic(join(dir, 'r.json'), JSON.stringify({ final: { top1: 1, top5: 1, loss: 0, n: 1 }, epochs: 'two', steps: 1, trainSeconds: 1, backend: 'cpu' }));
    expect(() => readJsonAs(join(dir, 'r.json'), TrainResultFileSchema, 'training result')).toThrow(/epochs: .*\(got "two"\)/);
    expect(existsSync(join(dir, 'r.json'))).toBe(true);
  });
});
