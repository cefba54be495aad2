// A study across processes: plan, cells by array index, and a real Redis with two workers, one of
// them killed mid-cell. Each worker and the local sweep run as their own processes at one thread.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { lockLeaseSeconds, lockRunDir } from '../../src/run/run-dir.js';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { freePort } from '../../src/pi/launch.js';
import { capture, quickstartRecipe, tempDir } from '../helpers.js';

const repo = join(__dirname, '..', '..');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawn(process.execPath, ['--import', 'tsx', join(repo, 'src', 'cli', 'main.ts'), ...args], { cwd: repo, env: { ...process.env, POLYNAS_TORCH_THREADS: '1', POLYNAS_WASM_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
const done = (c: ChildProcess) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
  let out = '', err = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  c.on('exit', (code) => resolve({ code, out, err }));
});

const redisInstalled = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
// Skipped only where redis-server is not installed and not required; CI installs it and sets POLYNAS_REQUIRE_REDIS=1.
const skipRedis = !redisInstalled && process.env.POLYNAS_REQUIRE_REDIS !== '1';

/** sweep.csv / cells.csv rows without the fields that hold wall times or folders. */
function comparable(file: string): Record<string, string>[] {
  const rows = parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.map(({ search_s: _a, finetune_s: _b, run_dir: _c, ...r }) => r);
}

describe('sweep plan / cell / collect', () => {
  const dir = tempDir();
  beforeAll(() => {
    const recipe = quickstartRecipe(256);
    delete recipe.$schema;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
  });

  it('plans 2 teachers and 4 searches with stable ids; cells run by JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID (also counted within one kind); a search before its teacher names it; collect lists what is missing', async () => {
    const p = capture();
    const args = ['sweep', 'plan', '--recipe', join(dir, 'r.json'), '--budgets', '100,1k', '--seeds', '0,1', '--out', join(dir, 'study')];
    expect(await runCli(args, p.io), p.err.join('\n')).toBe(0);
    const plan = JSON.parse(readFileSync(join(dir, 'study', 'plan.json'), 'utf8'));
    expect(plan.cells.map((c: { kind: string; dir: string }) => `${c.kind} ${c.dir}`)).toEqual(['teacher seed-0/teacher', 'search seed-0/budget-100', 'search seed-0/budget-1000', 'teacher seed-1/teacher', 'search seed-1/budget-100', 'search seed-1/budget-1000']);
    // Planned again elsewhere: the same ids (they hash what decides a result, not where it goes).
    expect(await runCli([...args.slice(0, -1), join(dir, 'again')], capture().io)).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'again', 'plan.json'), 'utf8')).cells.map((c: { id: string }) => c.id)).toEqual(plan.cells.map((c: { id: string }) => c.id));
    const planFile = join(dir, 'study', 'plan.json');
    const early = await done(cli(['sweep', 'cell', '--plan', planFile, '--kind', 'search'], { SLURM_ARRAY_TASK_ID: '0' }));
    expect(early.code).toBe(1);
    expect(early.err).toContain(`needs its teacher, cell ${plan.cells[0].id} (seed-0/teacher), which has not finished`);
    expect((await done(cli(['sweep', 'cell', '--plan', planFile, '--kind', 'teacher'], { JOB_COMPLETION_INDEX: '0' }))).code).toBe(0);
    const s = await done(cli(['sweep', 'cell', '--plan', planFile], { SLURM_ARRAY_TASK_ID: '1' }));
    expect(s.code, s.err).toBe(0);
    expect(s.out).toContain('(seed-0/budget-100): done');
    const again = await done(cli(['sweep', 'cell', '--plan', planFile, '--index', '1']));
    expect(again.out).toContain('finished earlier, skipped');
    // The check reads the cell's record (cell.json), nothing else: a finished cell whose teacher folder is gone is still skipped.
    expect(JSON.parse(readFileSync(join(dir, 'study', 'seed-0', 'budget-100', 'cell.json'), 'utf8')).id).toBe(plan.cells[1].id);
    renameSync(join(dir, 'study', 'seed-0', 'teacher'), join(dir, 'teacher-away'));
    expect((await done(cli(['sweep', 'cell', '--plan', planFile, '--index', '1']))).out).toContain('finished earlier, skipped');
    renameSync(join(dir, 'teacher-away'), join(dir, 'study', 'seed-0', 'teacher'));
    // Planned again with other settings: the finished cell is refused (as polynas sweep refuses it), not skipped; --fresh runs it again.
    const planText = readFileSync(planFile, 'utf8');
    const recipe2 = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    recipe2.finetune.epochs = 2;
    writeFileSync(join(dir, 'r2.json'), JSON.stringify(recipe2));
    expect(await runCli(['sweep', 'plan', '--recipe', join(dir, 'r2.json'), ...args.slice(4)], capture().io)).toBe(0);
    expect(JSON.parse(readFileSync(planFile, 'utf8')).cells[1].id).not.toBe(plan.cells[1].id);
    const stale = await done(cli(['sweep', 'cell', '--plan', planFile, '--index', '1']));
    expect(stale.code).toBe(1);
    expect(stale.err).toContain('seed-0/budget-100 holds results of other settings; changed: recipe.finetune.epochs: 1 → 2');
    const redo = await done(cli(['sweep', 'cell', '--plan', planFile, '--index', '1', '--fresh']));
    expect(redo.code, redo.err).toBe(0);
    expect(redo.out).toContain('(seed-0/budget-100): done');
    expect(JSON.parse(readFileSync(join(dir, 'study', 'seed-0', 'budget-100', 'recipe.json'), 'utf8')).finetune.epochs).toBe(2);
    writeFileSync(planFile, planText);
    const bad = await done(cli(['sweep', 'cell', '--plan', planFile], { JOB_COMPLETION_INDEX: 'x' }));
    expect(bad.err).toContain("JOB_COMPLETION_INDEX is 'x', not a cell index");
    const past = await done(cli(['sweep', 'cell', '--plan', planFile, '--kind', 'teacher', '--index', '2']));
    expect(past.err).toContain("cell index 2: plan 'quickstart' has teacher cells 0–1");
    const c = capture();
    expect(await runCli(['sweep', 'collect', join(dir, 'study')], c.io), c.err.join('\n')).toBe(0);
    expect(c.out.join('\n')).toContain('1 of 4 searches finished');
    expect(c.out.filter((l) => l.startsWith('missing: '))).toHaveLength(4);
    expect(readFileSync(join(dir, 'study', 'sweep.csv'), 'utf8').split('\n')[0]).toContain('top1_sd');
    // polynas report on the study merges it as collect does (seeds aggregated), not as a one-seed sweep folder.
    const r = capture();
    expect(await runCli(['report', join(dir, 'study')], r.io), r.err.join('\n')).toBe(0);
    expect(r.out.join('\n')).toContain('means over seeds');
    expect(readFileSync(join(dir, 'study', 'sweep.csv'), 'utf8').split('\n')[0]).toContain('top1_sd');
    // A budget that two seeds finished (seed 1's folder a copy of seed 0's finished one): the report
    // page draws each seed's network, read from cells.csv, not a folder named by both.
    cpSync(join(dir, 'study', 'seed-0', 'budget-100'), join(dir, 'study', 'seed-1', 'budget-100'), { recursive: true });
    expect(await runCli(['sweep', 'collect', join(dir, 'study')], capture().io)).toBe(0);
    expect((parse(readFileSync(join(dir, 'study', 'sweep.csv'), 'utf8'), { columns: true }) as Record<string, string>[])[0]!.run_dir).toBe('seed-0/budget-100 seed-1/budget-100');
    const h = capture();
    expect(await runCli(['report', join(dir, 'study'), '--html', '--out', join(dir, 'study.html')], h.io), h.err.join('\n')).toBe(0);
    const page = readFileSync(join(dir, 'study.html'), 'utf8');
    for (const seed of [0, 1]) expect(page).toContain(`data-chart="relus-r0-study-seed-${seed}_budget-100"`);
    // Its settings list each seed's teacher training time (the study has a teacher folder per seed).
    expect(page).toMatch(/seed-0\/teacher: training<\/td><td>[\d.]+ s/);
  }, 300_000);

  it('teacher weights given by path enter a plan by their hash: new weights at the same path give new cell ids, and a cell finished with the old ones is refused', async () => {
    const { decisiveRecipe, planSweep } = await import('../../src/run/plan.js');
    const { CELL_RECORD, searchCellDone } = await import('../../src/run/cell.js');
    const { fileSha256 } = await import('../../src/run/identity.js');
    const { saveCheckpoint } = await import('../../src/io/checkpoint.js');
    const { loadSearchRecipe } = await import('../../src/search/recipe.js');
    const study = join(dir, 'given-teacher');
    const weights = join(study, 'teacher', 'model.weights.bin');
    const meta = { kind: 'polynas-weights', backbone: 'lenet5', numClasses: 10, inputShape: [28, 28, 1], normalization: { mean: [0.13], std: [0.31] }, seed: 0 };
    saveCheckpoint(weights, { meta, tensors: {} });
    writeFileSync(join(study, 'r.json'), JSON.stringify({ ...quickstartRecipe(256), $schema: undefined, teacher: { weights: join(study, 'teacher') } }));
    const recipe = loadSearchRecipe(join(study, 'r.json'));
    const before = await planSweep(recipe, { budgets: [300] });
    expect(before.cells.map((c) => c.kind)).toEqual(['search']);
    expect(decisiveRecipe(before.cells[0]!.recipe).teacher).toEqual({ weights: fileSha256(weights) });
    // The cell finished with these weights.
    const cellDir = join(study, before.cells[0]!.dir);
    mkdirSync(cellDir, { recursive: true });
    writeFileSync(join(cellDir, 'result.json'), '{}');
    writeFileSync(join(cellDir, CELL_RECORD), JSON.stringify({ id: before.cells[0]!.id, recipe: decisiveRecipe(before.cells[0]!.recipe) }));
    expect(searchCellDone(study, before.cells[0]!)).toBe(true);
    // Other weights at the same path: another cell, and the finished one is not taken for it.
    saveCheckpoint(weights, { meta: { ...meta, seed: 1 }, tensors: {} });
    const after = await planSweep(recipe, { budgets: [300] });
    expect(after.cells[0]!.id).not.toBe(before.cells[0]!.id);
    expect(() => searchCellDone(study, after.cells[0]!)).toThrow(/teacher\.weights/);
    expect(searchCellDone(study, after.cells[0]!, { fresh: true })).toBe(false);
  });

  it('a plan over two backbones names a space per backbone and gives each its own folder level; a repeated backbone is refused', async () => {
    const spaces = join(repo, 'search-spaces');
    const two = `lenet5=${join(spaces, 'lenet5-pixel.json')},resnet20=${join(spaces, 'resnet20-pixel.json')}`;
    const c = capture();
    expect(await runCli(['sweep', 'plan', '--recipe', join(dir, 'r.json'), '--budgets', '100', '--backbones', two, '--out', join(dir, 'two')], c.io), c.err.join('\n')).toBe(0);
    const plan = JSON.parse(readFileSync(join(dir, 'two', 'plan.json'), 'utf8'));
    expect(plan.cells.map((x: { dir: string; recipe: { backbone: { name: string }; space: string } }) => `${x.dir} ${x.recipe.backbone.name} ${x.recipe.space.split('/').pop()}`)).toEqual([
      'lenet5/teacher lenet5 lenet5-pixel.json', 'lenet5/budget-100 lenet5 lenet5-pixel.json', 'resnet20/teacher resnet20 resnet20-pixel.json', 'resnet20/budget-100 resnet20 resnet20-pixel.json',
    ]);
    const twice = capture();
    expect(await runCli(['sweep', 'plan', '--recipe', join(dir, 'r.json'), '--budgets', '100', '--backbones', `lenet5=${join(spaces, 'lenet5-pixel.json')},lenet5=x`, '--out', join(dir, 'dup')], twice.io)).toBe(1);
    expect(twice.err.join('\n')).toContain("--backbones: 'lenet5' is given twice");
  });
});

describe('a run folder lock on shared storage', () => {
  it("holds while another host renews it, and is taken over once it is older than the lease", () => {
    const dir = tempDir();
    const lock = join(dir, 'run.lock');
    writeFileSync(lock, JSON.stringify({ pid: 4242, host: 'node-17' }));
    expect(() => lockRunDir(dir)).toThrow(`${dir} is in use by another polynas run (process 4242 on node-17)`);
    const old = new Date(Date.now() - (lockLeaseSeconds() + 5) * 1000);
    utimesSync(lock, old, old);
    const release = lockRunDir(dir);
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    release();
    expect(existsSync(lock)).toBe(false);
  });
});

describe.skipIf(skipRedis)('sweep --queue with a real Redis and two workers', () => {
  const dir = tempDir();
  let redis: ChildProcess;
  let url = '';
  beforeAll(async () => {
    const recipe = quickstartRecipe(256);
    delete recipe.$schema;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const port = await freePort();
    // With a password, as a shared Redis would have one (the URL carries it).
    url = `redis://:s3cret@127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 's3cret'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      try {
        if (execFileSync('redis-cli', ['-p', String(port), '-a', 's3cret', '--no-auth-warning', 'ping'], { stdio: 'pipe' }).toString().includes('PONG')) {
          // A wrong password is refused with a message that does not print it.
          const c = capture();
          expect(await runCli(['sweep', 'status', '--queue', `redis://:hunter7@127.0.0.1:${port}`], c.io)).toBe(1);
          expect(c.err.join('\n')).toMatch(/cannot reach Redis at redis:\/\/…@127\.0\.0\.1:\d+/);
          expect(c.err.join('\n')).not.toContain('hunter7');
          return;
        }
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('redis-server did not start');
  });
  afterAll(() => redis?.kill('SIGKILL'));

  it('3 budgets × 2 seeds on two workers, one killed (SIGKILL) mid-cell: the cell is retried by the other, and sweep.csv equals a local sweep\'s except times and folders', async () => {
    const budgets = '100,0.05,1k';
    const local = await done(cli(['sweep', '--recipe', join(dir, 'r.json'), '--budgets', budgets, '--seeds', '0,1', '--out', join(dir, 'local')]));
    expect(local.code, local.err).toBe(0);
    const workers = [0, 1].map(() => cli(['worker', '--queue', url, '--concurrency', '1', '--threads', '1', '--lock-ms', '4000']));
    const logs = workers.map((w) => done(w));
    let killed = '';
    // The first worker to start a search cell is killed 1.5 s into it.
    workers.forEach((w, i) => w.stderr!.on('data', (d: Buffer) => {
      const m = /cell ([0-9a-f]{24}) \([^)]*budget-[^)]*\): attempt 1/.exec(d.toString());
      if (m && !killed) {
        killed = m[1]!;
        setTimeout(() => workers[i]!.kill('SIGKILL'), 1500);
      }
    }));
    const sub = await done(cli(['sweep', '--recipe', join(dir, 'r.json'), '--budgets', budgets, '--seeds', '0,1', '--queue', url, '--out', join(dir, 'queued')]));
    for (const w of workers) w.kill('SIGTERM');
    const [a, b] = await Promise.all(logs);
    expect(sub.code, `${sub.err}\n--- worker 0\n${a.err}\n--- worker 1\n${b.err}`).toBe(0);
    expect(killed).not.toBe('');
    // The other worker ran the killed cell again (after its lock expired).
    const survivor = workers[0]!.signalCode === 'SIGKILL' ? b : a;
    expect(survivor.err).toMatch(new RegExp(`cell ${killed} \\([^)]*\\): attempt \\d`));
    expect(comparable(join(dir, 'queued', 'sweep.csv'))).toEqual(comparable(join(dir, 'local', 'sweep.csv')));
    expect(comparable(join(dir, 'queued', 'cells.csv'))).toEqual(comparable(join(dir, 'local', 'cells.csv')));
    expect(comparable(join(dir, 'queued', 'sweep.csv'))).toHaveLength(3);
    for (const f of ['plots/relus-vs-accuracy.svg', 'summary.md']) expect(existsSync(join(dir, 'queued', f)), f).toBe(true);
    // Re-submitting is idempotent: every cell is already done.
    const st = capture();
    expect(await runCli(['sweep', 'status', '--queue', url, '--plan', join(dir, 'queued', 'plan.json')], st.io)).toBe(0);
    expect(st.out.filter((l) => l.endsWith(': finished'))).toHaveLength(8);
    // Cancelling removes the study's jobs from the queue; the folders keep their results.
    const cancel = capture();
    expect(await runCli(['sweep', 'cancel', '--queue', url, '--plan', join(dir, 'queued', 'plan.json')], cancel.io)).toBe(0);
    expect(cancel.out.join('\n')).toBe('removed 8 queued cells; 0 running');
    const after = capture();
    expect(await runCli(['sweep', 'status', '--queue', url, '--plan', join(dir, 'queued', 'plan.json')], after.io)).toBe(0);
    expect(after.out[0]).toContain('completed 0');
    expect(after.out.filter((l) => l.endsWith(': finished'))).toHaveLength(8);
  }, 600_000);
});
