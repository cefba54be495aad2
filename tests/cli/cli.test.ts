import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TORCH_ADDON_PATH } from '../../src/engine/torch.js';
import { runCli } from '../../src/cli/main.js';
import { tempDir } from '../helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), print: (l: string) => err.push(l), tty: false } };
}

const tinyRecipe = {
  name: 'tiny',
  seed: 2,
  dataset: { name: 'mnist', trainLimit: 256 },
  backbone: { name: 'lenet5' },
  train: { epochs: 1, batchSize: 64, optimizer: { type: 'sgd', momentum: 0.9 }, schedule: { type: 'cosine', lr: 0.05 } },
};

describe('polynas CLI', () => {
  it('train runs a recipe end to end and fills the run folder', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(tinyRecipe));
    const c = capture();
    const code = await runCli(['train', '--recipe', join(dir, 'tiny.json'), '--out', join(dir, 'run')], c.io);
    expect(code).toBe(0);
    expect(c.out.join('\n')).toMatch(/test top-1 \d+\.\d\d %/);
    for (const f of ['recipe.json', 'meta.json', 'log.jsonl', 'metrics.csv', 'checkpoint.bin', 'model.weights.bin', 'summary.md', 'result.json']) {
      expect(existsSync(join(dir, 'run', f)), f).toBe(true);
    }
    const meta = JSON.parse(readFileSync(join(dir, 'run', 'meta.json'), 'utf8'));
    // auto: the LibTorch engine where it is built, else WebAssembly (tfjs-node is not installed here).
    expect(meta.backend).toBe(existsSync(TORCH_ADDON_PATH) ? 'torch' : 'wasm');
    expect(meta.seed).toBe(2);
    expect(meta.trainSize).toBe(256);
    expect(readFileSync(join(dir, 'run', 'metrics.csv'), 'utf8').split('\n')[0]).toBe('epoch,train_loss,test_top1,test_top5,test_loss,lr,seconds');
    const log = readFileSync(join(dir, 'run', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((r) => r.type === 'step')).toHaveLength(4);

    // The folder now holds a checkpoint: a second run must ask for --resume.
    const again = capture();
    expect(await runCli(['train', '--recipe', join(dir, 'tiny.json'), '--out', join(dir, 'run')], again.io)).toBe(1);
    expect(again.err.join('\n')).toContain('already holds a checkpoint\npass --resume to continue that run');

    // Four flipped bytes in the checkpoint: --resume refuses it instead of continuing from garbage.
    const ck = join(dir, 'run', 'checkpoint.bin');
    const buf = readFileSync(ck);
    for (let i = buf.length - 40; i < buf.length - 36; i++) buf[i] = buf[i]! ^ 0x5a;
    writeFileSync(ck, buf);
    const resumed = capture();
    expect(await runCli(['train', '--recipe', join(dir, 'tiny.json'), '--out', join(dir, 'run'), '--resume'], resumed.io)).toBe(1);
    expect(resumed.err.join('\n')).toContain(`${ck}: corrupt file: its tensor data does not match its checksum`);

    // The weights file of an export is not a training run's: evaluate points at the .json.
    const ev = capture();
    const { saveCheckpoint } = await import('../../src/io/checkpoint.js');
    saveCheckpoint(join(dir, 'architecture.weights.bin'), { meta: { kind: 'polynas-architecture-weights', backbone: 'lenet5' }, tensors: {} });
    expect(await runCli(['evaluate', join(dir, 'architecture.weights.bin')], ev.io)).toBe(1);
    expect(ev.err.join('\n')).toContain(`the weights of an exported architecture: evaluate ${join(dir, 'architecture.json')}`);
  });

  it('a bad recipe gives one clear message and exit code 1; --verbose adds the stack', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...tinyRecipe, backbone: { name: 'resnet19' } }));
    const c = capture();
    expect(await runCli(['train', '--recipe', join(dir, 'bad.json'), '--out', join(dir, 'r')], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain(`polynas: error: ${join(dir, 'bad.json')}: backbone.name: unknown backbone 'resnet19'; known:`);
    expect(c.err.join('\n')).not.toContain('    at ');
    const v = capture();
    await runCli(['train', '--recipe', join(dir, 'bad.json'), '--out', join(dir, 'r2'), '--verbose'], v.io);
    expect(v.err.join('\n')).toContain('    at ');
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    const c = capture();
    expect(await runCli(['trian'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/Did you mean train|Unknown argument/);
  });
});
