import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolve } from 'node:path';
import type { BackendChoice } from '../engine/choices.js';
import { commonOptions, type CommonArgs, type CliContext } from './common.js';
import { trainProgress } from './progress.js';

interface TrainArgs extends CommonArgs {
  recipe: string;
  epochs?: number;
}

/** `polynas train`: pretrains the network a recipe describes (e.g. the all-ReLU teacher). */
export function trainCommand(ctx: CliContext) {
  return {
    command: 'train',
    describe: 'Train the network a recipe describes (e.g. the all-ReLU teacher a search starts from)',
    builder: (y: Argv) =>
      commonOptions(y)
        .option('recipe', { type: 'string', demandOption: true, describe: 'Training recipe (JSON)' })
        .option('epochs', { type: 'number', describe: 'Override the recipe\'s number of epochs' })
        .example('$0 train --recipe experiments/quickstart-lenet-mnist.json --out runs/lenet', 'Train LeNet-5 on the embedded MNIST digits')
        .example('$0 train --recipe experiments/resnet20-cifar10-subset.json --data-dir ../shared/datasets/cifar10-subset --out runs/r20', 'Train ResNet-20 on local CIFAR-10 files')
        .example('$0 train --recipe r.json --out runs/r20 --resume', 'Continue an interrupted run from its last checkpoint'),
    handler: async (argv: ArgumentsCamelCase<TrainArgs>) => {
      // The library is loaded when a command runs, so that --help starts fast.
      const { loadTrainRecipe } = await import('../spec/recipe.js');
      const { runTraining } = await import('../run/train.js');
      const recipe = loadTrainRecipe(argv.recipe);
      if (argv.dataDir) recipe.dataset.dir = resolve(argv.dataDir);
      if (argv.seed !== undefined) recipe.seed = argv.seed;
      if (argv.epochs !== undefined) recipe.train.epochs = argv.epochs;
      const outDir = argv.out ?? `runs/${recipe.name}`;
      const progress = trainProgress(ctx.print, { tty: ctx.tty });
      ctx.print(`polynas train: ${recipe.name} → ${outDir}`);
      const run = await runTraining(recipe, {
        outDir,
        resume: argv.resume ?? false,
        fresh: argv.fresh ?? false,
        source: argv.recipe,
        notice: (n) => ctx.print(`note: ${n}`),
        ...(argv.backend ? { backend: argv.backend as BackendChoice } : {}),
        hooks: { ...progress, signal: ctx.signal, onLog: (r) => { if (r.type === 'resume') ctx.print(`resuming at epoch ${Number(r.epoch) + 1}, batch ${String(r.batch)}`); } },
        download: { log: ctx.print },
      }).finally(() => progress.stop());
      ctx.print(`backend: ${run.backend}`);
      if (!run.completed) {
        ctx.print(`stopped; checkpoint saved in ${outDir}. Continue with --resume.`);
        ctx.setExitCode(130);
        return;
      }
      const f = run.final!;
      ctx.out(`test top-1 ${(f.top1 * 100).toFixed(2)} % top-5 ${(f.top5 * 100).toFixed(2)} % loss ${f.loss.toFixed(4)} after ${run.history.length} epochs (${run.trainSeconds.toFixed(1)} s of training); run folder ${outDir}`);
    },
  };
}
