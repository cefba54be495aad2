import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { capture, tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');
/** The shipped LeNet-5 search recipe in a temp folder (absolute space path), optionally edited. */
function recipe(dir: string, edit: (r: Record<string, any>) => void = () => {}): string {
  const r = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
  r.space = join(root, 'search-spaces', 'lenet5-pixel.json');
  edit(r);
  const f = join(dir, 'r.json');
  writeFileSync(f, JSON.stringify(r));
  return f;
}

describe('bad input fails before any training', () => {
  it('a budget above the exact searchable ReLU count, or negative, is refused before the teacher trains', async () => {
    const dir = tempDir();
    const f = recipe(dir);
    for (const [budget, msg] of [['7000', `${f}: search.budget: budget 7000 exceeds the network's 6508 ReLUs`], ['-5', 'search.budget: Too small: expected number to be >=0 (got -5)']] as const) {
      const c = capture();
      const t0 = Date.now();
      expect(await runCli(['search', '--recipe', f, '--out', join(dir, `run${budget}`), '--budget', budget], c.io)).toBe(1);
      expect(c.err.join('\n')).toContain(msg);
      expect(existsSync(join(dir, `run${budget}`, 'teacher'))).toBe(false);
      expect(Date.now() - t0).toBeLessThan(20_000);
    }
  });

  it('--dry-run applies every override and exits non-zero on any problem', async () => {
    const dir = tempDir();
    const f = recipe(dir);
    const bad = capture();
    expect(await runCli(['search', '--recipe', f, '--dry-run', '--budget', '7000'], bad.io)).toBe(1);
    expect(bad.err.join('\n')).toContain("search.budget: budget 7000 exceeds the network's 6508 ReLUs");
    const abc = capture();
    expect(await runCli(['sweep', '--recipe', f, '--dry-run', '--budgets', '10,abc'], abc.io)).not.toBe(0);
    expect(abc.err.join('\n')).toContain("--budgets: 'abc' is not a budget");
    const sweep = capture();
    expect(await runCli(['sweep', '--recipe', f, '--dry-run', '--budgets', '10,0.5,9000'], sweep.io)).toBe(1);
    expect(sweep.err.join('\n')).toContain("sweep.budgets.2: budget 9000 exceeds the network's 6508 ReLUs");
    const good = capture();
    expect(await runCli(['search', '--recipe', f, '--dry-run', '--budget', '0.1', '--seed', '3'], good.io)).toBe(0);
    expect(JSON.parse(good.out.join('\n')).budgets).toEqual([650]);
  });

  it('missing dataset files are reported before training, with the folder named', async () => {
    const dir = tempDir();
    const f = recipe(dir, (r) => {
      r.dataset = { name: 'cifar10', download: false };
      r.backbone = { name: 'resnet20' };
      r.space = 'resnet20-pixel';
    });
    const c = capture();
    expect(await runCli(['search', '--recipe', f, '--out', join(dir, 'run'), '--data-dir', join(dir, 'nothing-here')], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain(`dataset 'cifar10': files not found in ${join(dir, 'nothing-here')}`);
    expect(existsSync(join(dir, 'run', 'teacher'))).toBe(false);
  });

  it('a candidate the latency table cannot price is an error unless latency.allowUnpriced; unmodelled-on-purpose operators are noted', async () => {
    const dir = tempDir();
    const table = JSON.parse(readFileSync(join(root, 'latency-tables', 'pasnet-dac2023-code.json'), 'utf8'));
    delete table.ops.poly2;
    table.id = 'no-poly2';
    writeFileSync(join(dir, 'no-poly2.json'), JSON.stringify(table));
    const f = recipe(dir, (r) => (r.latency = { table: join(dir, 'no-poly2.json') }));
    const c = capture();
    expect(await runCli(['search', '--recipe', f, '--dry-run'], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain("latency.table: table 'no-poly2' has no entry for 'poly2' (candidate 'poly2' of space 'lenet5-pixel')");
    const ok = recipe(dir, (r) => (r.latency = { table: join(dir, 'no-poly2.json'), allowUnpriced: true }));
    const d = capture();
    expect(await runCli(['search', '--recipe', ok, '--dry-run'], d.io)).toBe(0);
    expect(JSON.parse(d.out.join('\n')).notes).toEqual(["table 'no-poly2' does not price candidate 'poly2' (latency.allowUnpriced): the predicted latency leaves it out"]);
    const cheetah = recipe(dir, (r) => (r.latency = { table: 'cheetah-approxrelu-r50' }));
    const e = capture();
    expect(await runCli(['search', '--recipe', cheetah, '--dry-run'], e.io)).toBe(0);
    expect(JSON.parse(e.out.join('\n')).notes).toEqual(["table 'cheetah-approxrelu-r50' leaves 'poly2' unmodelled on purpose: the predicted latency leaves it out"]);
  });

  it('teacher weights of another class count are refused, naming the file', async () => {
    const dir = tempDir();
    const { saveCheckpoint } = await import('../../src/io/checkpoint.js');
    saveCheckpoint(join(dir, 'model.weights.bin'), { meta: { kind: 'polynas-weights', backbone: 'lenet5', numClasses: 100, inputShape: [28, 28, 1], normalization: { mean: [0.1], std: [0.3] }, seed: 0 }, tensors: {} });
    const f = recipe(dir, (r) => (r.teacher = { weights: dir }));
    const c = capture();
    expect(await runCli(['search', '--recipe', f, '--dry-run'], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain(`teacher.weights: the teacher at ${join(dir, 'model.weights.bin')} has 100 classes but dataset 'mnist' has 10`);
  });
});
