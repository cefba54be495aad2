import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolve } from 'node:path';
import type { BackendChoice } from '../engine/choices.js';
import type { Overrides, SearchRecipe } from '../search/recipe.js';
import type { RunSearchHooks } from '../run/search.js';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { searchProgress, trainProgress } from './progress.js';
import type { SearchEpoch } from '../search/loop.js';

interface SearchArgs extends CommonArgs {
  recipe: string;
  dryRun?: boolean;
  budget?: number;
}

/** `polynas search`: teacher → search → exact projection → finetune → export. */
export function searchCommand(ctx: CliContext) {
  return {
    command: 'search',
    describe: 'Search a ReLU-reduced network under a ReLU budget, finetune it and export architecture.json',
    builder: (y: Argv) =>
      commonOptions(y)
        .option('dry-run', { type: 'boolean', describe: 'Validate the recipe and build its networks, budgets and table, then stop' })
        .option('recipe', { type: 'string', demandOption: true, describe: 'Search recipe (JSON)' })
        .option('budget', { type: 'number', describe: 'ReLU budget: a count, or a fraction below 1 (overrides the recipe)' })
        .example('$0 search --recipe experiments/search-lenet5-mnist.json --out runs/s1', 'AutoReP search on the embedded MNIST digits')
        .example('$0 search --recipe experiments/search-resnet20-cifar10-subset.json --data-dir ../shared/datasets/cifar10-subset --budget 0.05 --out runs/r20-5pct', 'ResNet-20 at 5 % of its ReLUs'),
    handler: async (argv: ArgumentsCamelCase<SearchArgs>) => {
      const overrides = overridesFromArgs(argv);
      const recipe = await searchRecipeFromArgs(ctx, argv, overrides);
      if (!recipe) return;
      const outDir = argv.out ?? `runs/${recipe.name}`;
      ctx.print(`polynas search: ${recipe.name} → ${outDir}`);
      const { runSearchRecipe } = await import('../run/search.js');
      const r = await withSearchProgress(ctx, (hooks) => runSearchRecipe(recipe, { outDir, resume: argv.resume ?? false, fresh: argv.fresh ?? false, overrides, source: argv.recipe, hooks, download: { log: ctx.print } }));
      ctx.out(
        `budget ${r.budget ?? 'none'}: ${r.countBeforeProjection} ReLUs before projection, ${r.relus} exported; top-1 teacher ${(r.teacher.top1 * 100).toFixed(2)} %, projected ${(r.projected.top1 * 100).toFixed(2)} %, finetuned ${(r.finetuned.top1 * 100).toFixed(2)} %; ${outDir}/architecture.json`,
      );
    },
  };
}

/** The command line's overrides of a search recipe (applied by the run to a copy, and recorded). */
export function overridesFromArgs(argv: { dataDir?: string; seed?: number; backend?: string; budget?: number }, budgets?: number[]): Overrides {
  return {
    ...(argv.dataDir ? { dataDir: resolve(argv.dataDir) } : {}),
    ...(argv.seed !== undefined ? { seed: argv.seed } : {}),
    ...(argv.backend ? { backend: argv.backend as BackendChoice } : {}),
    ...(argv.budget !== undefined ? { budget: argv.budget } : {}),
    ...(budgets ? { budgets } : {}),
  };
}

/**
 * The recipe of `search` and `sweep`; with `--dry-run` it prints the compiled recipe (overrides
 * applied) instead and returns undefined.
 */
export async function searchRecipeFromArgs(ctx: CliContext, argv: { recipe: string; dryRun?: boolean }, overrides: Overrides): Promise<SearchRecipe | undefined> {
  if (argv.dryRun) {
    const { compileRecipe } = await import('../run/compile.js');
    ctx.out(JSON.stringify(await compileRecipe(argv.recipe, overrides), null, 2));
    return undefined;
  }
  const { loadSearchRecipe } = await import('../search/recipe.js');
  return loadSearchRecipe(argv.recipe);
}

/** Runs `f` with the training and search progress displays of `search` and `sweep`, stopped afterwards. */
export async function withSearchProgress<T>(ctx: CliContext, f: (hooks: RunSearchHooks) => Promise<T>): Promise<T> {
  const progress = trainProgress(ctx.print, { tty: ctx.tty });
  const sp = searchProgress(ctx.print, { tty: ctx.tty });
  try {
    return await f(searchHooks(ctx, progress, sp));
  } finally {
    progress.stop();
    sp.stop();
  }
}

/** The progress hooks of a search run: one line per epoch, whatever the strategy reports. */
function searchHooks(ctx: CliContext, progress: ReturnType<typeof trainProgress>, sp: ReturnType<typeof searchProgress>): RunSearchHooks {
  return {
    train: { ...progress, signal: ctx.signal },
    search: { onStep: sp.onStep, signal: ctx.signal, onEpoch: (e) => ctx.print(epochLine(e)) },
    phase: (p) => ctx.print(`== ${p}`),
    notice: (n) => ctx.print(`note: ${n}`),
  };
}

/** `search epoch 3: 8601 ReLUs, λ 12.4, test top-1 45.12 % (11.2 s)` (with the strategy's own figures). */
function epochLine(e: SearchEpoch): string {
  const parts = [`${e.count} ReLUs`];
  if (e.expectedRelus !== undefined) parts.push(`expected ReLUs ${Math.round(e.expectedRelus)}`);
  if (e.expectedLatency !== undefined) parts.push(`expected latency ${(e.expectedLatency * 100).toFixed(1)} % of all-ReLU`);
  if (e.lambda !== undefined) parts.push(`λ ${e.lambda.toPrecision(3)}`);
  parts.push(`test top-1 ${(e.test.top1 * 100).toFixed(2)} % (${e.seconds.toFixed(1)} s)`);
  return `search epoch ${e.epoch + 1}: ${parts.join(', ')}`;
}
