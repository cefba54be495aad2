import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolve } from 'node:path';
import type { BackendChoice } from '../engine/backend.js';
import { loadSearchRecipe, type SearchRecipe } from '../search/recipe.js';
import { compileRecipe } from '../run/compile.js';
import { runSearchRecipe } from '../run/search.js';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { searchProgress, trainProgress } from './progress.js';
import type { RunSearchOptions } from '../run/search.js';

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
      const recipe = searchRecipeFromArgs(ctx, argv);
      if (!recipe) return;
      const outDir = argv.out ?? `runs/${recipe.name}`;
      ctx.print(`polynas search: ${recipe.name} → ${outDir}`);
      const r = await withSearchProgress(ctx, (hooks) =>
        runSearchRecipe(recipe, {
          outDir,
          resume: argv.resume ?? false,
          ...(argv.backend ? { backend: argv.backend as BackendChoice } : {}),
          ...(argv.budget !== undefined ? { budget: argv.budget } : {}),
          hooks,
          download: { log: ctx.print },
        }),
      );
      ctx.out(
        `budget ${r.budget ?? 'none'}: ${r.countBeforeProjection} ReLUs before projection, ${r.relus} exported; top-1 teacher ${(r.teacher.top1 * 100).toFixed(2)} %, projected ${(r.projected.top1 * 100).toFixed(2)} %, finetuned ${(r.finetuned.top1 * 100).toFixed(2)} %; ${outDir}/architecture.json`,
      );
    },
  };
}

/**
 * The recipe of `search` and `sweep` with the command line's overrides (`--data-dir`, `--seed`);
 * with `--dry-run` it prints the compiled recipe instead and returns undefined.
 */
export function searchRecipeFromArgs(ctx: CliContext, argv: { recipe: string; dryRun?: boolean; dataDir?: string; seed?: number }): SearchRecipe | undefined {
  if (argv.dryRun) {
    ctx.out(JSON.stringify(compileRecipe(argv.recipe), null, 2));
    return undefined;
  }
  const recipe = loadSearchRecipe(argv.recipe);
  if (argv.dataDir) recipe.dataset.dir = resolve(argv.dataDir);
  if (argv.seed !== undefined) recipe.seed = argv.seed;
  return recipe;
}

/** Runs `f` with the training and search progress displays of `search` and `sweep`, stopped afterwards. */
export async function withSearchProgress<T>(ctx: CliContext, f: (hooks: NonNullable<RunSearchOptions['hooks']>) => Promise<T>): Promise<T> {
  const progress = trainProgress(ctx.print, { tty: ctx.tty });
  const sp = searchProgress(ctx.print, { tty: ctx.tty });
  try {
    return await f(searchHooks(ctx, progress, sp));
  } finally {
    progress.stop();
    sp.stop();
  }
}

/** The progress hooks of a search run. */
function searchHooks(ctx: CliContext, progress: ReturnType<typeof trainProgress>, sp: ReturnType<typeof searchProgress>): NonNullable<RunSearchOptions['hooks']> {
  return {
    train: { ...progress, signal: ctx.signal },
    search: {
      onStep: sp.onStep,
      signal: ctx.signal,
      onEpoch: (e) => ctx.print(`search epoch ${e.epoch + 1}: ${e.count} ReLUs, test top-1 ${(e.test.top1 * 100).toFixed(2)} % (${e.seconds.toFixed(1)} s)`),
    },
    darts: {
      onEpoch: (e) => ctx.print(`darts epoch ${e.epoch + 1}: expected ReLUs ${Math.round(e.expectedRelus)}, expected latency ${(e.expectedLatency * 100).toFixed(1)} % of all-ReLU, test top-1 ${(e.test.top1 * 100).toFixed(2)} % (${e.seconds.toFixed(1)} s)`),
    },
    snl: {
      onEpoch: (e) => ctx.print(`snl epoch ${e.epoch + 1}: ${e.count} ReLUs, λ ${e.lambda.toPrecision(3)}, test top-1 ${(e.test.top1 * 100).toFixed(2)} %`),
    },
    phase: (p) => ctx.print(`== ${p}`),
  };
}
