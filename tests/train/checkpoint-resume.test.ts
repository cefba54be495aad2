import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { subset } from '../../src/data/dataset.js';
import { channelStats } from '../../src/data/loader.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from '../../src/io/checkpoint.js';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { fit, type TrainConfig } from '../../src/train/trainer.js';
import { tempDir } from '../helpers.js';

describe('checkpoint files', () => {
  it('round-trip metadata and tensors exactly', () => {
    const ckpt = { meta: { epoch: 3, note: 'x' }, tensors: { a: { shape: [2, 2], values: Float32Array.from([1, -2.5, 3e-8, 4]) }, b: { shape: [1], values: Float32Array.from([7]) } } };
    const back = decodeCheckpoint<typeof ckpt.meta>(encodeCheckpoint(ckpt));
    expect(back.meta).toEqual(ckpt.meta);
    expect(back.tensors.a).toEqual(ckpt.tensors.a);
    expect(back.tensors.b).toEqual(ckpt.tensors.b);
  });

  it('reject a foreign or truncated file by name', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.bin'), 'hello world, not a checkpoint');
    expect(() => loadCheckpoint(join(dir, 'x.bin'))).toThrow(`${join(dir, 'x.bin')}: not a polynas checkpoint (bad magic)`);
    const buf = encodeCheckpoint({ meta: {}, tensors: { a: { shape: [4], values: new Float32Array(4) } } });
    expect(() => decodeCheckpoint(buf.subarray(0, buf.length - 4), 'cut')).toThrow('cut: truncated tensor data');
  });

  it('are written atomically: only the final file remains', () => {
    const dir = tempDir();
    writeFileAtomic(join(dir, 'f.json'), 'one');
    writeFileAtomic(join(dir, 'f.json'), 'two');
    expect(readdirSync(dir)).toEqual(['f.json']);
  });
});

describe('interrupted training resumes to the same result', () => {
  const config: TrainConfig = {
    epochs: 2, batchSize: 64, seed: 3,
    optimizer: { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    schedule: { type: 'cosine', lr: 0.05, warmupSteps: 2 },
    augment: { cropPad: 2, flip: false },
    clipNorm: 5,
  };

  it('a run stopped mid-epoch and resumed ends with bit-identical weights and metrics', async () => {
    const all = await loadDataset({ name: 'mnist' });
    const train = subset(all.train, Int32Array.from({ length: 384 }, (_, i) => i * 20), 'mnist-384');
    const test = subset(all.test, Int32Array.from({ length: 200 }, (_, i) => i * 10), 'mnist-test-200');
    const data = { train, test, norm: channelStats(train) };
    const dir = tempDir();

    const straight = createBackbone('lenet5', { numClasses: 10, seed: 1 });
    const a = await fit(straight, data, config, { checkpointPath: join(dir, 'a.bin') });
    expect(a.completed).toBe(true);
    expect(a.steps).toBe(12);

    const controller = new AbortController();
    const first = createBackbone('lenet5', { numClasses: 10, seed: 1 });
    const b1 = await fit(first, data, config, {
      checkpointPath: join(dir, 'b.bin'),
      hooks: { signal: controller.signal, onStep: (e) => e.step === 8 && controller.abort() },
    });
    expect(b1.completed).toBe(false);
    expect(b1.steps).toBe(8);
    first.dispose();

    // A new process would rebuild the model from the recipe (any seed) and resume from the file.
    const second = createBackbone('lenet5', { numClasses: 10, seed: 99 });
    const b2 = await fit(second, data, config, { checkpointPath: join(dir, 'b.bin'), resume: true });
    expect(b2.completed).toBe(true);
    expect(b2.resumedFrom).toEqual({ epoch: 1, batch: 2 });
    expect(b2.steps).toBe(12);
    expect(b2.final).toEqual(a.final);
    const wa = straight.stateDict();
    const wb = second.stateDict();
    for (const k of Object.keys(wa)) expect(wb[k]!.values).toEqual(wa[k]!.values);

    // Changed settings cannot silently resume from the file.
    await expect(fit(second, data, { ...config, batchSize: 32 }, { checkpointPath: join(dir, 'b.bin'), resume: true })).rejects.toThrow(/written for other training settings/);
    straight.dispose();
    second.dispose();
  });
});

describe('run folder lock', () => {
  it('refuses a second live run in the same folder and takes over a stale lock', async () => {
    const { lockRunDir } = await import('../../src/run/run-dir.js');
    const dir = tempDir();
    const release = lockRunDir(dir);
    // Another live process (the test's parent) holding the lock:
    writeFileSync(join(dir, 'run.lock'), String(process.ppid));
    expect(() => lockRunDir(dir)).toThrow(`${dir} is in use by another polynas run (process ${process.ppid})`);
    // A lock left by a process that no longer exists is taken over.
    writeFileSync(join(dir, 'run.lock'), '2147483646');
    const again = lockRunDir(dir);
    again();
    release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is re-entrant within a process: an inner release (a phase inside a study cell) leaves the outer lock held', async () => {
    const { lockRunDir } = await import('../../src/run/run-dir.js');
    const dir = tempDir();
    const outer = lockRunDir(dir);
    const inner = lockRunDir(dir);
    inner();
    inner(); // releasing twice is harmless
    expect(JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8')).pid).toBe(process.pid);
    outer();
    expect(readdirSync(dir)).toEqual([]);
  });
});
