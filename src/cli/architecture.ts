import type { ArgumentsCamelCase, Argv } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { BackendChoice } from '../engine/choices.js';
import { BACKEND_CHOICES } from '../engine/choices.js';
import type { Normalization } from '../data/loader.js';
import type { TrainRecipe } from '../spec/recipe.js';
import type { Backbone } from '../backbones/backbone.js';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { trainProgress } from './progress.js';

/** The library, loaded when a command runs (so that --help starts fast). */
async function lib() {
  return {
    ...(await import('../engine/backend.js')),
    ...(await import('../export/architecture.js')),
    ...(await import('../io/atomic.js')),
    ...(await import('../io/json.js')),
    ...(await import('../latency/tables.js')),
    ...(await import('../run/finetune.js')),
    ...(await import('../run/train.js')),
    ...(await import('../spec/recipe.js')),
    ...(await import('../train/metrics.js')),
  };
}

const isArchitecture = (p: string) => p.endsWith('.json') || existsSync(`${p}.json`);

/**
 * The network at `path` (an exported architecture, a training run folder or a weights file), its
 * normalization and the recipe its data comes from (`recipeFile` when given, else the one it recorded).
 */
async function loadNetwork(path: string, recipeFile?: string): Promise<{ net: Backbone; norm: Normalization | undefined; recipe: Pick<TrainRecipe, 'name' | 'seed' | 'dataset'> }> {
  const { loadTrainRecipe, loadArchitecture, embeddedRecipe, loadTrainedModel, parseTrainRecipe, readJsonFile } = await lib();
  const given = recipeFile ? loadTrainRecipe(recipeFile) : undefined;
  if (isArchitecture(path)) {
    const { net, arch } = await loadArchitecture(path);
    return { net, norm: arch.normalization, recipe: given ?? embeddedRecipe(arch, path) };
  }
  const dir = existsSync(path) && statSync(path).isDirectory() ? path : resolve(path, '..');
  const { model, meta } = loadTrainedModel(path);
  const recorded = join(dir, 'recipe.json');
  if (!given && !existsSync(recorded)) throw new Error(`${dir}: no recipe.json beside the weights, so the dataset is unknown; pass --recipe`);
  return { net: model, norm: meta.normalization, recipe: given ?? parseTrainRecipe(readJsonFile(recorded, 'recipe'), recorded) };
}

interface EvaluateArgs {
  model: string;
  recipe?: string;
  dataDir?: string;
  backend?: string;
  json?: boolean;
}

/** `polynas evaluate`: test accuracy of an exported architecture or a trained network. */
export function evaluateCommand(ctx: CliContext) {
  return {
    command: 'evaluate <model>',
    describe: 'Test accuracy (top-1, top-5, loss) of an exported architecture or a trained network',
    builder: (y: Argv) =>
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'architecture.json, a training run folder, or a weights file' })
        .option('recipe', { type: 'string', describe: 'Training recipe whose dataset to use (default: the one the model came from)' })
        .option('data-dir', { type: 'string', describe: 'Folder with the dataset files' })
        .option('backend', { type: 'string', choices: [...BACKEND_CHOICES], describe: 'Compute backend (default auto)' })
        .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
        .example('$0 evaluate runs/search/architecture.json', 'Re-evaluate an exported ReLU-reduced network')
        .example('$0 evaluate runs/teacher --data-dir ../shared/datasets/cifar10-subset', 'A trained network on local files'),
    handler: async (argv: ArgumentsCamelCase<EvaluateArgs>) => {
      const { selectBackend, loadRecipeData, evaluate } = await lib();
      await selectBackend((argv.backend as BackendChoice | undefined) ?? 'auto');
      const { net, norm, recipe } = await loadNetwork(argv.model, argv.recipe);
      if (argv.dataDir) recipe.dataset.dir = resolve(argv.dataDir);
      const splits = await loadRecipeData(recipe, { log: ctx.print });
      if (!norm) throw new Error(`${argv.model}: no input normalization recorded`);
      const r = evaluate(net, splits.test, { norm });
      const relus = net.reluCount().total;
      net.dispose();
      if (argv.json) ctx.out(JSON.stringify({ model: argv.model, test: splits.test.name, relus, ...r }, null, 2));
      else ctx.out(`${argv.model} on ${splits.test.name} (${r.n} images, ${relus} ReLUs): top-1 ${(r.top1 * 100).toFixed(2)} %, top-5 ${(r.top5 * 100).toFixed(2)} %, loss ${r.loss.toFixed(4)}`);
    },
  };
}

interface FinetuneArgs extends CommonArgs {
  architecture: string;
  distill?: boolean;
  epochs?: number;
  lr?: number;
}

/** `polynas finetune`: more finetuning of an exported architecture, decisions frozen, then a new export. */
export function finetuneCommand(ctx: CliContext) {
  return {
    command: 'finetune <architecture>',
    describe: 'Finetune an exported architecture further (decisions frozen, distillation as in its recipe) and export it again',
    builder: (y: Argv) =>
      commonOptions(y)
        .positional('architecture', { type: 'string', demandOption: true, describe: 'architecture.json exported by search or sweep' })
        .option('epochs', { type: 'number', describe: "Override the recipe's finetune epochs" })
        .option('lr', { type: 'number', describe: "Override the recipe's finetune learning rate" })
        .option('distill', { type: 'boolean', describe: "Distill from the search's teacher (default: as the recipe says); --no-distill finetunes without it" })
        .example('$0 finetune runs/search/architecture.json --epochs 20 --out runs/search-ft', 'Twenty more epochs'),
    handler: async (argv: ArgumentsCamelCase<FinetuneArgs>) => {
      const outDir = argv.out ?? `${resolve(argv.architecture, '..')}-finetuned`;
      const { finetuneArchitecture } = await lib();
      const progress = trainProgress(ctx.print, { tty: ctx.tty });
      ctx.print(`polynas finetune: ${argv.architecture} → ${outDir}`);
      const r = await finetuneArchitecture(argv.architecture, {
        outDir, resume: argv.resume ?? false,
        ...(argv.epochs !== undefined ? { epochs: argv.epochs } : {}),
        ...(argv.lr !== undefined ? { lr: argv.lr } : {}),
        ...(argv.dataDir ? { dataDir: resolve(argv.dataDir) } : {}),
        ...(argv.seed !== undefined ? { seed: argv.seed } : {}),
        ...(argv.distill !== undefined ? { distill: argv.distill } : {}),
        ...(argv.backend ? { backend: argv.backend as BackendChoice } : {}),
        hooks: { ...progress, signal: ctx.signal },
        download: { log: ctx.print },
      }).finally(() => progress.stop());
      ctx.out(`${r.relus} ReLUs: top-1 ${(r.before.top1 * 100).toFixed(2)} % → ${(r.after.top1 * 100).toFixed(2)} % (${r.trainSeconds.toFixed(0)} s); ${outDir}/architecture.json`);
    },
  };
}

interface ExportArgs {
  architecture: string;
  table?: string;
  network?: string;
  out?: string;
  backend?: string;
  onnx?: string;
  profile: 'crypten' | 'ezpc' | 'plain';
  publicCoefficients?: boolean;
  verify: number;
  dataDir?: string;
}

/** `polynas export --onnx`: the deployed network as ONNX for an importer, checked in ONNX Runtime. */
async function exportOnnxFile(ctx: CliContext, argv: ArgumentsCamelCase<ExportArgs>): Promise<void> {
  if (!Number.isInteger(argv.verify) || argv.verify < 0) throw new Error(`--verify: expected a number of test images (0 skips the check), got ${argv.verify}`);
  if (argv.table || argv.out) throw new Error('export: --table and --out re-export an architecture; with --onnx, give the file to --onnx only');
  const { writeOnnx } = await import('../run/onnx.js');
  const { resolve } = await import('node:path');
  const r = await writeOnnx({
    model: resolve(argv.architecture), file: resolve(argv.onnx!), profile: argv.profile, verify: argv.verify,
    ...(argv.publicCoefficients ? { publicCoefficients: true } : {}), ...(argv.dataDir ? { dataDir: resolve(argv.dataDir) } : {}),
  });
  for (const w of r.warnings) ctx.print(`warning: ${w}`);
  const ops = Object.entries(r.histogram).map(([op, n]) => `${op} ${n}`).join(', ');
  ctx.out(`${argv.onnx}: ${(r.sizeBytes / 1e6).toFixed(2)} MB, ${r.profile} profile (opset ${r.opset}), ${r.relus} ReLUs, ${r.masks.length} masked sites; ops: ${ops}`);
  const c = r.check;
  ctx.out(c ? `ONNX Runtime vs polynas on ${c.images} test images: max |Δlogit| ${c.maxAbsDiff.toExponential(2)} (${c.relDiff.toExponential(2)} of the logits' scale), top-1 agreement ${(c.top1Agreement * 100).toFixed(1)} %` : 'not checked in ONNX Runtime (--verify 0)');
  if (c && !c.inputDependent) ctx.print(`warning: the network gives the same logits for all ${c.images} images (collapsed), so this check shows little`);
}

/** `polynas export`: re-export an architecture priced under another latency table, with a per-layer CSV. */
export function exportCommand(ctx: CliContext) {
  return {
    command: 'export <architecture>',
    describe: 'Re-export an architecture (JSON + weights) with its predicted latency under another table, plus a per-layer CSV; or, with --onnx, write it as ONNX for CrypTen, EzPC or any runtime',
    builder: (y: Argv) =>
      y
        .positional('architecture', { type: 'string', demandOption: true, describe: 'architecture.json exported by search or sweep' })
        .option('table', { type: 'string', describe: 'Latency table id or file (re-export)' })
        .option('network', { type: 'string', describe: 'Network profile of the table' })
        .option('out', { type: 'string', describe: 'Output base path: writes <out>.json, <out>.weights.bin and <out>.layers.csv (re-export)' })
        .option('onnx', { type: 'string', describe: 'Write the deployed network as ONNX to this file instead (an architecture.json, or a training run folder)' })
        .option('profile', { choices: ['crypten', 'ezpc', 'plain'] as const, default: 'plain' as const, describe: "ONNX: the importer whose op list the model keeps to (docs/onnx.md)" })
        .option('public-coefficients', { type: 'boolean', describe: 'ONNX: polynomial coefficients as Constant nodes (cheaper in CrypTen, revealed to the client); default: initializers, the server\'s secret' })
        .option('verify', { type: 'number', default: 8, describe: 'ONNX: test images to run in ONNX Runtime (onnxruntime-web) against polynas; 0 skips the check' })
        .option('data-dir', { type: 'string', describe: 'ONNX: folder with the dataset files for the check' })
        .option('backend', { type: 'string', choices: [...BACKEND_CHOICES], describe: 'Compute backend (default auto)' })
        .example('$0 export runs/search/architecture.json --table delphi-gc-epyc7502 --network LAN --out runs/search/delphi-lan', 'Price the searched network under DELPHI on a LAN')
        .example('$0 export runs/search/architecture.json --onnx model.onnx --profile crypten', 'ONNX for CrypTen, checked in ONNX Runtime'),
    handler: async (argv: ArgumentsCamelCase<ExportArgs>) => {
      if (!argv.onnx && (!argv.table || !argv.out)) throw new Error('export: --table and --out are required (or --onnx <file>)');
      const { selectBackend, loadArchitecture, loadLatencyTable, architectureFiles, toArchitecture, writeArchitecture, writeFileAtomic } = await lib();
      await selectBackend((argv.backend as BackendChoice | undefined) ?? 'auto');
      if (argv.onnx) return exportOnnxFile(ctx, argv);
      const { net, gates, arch } = await loadArchitecture(argv.architecture);
      const table = loadLatencyTable(argv.table!);
      const out = architectureFiles(argv.out!).json.slice(0, -'.json'.length);
      const a = toArchitecture(net, gates, {
        space: arch.space, strategy: arch.strategy, seed: arch.seed, table,
        ...(arch.budget !== undefined ? { budget: arch.budget } : {}), ...(argv.network ? { network: argv.network } : {}),
        ...(arch.relus.budgetIncludesMaxPool ? { countMaxPool: true } : {}),
        ...(arch.recipe ? { recipe: arch.recipe } : {}), ...(arch.metrics ? { metrics: arch.metrics } : {}), ...(arch.normalization ? { normalization: arch.normalization } : {}),
      });
      writeArchitecture(out, a, net);
      net.dispose();
      const lat = a.latency!;
      const kept = new Map(a.relus.perLayer.map((l) => [l.path, l]));
      writeFileAtomic(`${out}.layers.csv`, stringify(lat.perLayer.map((l) => ({ path: l.path, op: l.op, relus: kept.get(l.path)?.total ?? '', kept_relus: kept.get(l.path)?.kept ?? '', time: l.time, unit: lat.unit, comm_bytes: l.bytes, rounds: l.rounds })), { header: true }));
      const time = lat.totalMs != null ? `${(lat.totalMs / 1000).toFixed(3)} s` : `${lat.total.toFixed(1)} ${lat.unit}`;
      ctx.out(`${out}.json: ${a.relus.total} ReLUs, predicted ${time}, ${((lat.commBytes ?? 0) / 2 ** 20).toFixed(1)} MiB under ${table.id}${argv.network ? ` (${argv.network})` : ''}; per layer: ${out}.layers.csv`);
    },
  };
}
