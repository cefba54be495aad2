import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { parseBudgets } from '../../src/cli/experiments.js';
import { tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), print: (l: string) => err.push(l), tty: false } };
};

describe('CLI help', () => {
  it('every subcommand has help with examples', async () => {
    // yargs prints help with console.log.
    const logs: string[] = [];
    const orig = console.log;
    console.log = (s: string) => logs.push(String(s));
    const commands = ['train', 'search', 'finetune', 'evaluate', 'export', 'latency', 'sweep', 'plot', 'report'];
    try {
      expect(await runCli(['--help'], capture().io)).toBe(0);
      for (const c of commands) expect(await runCli([c, '--help'], capture().io), c).toBe(0);
    } finally {
      console.log = orig;
    }
    for (const c of commands) expect(logs[0]).toContain(`polynas ${c}`);
    commands.forEach((c, i) => {
      expect(logs[i + 1], c).toContain(`polynas ${c}`);
      expect(logs[i + 1], c).toContain('Examples:');
    });
  });
});

describe('--budgets', () => {
  it('parses counts, k suffixes and fractions, and names a bad entry', () => {
    expect(parseBudgets('1k, 5k,0.05,20000,12.9k')).toEqual([1000, 5000, 0.05, 20000, 12900]);
    expect(() => parseBudgets('1k,lots')).toThrow("--budgets: 'lots' is not a budget");
  });
});

describe('sweep → report → evaluate → finetune → export (real digits)', () => {
  it('runs every budget with one teacher, writes the CSV and plots, resumes without redoing, and the export tools work on its output', async () => {
    const dir = tempDir();
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'quickstart.json'), 'utf8'));
    recipe.dataset.trainLimit = 640;
    recipe.teacher.train.epochs = 1;
    recipe.search.epochs = 1;
    recipe.finetune.epochs = 1;
    recipe.space = join(root, 'search-spaces', 'lenet5-pixel.json');
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const run = join(dir, 'sweep');
    const a = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '100,0.05,1k,2k'], a.io), a.err.join('\n')).toBe(0);
    const csv = readFileSync(join(run, 'sweep.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('budget_spec,budget,relus,relus_before_projection,top1,top5,projected_top1,teacher_top1,latency_table,latency_network,latency_ms,latency,latency_unit,comm_mib,rounds,search_s,finetune_s,strategy,seed,run_dir');
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([['100', '100', '100'], ['0.05', '325', '325'], ['1000', '1000', '1000'], ['2000', '2000', '2000']]);
    // More ReLUs never cost less under the same table.
    const lat = rows.map((r) => Number(r[10]));
    for (let i = 1; i < lat.length; i++) expect(lat[i]).toBeGreaterThanOrEqual(lat[i - 1]!);
    for (const f of ['plots/relus-vs-accuracy.svg', 'plots/relus-vs-accuracy.png', 'plots/latency-vs-accuracy.png', 'summary.md', 'teacher/model.weights.bin']) expect(existsSync(join(run, f)), f).toBe(true);
    expect(a.err.filter((l) => l === '== teacher')).toHaveLength(1); // trained once for all four budgets
    expect(a.err.filter((l) => l.startsWith('== teacher (loaded from'))).toHaveLength(4);

    // A second run keeps every finished budget.
    const b = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '100,0.05,1k,2k'], b.io)).toBe(0);
    expect(b.err.filter((l) => l.includes('finished earlier, kept'))).toHaveLength(4);
    expect(b.err.some((l) => l.startsWith('== search'))).toBe(false);

    const rep = capture();
    expect(await runCli(['report', run], rep.io)).toBe(0);
    expect(rep.out.join('\n')).toMatch(/\| 325 \| \d+ \| 325 \|/);

    // The 1k export evaluates to the accuracy the sweep recorded.
    const arch = join(run, 'budget-1000', 'architecture.json');
    const ev = capture();
    expect(await runCli(['evaluate', arch, '--json'], ev.io), ev.err.join('\n')).toBe(0);
    const e = JSON.parse(ev.out.join('\n'));
    expect(e.relus).toBe(1000);
    expect(e.top1).toBeCloseTo(Number(rows[2]![4]), 4);

    const ft = capture();
    expect(await runCli(['finetune', arch, '--epochs', '1', '--out', join(dir, 'ft')], ft.io), ft.err.join('\n')).toBe(0);
    expect(ft.out.join('\n')).toMatch(/^1000 ReLUs: top-1 [\d.]+ % → [\d.]+ %/);
    const ftArch = JSON.parse(readFileSync(join(dir, 'ft', 'architecture.json'), 'utf8'));
    expect(ftArch.relus.total).toBe(1000);

    const ex = capture();
    expect(await runCli(['export', arch, '--table', 'delphi-gc-epyc7502', '--out', join(dir, 'delphi')], ex.io), ex.err.join('\n')).toBe(0);
    const re = JSON.parse(readFileSync(join(dir, 'delphi.json'), 'utf8'));
    expect(re.latency.table).toBe('delphi-gc-epyc7502');
    expect(re.relus.total).toBe(1000);
    const layers = readFileSync(join(dir, 'delphi.layers.csv'), 'utf8').trim().split('\n');
    expect(layers[0]).toBe('path,op,relus,kept_relus,time,unit,comm_bytes,rounds');

    // plot with a reference CSV.
    writeFileSync(join(dir, 'ref.csv'), 'series,relus,top1\npaper,500,90\npaper,3000,95\n');
    const pl = capture();
    expect(await runCli(['plot', join(run, 'sweep.csv'), '--reference', join(dir, 'ref.csv'), '--out', join(dir, 'fig')], pl.io)).toBe(0);
    expect(readFileSync(join(dir, 'fig', 'relus-vs-accuracy.svg'), 'utf8').match(/aria-roledescription="point"/g)).toHaveLength(6);
  });

  it('a sweep without budgets and a report of an empty folder fail with one clear message', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.json'), readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8').replace('"../search-spaces', `"${join(root, 'search-spaces')}`));
    const a = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', join(dir, 's')], a.io)).toBe(1);
    expect(a.err.join('\n')).toContain('no budgets to sweep');
    const b = capture();
    expect(await runCli(['report', dir], b.io)).toBe(1);
    expect(b.err.join('\n')).toContain('not a finished polynas run');
  });
});
