import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { isRetryable } from '../io/errors.js';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { parseBudgets } from './experiments.js';
import { overridesFromArgs, searchRecipeFromArgs, withSearchProgress } from './search.js';

interface SweepArgs extends CommonArgs {
  recipe?: string;
  dryRun?: boolean;
  budgets?: string;
  seeds?: string;
  backbones?: string;
  reference?: string[];
  queue?: string;
  detach?: boolean;
  attempts: number;
}

/** `0,1,2` → seeds. */
function parseSeeds(text: string): number[] {
  return text.split(',').map((t) => {
    const v = Number(t.trim());
    if (!Number.isInteger(v) || v < 0) throw new Error(`--seeds: '${t.trim()}' is not a seed (0, 1, 2, …)`);
    return v;
  });
}

/** `lenet5=lenet5-pixel,resnet20=resnet20-pixel` → backbones with their spaces. */
function parseBackbones(text: string): { name: string; space: string }[] {
  const out = text.split(',').map((t) => {
    const m = /^([\w-]+)=([^,]+)$/.exec(t.trim());
    if (!m) throw new Error(`--backbones: '${t.trim()}' is not backbone=space (e.g. resnet20=resnet20-pixel)`);
    return { name: m[1]!, space: m[2]! };
  });
  const twice = out.find((b, i) => out.findIndex((x) => x.name === b.name) !== i);
  if (twice) throw new Error(`--backbones: '${twice.name}' is given twice (one search space per backbone)`);
  return out;
}

function studyOptions<T>(y: Argv<T>) {
  return commonOptions(y)
    .option('recipe', { type: 'string', describe: 'Search recipe (JSON); its "sweep.budgets" unless --budgets' })
    .option('budgets', { type: 'string', describe: 'Comma-separated budgets: counts (12900, 12.9k) or fractions (0.05)' })
    .option('seeds', { type: 'string', describe: 'Comma-separated seeds (default: the recipe\'s); one teacher per backbone and seed' })
    .option('backbones', { type: 'string', describe: 'Comma-separated backbone=space pairs (default: the recipe\'s)' });
}

/** The plan of the arguments' recipe and axes, written into the study folder. */
async function planFromArgs(ctx: CliContext, argv: ArgumentsCamelCase<SweepArgs>): Promise<{ file: string; cells: number; out: string } | undefined> {
  if (!argv.recipe) throw new Error('--recipe is required');
  const budgets = argv.budgets ? parseBudgets(argv.budgets) : undefined;
  const overrides = overridesFromArgs(argv, budgets);
  const recipe = await searchRecipeFromArgs(ctx, argv as { recipe: string; dryRun?: boolean }, overrides);
  if (!recipe) return undefined;
  const { planSweep, writePlan } = await import('../run/plan.js');
  const plan = await planSweep(recipe, { ...(budgets ? { budgets } : {}), ...(argv.seeds ? { seeds: parseSeeds(argv.seeds) } : argv.seed !== undefined ? { seeds: [argv.seed] } : {}), ...(argv.backbones ? { backbones: parseBackbones(argv.backbones) } : {}), overrides }, argv.recipe);
  const out = argv.out ?? `runs/${recipe.name}-sweep`;
  const { makeDir } = await import('../io/dirs.js');
  makeDir(out);
  return { file: writePlan(out, plan), cells: plan.cells.length, out };
}

function planCommand(ctx: CliContext) {
  return {
    command: 'plan',
    describe: 'Write plan.json: every cell (a teacher per backbone × seed, a search per budget after it) with its id, dependency and folder',
    builder: (y: Argv) => studyOptions(y).example('$0 sweep plan --recipe experiments/search-lenet5-mnist.json --budgets 100,1k --seeds 0,1 --out runs/study', '2 teachers and 4 searches'),
    handler: async (argv: ArgumentsCamelCase<SweepArgs>) => {
      const p = await planFromArgs(ctx, argv);
      if (p) ctx.out(`${p.file}: ${p.cells} cells (run one with polynas sweep cell --plan ${p.file} --index I)`);
    },
  };
}

/** Tells the worker that started this process (over IPC) whether retrying could help ({@link isRetryable}). */
function reportCellError(e: Error): void {
  process.send?.({ type: 'cell-error', message: e.message, deterministic: !isRetryable(e) });
}

function cellCommand(ctx: CliContext) {
  return {
    command: 'cell',
    describe: 'Run one cell of a plan (its index from --index, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID); a finished cell is skipped, one the plan now sets differently is refused (--fresh: run again)',
    builder: (y: Argv) =>
      y
        .option('plan', { type: 'string', demandOption: true, describe: 'plan.json of the study' })
        .option('index', { type: 'number', describe: 'Cell index (0-based); default from the job array' })
        .option('id', { type: 'string', describe: 'Cell id (instead of an index)' })
        .option('kind', { choices: ['teacher', 'search'] as const, describe: 'Count the index among this kind\'s cells only (an array per stage)' })
        .option('fresh', { type: 'boolean', describe: 'Discard a finished result of other settings in the cell\'s folder and run the cell again' })
        .example('JOB_COMPLETION_INDEX=3 $0 sweep cell --plan runs/study/plan.json --kind search', 'The fourth search cell, as a Kubernetes Indexed Job runs it'),
    handler: async (argv: ArgumentsCamelCase<{ plan: string; index?: number; id?: string; kind?: 'teacher' | 'search'; fresh?: boolean }>) => {
      const { readPlan } = await import('../run/plan.js');
      const { runCell, cellIndex } = await import('../run/cell.js');
      // Started by a worker: when the worker dies, its channel closes and this cell stops at a checkpoint.
      const orphaned = () => process.kill(process.pid, 'SIGTERM');
      if (process.send) process.once('disconnect', orphaned);
      try {
        const { plan, dir } = readPlan(argv.plan);
        const which = argv.id !== undefined ? { id: argv.id } : { index: cellIndex(argv.index), ...(argv.kind ? { kind: argv.kind } : {}) };
        const r = await withSearchProgress(ctx, (hooks) => runCell(plan, dir, which, { hooks, download: { log: ctx.print }, ...(argv.fresh ? { fresh: true } : {}) }));
        ctx.out(`cell ${r.cell.id} (${r.cell.dir}): ${r.status === 'skipped' ? 'finished earlier, skipped' : `done in ${r.seconds.toFixed(1)} s`}`);
      } catch (e) {
        reportCellError(e as Error);
        throw e;
      } finally {
        // The channel to the worker would keep this process alive: close it once the cell is over.
        process.off('disconnect', orphaned);
        if (process.connected) process.disconnect();
      }
    },
  };
}

function collectCommand(ctx: CliContext) {
  return {
    command: 'collect <study>',
    describe: "Merge a study's finished cells into sweep.csv (mean ± sd over seeds), plots and summary.md; list the cells still missing",
    builder: (y: Argv) => y.positional('study', { type: 'string', demandOption: true, describe: 'Study folder (with plan.json)' }).option('reference', { type: 'string', array: true, describe: 'Reference CSVs for the plots' }),
    handler: async (argv: ArgumentsCamelCase<{ study: string; reference?: string[] }>) => {
      const { readPlan } = await import('../run/plan.js');
      const { collectSweep } = await import('../run/collect.js');
      const { plan, dir } = readPlan(resolve(argv.study, 'plan.json'));
      const c = await collectSweep(plan, dir, argv.reference ? { references: argv.reference } : {});
      ctx.out(`${c.csv}: ${c.rows.length} of ${plan.cells.filter((x) => x.kind === 'search').length} searches finished`);
      for (const m of c.missing) ctx.out(`missing: cell ${plan.cells.indexOf(m)} ${m.id} (${m.dir})`);
    },
  };
}

function statusCommand(ctx: CliContext) {
  return {
    command: 'status',
    describe: 'The queue\'s job counts, and with --plan the state of each cell',
    builder: (y: Argv) => y.option('queue', { type: 'string', demandOption: true, describe: 'redis://host:port (rediss:// for TLS)' }).option('plan', { type: 'string', describe: 'plan.json of a study' }),
    handler: async (argv: ArgumentsCamelCase<{ queue: string; plan?: string }>) => {
      const { queueStatus } = await import('../run/queue.js');
      const s = await queueStatus(argv.queue, argv.plan);
      ctx.out(Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', '));
      for (const c of s.cells ?? []) ctx.out(`${c.cell.id} ${c.cell.dir}: ${c.finished ? 'finished' : c.state}${c.reason ? ` (${c.reason})` : ''}`);
    },
  };
}

function cancelCommand(ctx: CliContext) {
  return {
    command: 'cancel',
    describe: "Remove a plan's queued cells (running cells finish; their folders keep what they wrote)",
    builder: (y: Argv) => y.option('queue', { type: 'string', demandOption: true, describe: 'redis://host:port' }).option('plan', { type: 'string', demandOption: true, describe: 'plan.json of the study' }),
    handler: async (argv: ArgumentsCamelCase<{ queue: string; plan: string }>) => {
      const { cancelPlan } = await import('../run/queue.js');
      const r = await cancelPlan(argv.queue, argv.plan);
      ctx.out(`removed ${r.removed} queued cells; ${r.running} running`);
    },
  };
}

/** Submits the study to the queue and (unless --detach) follows it, then collects. */
async function queueSweep(ctx: CliContext, argv: ArgumentsCamelCase<SweepArgs>): Promise<void> {
  const p = await planFromArgs(ctx, argv);
  if (!p) return;
  const { submitPlan } = await import('../run/queue.js');
  const states = await submitPlan(argv.queue!, p.file, { attempts: argv.attempts, wait: !argv.detach, onChange: (c, s, why) => ctx.print(`cell ${c.id} ${c.dir}: ${s}${why ? ` (${why})` : ''}`) });
  if (argv.detach) {
    ctx.out(`${p.file}: ${p.cells} cells submitted to ${argv.queue}; follow with polynas sweep status --queue ${argv.queue} --plan ${p.file}`);
    return;
  }
  const { readPlan } = await import('../run/plan.js');
  const { collectSweep } = await import('../run/collect.js');
  const { plan, dir } = readPlan(p.file);
  const c = await collectSweep(plan, dir, argv.reference ? { references: argv.reference } : {});
  const failed = states.filter((s) => !s.finished);
  ctx.out(`${c.csv}: ${c.rows.length} searches collected${failed.length ? `; ${failed.length} cells not finished` : ''}`);
  if (failed.length) ctx.setExitCode(1);
}

/** `polynas sweep`: the study in this process, or its cells through a queue, and the plan/cell/collect/status/cancel steps. */
export function sweepCommand(ctx: CliContext) {
  return {
    command: 'sweep',
    describe: 'Search at several ReLU budgets (× seeds × backbones) with one teacher each; write sweep.csv, plots and summary.md (resumable); or plan, run cells anywhere, collect',
    builder: (y: Argv) =>
      studyOptions([planCommand(ctx), cellCommand(ctx), collectCommand(ctx), statusCommand(ctx), cancelCommand(ctx)].reduce((a, c) => a.command(c as unknown as CommandModule), y))
        .option('dry-run', { type: 'boolean', describe: 'Validate the recipe and build its networks, budgets and table, then stop' })
        .option('reference', { type: 'string', array: true, describe: 'CSV of reference points (series, relus and/or latency_ms, top1) drawn in the plots' })
        .option('queue', { type: 'string', describe: 'Run the cells on workers of this Redis (redis://[user:pass@]host:port, rediss:// for TLS)' })
        .option('detach', { type: 'boolean', describe: 'With --queue: submit and return' })
        .option('attempts', { type: 'number', default: 3, describe: 'With --queue: tries per cell for faults (deterministic failures are not retried)' })
        .example('$0 sweep --recipe experiments/sweep-resnet20-cifar10-subset.json --data-dir ../shared/datasets/cifar10-subset --out runs/sweep', 'ResNet-20 at the recipe\'s budgets')
        .example('$0 sweep --recipe experiments/search-lenet5-mnist.json --budgets 100,300,1k,3k --out runs/lenet-sweep', 'LeNet-5 at four budgets')
        .example('$0 sweep --recipe r.json --budgets 100,1k --seeds 0,1,2 --queue redis://10.0.0.5:6379 --out /shared/study', 'On the workers of a queue')
        .epilogue('A finished budget (its folder has result.json) is never searched again; run the same command to continue an interrupted sweep.'),
    handler: async (argv: ArgumentsCamelCase<SweepArgs>) => {
      if (argv.queue) return queueSweep(ctx, argv);
      if (!argv.recipe) throw new Error('--recipe is required');
      const overrides = overridesFromArgs(argv, argv.budgets ? parseBudgets(argv.budgets) : undefined);
      const recipe = await searchRecipeFromArgs(ctx, argv as { recipe: string; dryRun?: boolean }, overrides);
      if (!recipe) return;
      const outDir = argv.out ?? `runs/${recipe.name}-sweep`;
      ctx.print(`polynas sweep: ${recipe.name} → ${outDir}`);
      const { runSweep } = await import('../run/sweep.js');
      const r = await withSearchProgress(ctx, (hooks) =>
        runSweep(recipe, {
          outDir, overrides, fresh: argv.fresh ?? false, source: argv.recipe, ...(argv.reference ? { references: argv.reference } : {}), hooks, download: { log: ctx.print },
          ...(argv.seeds ? { seeds: parseSeeds(argv.seeds) } : {}), ...(argv.backbones ? { backbones: parseBackbones(argv.backbones) } : {}),
          onBudget: (e) => ctx.print(`== budget ${e.budget} (${e.index + 1}/${e.count})${argv.seeds || argv.backbones ? ` in ${e.cell}` : ''}${e.done ? ': finished earlier, kept' : ''}`),
        }),
      );
      for (const row of r.rows) ctx.out(`budget ${row.budget_spec}: ${row.relus} ReLUs, top-1 ${(row.top1 * 100).toFixed(2)} %${row.latency_ms !== '' ? `, ${(row.latency_ms / 1000).toFixed(3)} s predicted` : ''}`);
      ctx.out(`${r.csv}; plots: ${r.plots.filter((f) => f.endsWith('.png')).join(', ')}`);
    },
  };
}

/** `polynas worker`: runs cells from a queue until stopped. */
export function workerCommand(ctx: CliContext) {
  return {
    command: 'worker',
    describe: 'Run sweep cells from a Redis queue, each in its own process, until stopped (SIGTERM: running cells checkpoint and return to the queue)',
    builder: (y: Argv) =>
      y
        .option('queue', { type: 'string', demandOption: true, describe: 'redis://[user:pass@]host:port (rediss:// for TLS)' })
        .option('concurrency', { type: 'number', default: 1, describe: 'Cells at once' })
        .option('threads', { type: 'number', describe: 'Threads per cell (default: the engine\'s)' })
        .option('root', { type: 'string', describe: 'Where the studies are on this host, if not at the submitter\'s path (<root>/<study>/plan.json)' })
        .option('lock-ms', { type: 'number', default: 30_000, describe: 'A cell\'s lock without renewal lasts this long; a dead worker\'s cell is retried after it' })
        .example('$0 worker --queue redis://10.0.0.5:6379 --concurrency 2 --threads 4', 'Two cells at once, four threads each'),
    handler: async (argv: ArgumentsCamelCase<{ queue: string; concurrency: number; threads?: number; root?: string; 'lock-ms': number }>) => {
      const { runWorker } = await import('../run/queue.js');
      ctx.print(`polynas worker: ${argv.queue}, ${argv.concurrency} cell(s) at once`);
      await runWorker({ url: argv.queue, concurrency: argv.concurrency, ...(argv.threads ? { threads: argv.threads } : {}), ...(argv.root ? { root: resolve(argv.root) } : {}), lockMs: argv.lockMs, signal: ctx.signal, log: ctx.print });
    },
  };
}
