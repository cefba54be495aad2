import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { parseBudgets } from '../../src/cli/experiments.js';
import { capture, quickstartRecipe, tempDir } from '../helpers.js';
import { openReport, skipBrowser } from '../../scripts/browser.js';
import { skipPi } from '../pi/harness.js';

const root = join(__dirname, '..', '..');

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
  // One sweep at four budgets, shared by the behaviours below.
  const dir = tempDir();
  const run = join(dir, 'sweep');
  const first = capture();
  let rows: string[][] = [];
  let header = '';
  beforeAll(async () => {
    const recipe = quickstartRecipe(640);
    delete recipe.$schema;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '100,0.05,1k,2k'], first.io), first.err.join('\n')).toBe(0);
    const csv = readFileSync(join(run, 'sweep.csv'), 'utf8').trim().split('\n');
    header = csv[0]!;
    rows = csv.slice(1).map((l) => l.split(','));
  });
  const arch = () => join(run, 'budget-1000', 'architecture.json');

  it('writes one CSV row per budget, each meeting its budget exactly', () => {
    expect(header).toBe('budget_spec,budget,relus,relus_before_projection,top1,top5,projected_top1,teacher_top1,latency_table,latency_network,latency_ms,latency,latency_unit,comm_mib,rounds,search_s,finetune_s,strategy,seed,run_dir');
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([['100', '100', '100'], ['0.05', '325', '325'], ['1000', '1000', '1000'], ['2000', '2000', '2000']]);
    expect(rows.map((r) => r[19])).toEqual(['budget-100', 'budget-0.05', 'budget-1000', 'budget-2000']); // relative, however --out was written
  });

  it('predicts a latency that never falls as the ReLU count grows under one table', () => {
    const lat = rows.map((r) => Number(r[10]));
    for (let i = 1; i < lat.length; i++) expect(lat[i]).toBeGreaterThanOrEqual(lat[i - 1]!);
  });

  it('trains the teacher once for all budgets and records each budget in its recipe.json', () => {
    for (const f of ['plots/relus-vs-accuracy.svg', 'plots/relus-vs-accuracy.png', 'plots/latency-vs-accuracy.png', 'summary.md', 'teacher/model.weights.bin']) expect(existsSync(join(run, f)), f).toBe(true);
    expect(first.err.filter((l) => l === '== teacher')).toHaveLength(1);
    expect(first.err.filter((l) => l.startsWith('== teacher (loaded from'))).toHaveLength(4);
    expect(JSON.parse(readFileSync(join(run, 'recipe.json'), 'utf8')).sweep.budgets).toEqual([100, 0.05, 1000, 2000]);
    for (const [b, abs] of [[0.05, 325], [1000, 1000]] as const) {
      const r = JSON.parse(readFileSync(join(run, `budget-${b}`, 'recipe.json'), 'utf8'));
      expect(r.search.budget).toBe(b);
      expect(r.resolved.budget).toBe(abs);
    }
  });

  it('a second run keeps every finished budget', async () => {
    const b = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '100,0.05,1k,2k'], b.io)).toBe(0);
    expect(b.err.filter((l) => l.includes('finished earlier, kept'))).toHaveLength(4);
    expect(b.err.some((l) => l.startsWith('== search'))).toBe(false);
  });

  it('report rebuilds the summary table', async () => {
    const rep = capture();
    expect(await runCli(['report', run], rep.io)).toBe(0);
    expect(rep.out.join('\n')).toMatch(/\| 325 \| \d+ \| 325 \|/);
    const one = capture();
    expect(await runCli(['report', join(run, 'budget-1000')], one.io)).toBe(0);
    expect(one.out.join('\n')).toContain('**1000 exported**');
  });

  it.skipIf(skipBrowser)('report --html: one page that opens offline in a real browser without errors, every chart drawing one mark per data row', async () => {
    // A published curve to compare with, and a measured 2PC run of one budget where the runtime is built.
    writeFileSync(join(dir, 'paper.csv'), 'series,relus,top1\npaper,150,0.80\npaper,1500,91.5%\n');
    if (!skipPi) expect(await runCli(['pi', 'run', arch(), '--samples', '3', '--network', 'WAN'], capture().io)).toBe(0);
    const rep = capture();
    const page = join(dir, 'report.html');
    expect(await runCli(['report', run, '--html', '--out', page, '--reference', join(dir, 'paper.csv')], rep.io), rep.err.join('\n')).toBe(0);
    const html = readFileSync(page, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    const { charts, errors } = await openReport(page, join(dir, 'report.png'));
    expect(errors).toEqual([]);
    // Two curves (4 budgets + 2 published points with ReLUs; the latency chart has only the sweep's 4), then per budget the ReLU and latency charts.
    expect(charts['relus-vs-accuracy']).toEqual({ rows: 6, marks: 6 });
    expect(charts['latency-vs-accuracy']).toEqual({ rows: 4, marks: 4 });
    const ids = Object.keys(charts);
    expect(ids.filter((id) => id.startsWith('relus-r0-sweep-'))).toHaveLength(4);
    expect(ids.filter((id) => id.startsWith('latency-r0-sweep-'))).toHaveLength(4);
    if (!skipPi) expect(ids.filter((id) => id.startsWith('pi-r0-sweep-'))).toHaveLength(1);
    for (const [id, c] of Object.entries(charts)) expect(c.marks, id).toBe(c.rows);
    expect(existsSync(join(dir, 'report.png'))).toBe(true);
    for (const f of ['plots/relus-sweep-budget-1000.svg', 'plots/latency-sweep-budget-1000.png']) expect(existsSync(join(run, f)), f).toBe(true);
  }, 120_000);

  it('evaluate gives the accuracy the sweep recorded', async () => {
    const ev = capture();
    expect(await runCli(['evaluate', arch(), '--json'], ev.io), ev.err.join('\n')).toBe(0);
    const e = JSON.parse(ev.out.join('\n'));
    expect(e.relus).toBe(1000);
    expect(e.top1).toBeCloseTo(Number(rows[2]![4]), 4);
  });

  it('finetune keeps the decisions and exports again', async () => {
    const ft = capture();
    expect(await runCli(['finetune', arch(), '--epochs', '1', '--out', join(dir, 'ft')], ft.io), ft.err.join('\n')).toBe(0);
    expect(ft.out.join('\n')).toMatch(/^1000 ReLUs: top-1 [\d.]+ % → [\d.]+ %/);
    expect(JSON.parse(readFileSync(join(dir, 'ft', 'architecture.json'), 'utf8')).relus.total).toBe(1000);
    const rep = capture();
    expect(await runCli(['report', join(dir, 'ft')], rep.io), rep.err.join('\n')).toBe(0);
    expect(rep.out.join('\n')).toMatch(/: finetuned\n\n- from .*budget-1000\/architecture\.json: 1000 ReLUs, decisions frozen/);
  });

  it('a copied sweep folder finetunes with its own teacher; a missing teacher is an error unless --no-distill', async () => {
    const copy = join(dir, 'moved');
    cpSync(run, copy, { recursive: true });
    const used = JSON.parse(readFileSync(join(copy, 'budget-1000', 'recipe.json'), 'utf8'));
    expect(used.teacher).toEqual({ weights: '../teacher' }); // relative to the run folder
    const ok = capture();
    expect(await runCli(['finetune', join(copy, 'budget-1000', 'architecture.json'), '--epochs', '1', '--out', join(dir, 'ft-moved')], ok.io), ok.err.join('\n')).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'ft-moved', 'meta.json'), 'utf8')).distill).toBe(true);
    rmSync(join(copy, 'teacher'), { recursive: true });
    const missing = capture();
    expect(await runCli(['finetune', join(copy, 'budget-1000', 'architecture.json'), '--epochs', '1', '--out', join(dir, 'ft-missing')], missing.io)).toBe(1);
    expect(missing.err.join('\n')).toContain(`the recipe distills from the teacher at ${join(copy, 'teacher')}, which is missing`);
    const off = capture();
    expect(await runCli(['finetune', join(copy, 'budget-1000', 'architecture.json'), '--epochs', '1', '--no-distill', '--out', join(dir, 'ft-off')], off.io), off.err.join('\n')).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'ft-off', 'meta.json'), 'utf8')).distill).toBe(false);
  });

  it('export prices the network under another table with a per-layer CSV', async () => {
    const ex = capture();
    expect(await runCli(['export', arch(), '--table', 'delphi-gc-epyc7502', '--out', join(dir, 'delphi')], ex.io), ex.err.join('\n')).toBe(0);
    const re = JSON.parse(readFileSync(join(dir, 'delphi.json'), 'utf8'));
    expect(re.latency.table).toBe('delphi-gc-epyc7502');
    expect(re.relus.total).toBe(1000);
    expect(readFileSync(join(dir, 'delphi.layers.csv'), 'utf8').trim().split('\n')[0]).toBe('path,op,relus,kept_relus,time,unit,comm_bytes,rounds');
  });

  it('plot draws the sweep beside a reference CSV', async () => {
    writeFileSync(join(dir, 'ref.csv'), 'series,relus,top1\npaper,500,90\npaper,3000,95\n');
    const pl = capture();
    expect(await runCli(['plot', join(run, 'sweep.csv'), '--reference', join(dir, 'ref.csv'), '--out', join(dir, 'fig')], pl.io)).toBe(0);
    expect(readFileSync(join(dir, 'fig', 'relus-vs-accuracy.svg'), 'utf8').match(/aria-roledescription="point"/g)).toHaveLength(6);
  });
});

describe('sweep errors', () => {
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
