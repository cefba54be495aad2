import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolve } from 'node:path';
import type { BackendChoice } from '../engine/backend.js';
import { loadSearchRecipe } from '../search/recipe.js';
import { runSearchRecipe } from '../search/pipeline.js';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { trainProgress } from './progress.js';

interface SearchArgs extends CommonArgs {
  recipe: string;
  budget?: number;
}

/** `polynas search`: teacher → search → exact projection → finetune → export. */
export function searchCommand(ctx: CliContext) {
  return {
    command: 'search',
    describe: 'Search a ReLU-reduced network under a ReLU budget, finetune it and export architecture.json',
    builder: (y: Argv) =>
      commonOptions(y)
        .option('recipe', { type: 'string', demandOption: true, describe: 'Search recipe (JSON)' })
        .option('budget', { type: 'number', describe: 'ReLU budget: a count, or a fraction below 1 (overrides the recipe)' })
        .example('$0 search --recipe experiments/search-lenet5-mnist.json --out runs/s1', 'AutoReP search on the embedded MNIST digits')
        .example('$0 search --recipe experiments/search-resnet20-cifar10-subset.json --data-dir ../shared/datasets/cifar10-subset --budget 0.05 --out runs/r20-5pct', 'ResNet-20 at 5 % of its ReLUs'),
    handler: async (argv: ArgumentsCamelCase<SearchArgs>) => {
      const recipe = loadSearchRecipe(argv.recipe);
      if (argv.dataDir) recipe.dataset.dir = resolve(argv.dataDir);
      if (argv.seed !== undefined) recipe.seed = argv.seed;
      const outDir = argv.out ?? `runs/${recipe.name}`;
      const progress = trainProgress(ctx.print, { tty: ctx.tty });
      ctx.print(`polynas search: ${recipe.name} → ${outDir}`);
      const r = await runSearchRecipe(recipe, {
        outDir,
        resume: argv.resume ?? false,
        ...(argv.backend ? { backend: argv.backend as BackendChoice } : {}),
        ...(argv.budget !== undefined ? { budget: argv.budget } : {}),
        hooks: {
          train: { ...progress, signal: ctx.signal },
          search: {
            onStep: (e) => {
              if (e.step % 50 === 0) ctx.print(`search step ${e.step}/${e.totalSteps}: ${e.count} ReLUs kept (target ${Math.round(e.target)}), loss ${e.loss.toFixed(4)}`);
            },
            onEpoch: (e) => ctx.print(`search epoch ${e.epoch + 1}: ${e.count} ReLUs, test top-1 ${(e.test.top1 * 100).toFixed(2)} % (${e.seconds.toFixed(1)} s)`),
          },
          darts: {
            onEpoch: (e) => ctx.print(`darts epoch ${e.epoch + 1}: expected ReLUs ${Math.round(e.expectedRelus)}, expected latency ${(e.expectedLatency * 100).toFixed(1)} % of all-ReLU, test top-1 ${(e.test.top1 * 100).toFixed(2)} % (${e.seconds.toFixed(1)} s)`),
          },
          phase: (p) => ctx.print(`== ${p}`),
        },
        download: { log: ctx.print },
      }).finally(() => progress.stop());
      ctx.out(
        `budget ${r.budget ?? 'none'}: ${r.countBeforeProjection} ReLUs before projection, ${r.relus} exported; top-1 teacher ${(r.teacher.top1 * 100).toFixed(2)} %, projected ${(r.projected.top1 * 100).toFixed(2)} %, finetuned ${(r.finetuned.top1 * 100).toFixed(2)} %; ${outDir}/architecture.json`,
      );
    },
  };
}
