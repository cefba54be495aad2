import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadArchitecture } from '../../src/export/architecture.js';
import { loadDataset } from '../../src/data/datasets.js';
import { evaluate } from '../../src/train/metrics.js';
import { tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');

describe('polynas search (end to end on real digits)', () => {
  it('trains a teacher, searches, meets the budget exactly, finetunes and exports; a resumed run restores the search', async () => {
    const dir = tempDir();
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    recipe.dataset.trainLimit = 640;
    recipe.teacher.train.epochs = 1;
    recipe.search.epochs = 1;
    recipe.finetune.epochs = 1;
    recipe.space = join(root, 'search-spaces', 'lenet5-pixel.json');
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), print: (l: string) => err.push(l), tty: false };
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run'), '--budget', '300'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/budget 300: \d+ ReLUs before projection, 300 exported/);
    const arch = JSON.parse(readFileSync(join(dir, 'run', 'architecture.json'), 'utf8'));
    expect(arch.relus.total).toBe(300);
    expect(arch.latency.table).toBe('crypten-2pc-dealer');
    for (const f of ['summary.md', 'log.jsonl', 'meta.json', 'search.bin', 'architecture.weights.bin', 'teacher/model.weights.bin']) expect(existsSync(join(dir, 'run', f)), f).toBe(true);
    const again: string[] = [];
    const errs: string[] = [];
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run'), '--budget', '300', '--resume'], { out: (l) => again.push(l), print: (l) => errs.push(l), tty: false })).toBe(0);
    expect(errs).toContain('== search (restored)');
    expect(again.join('\n')).toContain('300 exported');

    // recipe.json is the configuration that ran: the real budget, every default, the overrides, the resolved values.
    const used = JSON.parse(readFileSync(join(dir, 'run', 'recipe.json'), 'utf8'));
    expect(used.search).toEqual({
      strategy: 'autorep', budget: 300, epochs: 1, batchSize: 64, countMaxPool: false, lr: 1e-3, minLr: 1e-5, alphaLr: 'auto', alphaSchedule: 'cosine',
      budgetControl: 'offset', lambda: 'auto', pressureMax: 16, pressureMin: -1, pressureRate: 0.5, annealFraction: 0.6, targetSchedule: 'geometric',
      temperature: 4, distillWeight: 1, latencyWeight: 0, latencySmoothing: 0.25, dapaEvery: 10, dapaUntil: 500, dapaDamping: [0.2, 1, 0.1], threshold: 'auto', augment: false,
    });
    expect(used.overrides).toEqual({ budget: 300 });
    expect(used.resolved).toMatchObject({ budget: 300, networkRelus: 6508, searchableRelus: 6508, fixedRelus: 0, annealSteps: 6 });
    expect(used.resolved.alphaLr).toBeCloseTo(4 / 10, 12); // max(lr, 4 / steps) with 10 steps
    expect(used.resolved.threshold).toBeCloseTo(3 * 0.4, 12); // 3 × α's first rate
    expect(arch.recipe).toEqual(used);

    // Running that recipe.json again reproduces the run's result.json (all but timing and path fields).
    expect(await runCli(['search', '--recipe', join(dir, 'run', 'recipe.json'), '--out', join(dir, 'rerun')], io)).toBe(0);
    const strip = ({ outDir: _o, searchSeconds: _s, finetuneSeconds: _f, ...rest }: Record<string, unknown>) => rest;
    const first = strip(JSON.parse(readFileSync(join(dir, 'run', 'result.json'), 'utf8')));
    expect(strip(JSON.parse(readFileSync(join(dir, 'rerun', 'result.json'), 'utf8')))).toEqual(first);

    // Another budget in the same folder is other settings: refused, naming the change; with --fresh
    // the earlier results are removed and the search and finetuning run afresh.
    const refused: string[] = [];
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run'), '--budget', '200', '--resume'], { ...io, print: (l: string) => refused.push(l) })).toBe(1);
    expect(refused.join('\n')).toContain('holds results of other settings; changed: recipe.search.budget: 300 → 200');
    expect(JSON.parse(readFileSync(join(dir, 'run', 'recipe.json'), 'utf8')).search.budget).toBe(300); // the record of its results is kept
    const other: string[] = [];
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run'), '--budget', '200', '--resume', '--fresh'], { ...io, print: (l: string) => other.push(l) })).toBe(0);
    expect(other).toContain('== search');
    const again200 = JSON.parse(readFileSync(join(dir, 'run', 'architecture.json'), 'utf8'));
    expect(again200.relus).toMatchObject({ total: 200, budgetMet: true, searchable: 6508 });
  });
});

describe('polynas search with the snl strategy', () => {
  it('runs SNL from a recipe and exports at most B ReLUs', async () => {
    const dir = tempDir();
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    recipe.dataset.trainLimit = 320;
    recipe.teacher.train.epochs = 1;
    recipe.search = { strategy: 'snl', budget: 1500, epochs: 2, batchSize: 64, lr: 0.05, lambda: 20 };
    recipe.finetune.epochs = 1;
    recipe.space = { name: 'lenet5-snl', backbone: 'lenet5', activation: { candidates: ['relu', 'identity'], granularity: 'channel' } };
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const out: string[] = [];
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run')], { out: (l) => out.push(l), print: () => {}, tty: false })).toBe(0);
    const arch = JSON.parse(readFileSync(join(dir, 'run', 'architecture.json'), 'utf8'));
    expect(arch.strategy).toBe('snl');
    expect(arch.relus.total).toBeLessThanOrEqual(1500);
    expect(arch.sites['act1'].op).toBe('identity');
  });
});

describe('polynas search with the darts strategy', () => {
  const runDarts = async (dir: string, latencyWeight: number) => {
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'search-darts-lenet5-mnist.json'), 'utf8'));
    recipe.dataset.trainLimit = 640;
    recipe.teacher = { weights: join(dir, 'teacher') };
    recipe.search = { ...recipe.search, epochs: 1, latencyWeight };
    recipe.finetune.epochs = 1;
    recipe.space = join(root, 'search-spaces', 'lenet5-layer-pool.json');
    const file = join(dir, `r-${latencyWeight}.json`);
    writeFileSync(file, JSON.stringify(recipe));
    const out: string[] = [];
    const err: string[] = [];
    expect(await runCli(['search', '--recipe', file, '--out', join(dir, `run-${latencyWeight}`)], { out: (l) => out.push(l), print: (l) => err.push(l), tty: false }), err.join('\n')).toBe(0);
    return JSON.parse(readFileSync(join(dir, `run-${latencyWeight}`, 'architecture.json'), 'utf8'));
  };

  it('exports the chosen operator per site with its predicted latency; a heavy latency weight picks every cheap candidate; the export reloads', async () => {
    const dir = tempDir();
    const teacher = JSON.parse(readFileSync(join(root, 'experiments', 'quickstart-lenet-mnist.json'), 'utf8'));
    teacher.dataset.trainLimit = 640;
    teacher.train.epochs = 1;
    writeFileSync(join(dir, 't.json'), JSON.stringify(teacher));
    expect(await runCli(['train', '--recipe', join(dir, 't.json'), '--out', join(dir, 'teacher')], { out: () => {}, print: () => {}, tty: false })).toBe(0);

    const free = await runDarts(dir, 0);
    const heavy = await runDarts(dir, 50);
    expect(heavy.strategy).toBe('darts');
    for (const [path, site] of Object.entries(heavy.sites) as [string, { op: string; candidates: string[]; theta: number[] }][]) {
      expect(site.candidates.length, path).toBe(2);
      expect(site.op, path).toBe(site.candidates[1]); // x2act / avgpool: the cheaper candidate everywhere
    }
    expect(heavy.relus.total).toBe(0);
    expect(heavy.latency.total).toBeLessThanOrEqual(free.latency.total);
    expect(heavy.latency.table).toBe('pasnet-dac2023-code');
    expect(heavy.budget).toBeUndefined();

    // Rebuild from the export and evaluate: identical to the finetuned network's accuracy.
    const { net, gates } = await loadArchitecture(join(dir, 'run-50', 'architecture.json'));
    expect(gates.map((g) => g.gate.gateKind)).toEqual(Array(6).fill('darts'));
    expect(net.reluCount().total).toBe(0);
    const splits = await loadDataset({ name: 'mnist' });
    const ev = evaluate(net, splits.test, { norm: heavy.normalization });
    expect(ev.top1).toBeCloseTo(heavy.metrics.finetunedTop1, 6);
    net.dispose();
  });
});
