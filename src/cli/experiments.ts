import type { ArgumentsCamelCase, Argv } from 'yargs';
import { commonOptions, type CliContext, type CommonArgs } from './common.js';
import { overridesFromArgs, searchRecipeFromArgs, withSearchProgress } from './search.js';

/** Parses `1k,5k,0.05,20000` into budgets (counts with an optional k/M suffix, or fractions). */
export function parseBudgets(text: string): number[] {
  return text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const m = /^([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kKmM]?)$/.exec(t);
    if (!m) throw new Error(`--budgets: '${t}' is not a budget (a count such as 12900 or 12.9k, or a fraction such as 0.05)`);
    const v = Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1);
    return m[2] ? Math.round(v) : v;
  });
}

interface SweepArgs extends CommonArgs {
  recipe: string;
  dryRun?: boolean;
  budgets?: string;
  reference?: string[];
}

/** `polynas sweep`: the search at several budgets with one teacher, a CSV row per budget and the plots. */
export function sweepCommand(ctx: CliContext) {
  return {
    command: 'sweep',
    describe: 'Search at several ReLU budgets with one shared teacher; write sweep.csv, plots and summary.md (resumable)',
    builder: (y: Argv) =>
      commonOptions(y)
        .option('dry-run', { type: 'boolean', describe: 'Validate the recipe and build its networks, budgets and table, then stop' })
        .option('recipe', { type: 'string', demandOption: true, describe: 'Search recipe (JSON); its "sweep.budgets" unless --budgets' })
        .option('budgets', { type: 'string', describe: 'Comma-separated budgets: counts (12900, 12.9k) or fractions (0.05)' })
        .option('reference', { type: 'string', array: true, describe: 'CSV of reference points (series, relus and/or latency_ms, top1) drawn in the plots' })
        .example('$0 sweep --recipe experiments/sweep-resnet20-cifar10-subset.json --data-dir ../shared/datasets/cifar10-subset --out runs/sweep', 'ResNet-20 at the recipe\'s budgets')
        .example('$0 sweep --recipe experiments/search-lenet5-mnist.json --budgets 100,300,1k,3k --out runs/lenet-sweep', 'LeNet-5 at four budgets')
        .epilogue('A finished budget (its folder has result.json) is never searched again; run the same command to continue an interrupted sweep.'),
    handler: async (argv: ArgumentsCamelCase<SweepArgs>) => {
      const overrides = overridesFromArgs(argv, argv.budgets ? parseBudgets(argv.budgets) : undefined);
      const recipe = await searchRecipeFromArgs(ctx, argv, overrides);
      if (!recipe) return;
      const outDir = argv.out ?? `runs/${recipe.name}-sweep`;
      ctx.print(`polynas sweep: ${recipe.name} → ${outDir}`);
      const { runSweep } = await import('../run/sweep.js');
      const r = await withSearchProgress(ctx, (hooks) =>
        runSweep(recipe, {
          outDir,
          overrides,
          fresh: argv.fresh ?? false,
          source: argv.recipe,
          ...(argv.reference ? { references: argv.reference } : {}),
          hooks,
          download: { log: ctx.print },
          onBudget: (e) => ctx.print(`== budget ${e.budget} (${e.index + 1}/${e.count})${e.done ? ': finished earlier, kept' : ''}`),
        }),
      );
      for (const row of r.rows) ctx.out(`budget ${row.budget_spec}: ${row.relus} ReLUs, top-1 ${(row.top1 * 100).toFixed(2)} %${row.latency_ms !== '' ? `, ${(row.latency_ms / 1000).toFixed(3)} s predicted` : ''}`);
      ctx.out(`${r.csv}; plots: ${r.plots.filter((f) => f.endsWith('.png')).join(', ')}`);
    },
  };
}

interface PlotArgs {
  csv: string[];
  reference?: string[];
  out: string;
  title?: string;
}

/** `polynas plot`: ReLU count and latency vs accuracy, Pareto fronts marked, to SVG and PNG. */
export function plotCommand(ctx: CliContext) {
  return {
    command: 'plot <csv..>',
    describe: 'Plot ReLU count (log) and predicted latency vs accuracy with the Pareto front, to SVG and PNG',
    builder: (y: Argv) =>
      y
        .positional('csv', { type: 'string', array: true, demandOption: true, describe: 'sweep.csv files (one series per strategy)' })
        .option('reference', { type: 'string', array: true, describe: 'Reference CSV (series, relus and/or latency_ms, top1 as fraction or %)' })
        .option('out', { type: 'string', demandOption: true, describe: 'Folder for relus-vs-accuracy.{svg,png} and latency-vs-accuracy.{svg,png}' })
        .option('title', { type: 'string', describe: 'Chart title' })
        .example('$0 plot runs/sweep/sweep.csv --reference published.csv --out figures', 'A sweep beside published numbers'),
    handler: async (argv: ArgumentsCamelCase<PlotArgs>) => {
      const { readCurveCsv, renderCurvePlots } = await import('../report/plot.js');
      const points = [...argv.csv.flatMap((f) => readCurveCsv(f)), ...(argv.reference ?? []).flatMap((f) => readCurveCsv(f, f))];
      const { files } = await renderCurvePlots(points, { outDir: argv.out, ...(argv.title ? { title: argv.title } : {}) });
      for (const f of files) ctx.out(f);
    },
  };
}

/** `polynas report`: regenerates a run folder's summary.md (and a sweep's CSV and plots), or writes the HTML page of runs. */
export function reportCommand(ctx: CliContext) {
  return {
    command: 'report <run..>',
    describe: "Write and print a run folder's summary.md (training, search or sweep; a sweep's CSV and plots are rebuilt); with --html, one self-contained HTML page of one or more runs",
    builder: (y: Argv) =>
      y
        .positional('run', { type: 'string', array: true, demandOption: true, describe: 'Run folder(s); several only with --html' })
        .option('html', { type: 'boolean', describe: 'Write report.html: accuracy vs ReLUs and latency, per-layer ReLUs and latency, measured 2PC cost, settings (opens offline)' })
        .option('out', { type: 'string', describe: 'The HTML file (default: <first run>/report.html)' })
        .option('reference', { type: 'string', array: true, describe: 'CSV of published points (series, relus and/or latency_ms, top1) drawn in the HTML charts' })
        .option('title', { type: 'string', describe: 'Title of the HTML page' })
        .example('$0 report runs/sweep', 'Table of a sweep, CSV and plots rebuilt')
        .example('$0 report runs/sweep-autorep runs/sweep-snl --html --reference published.csv', 'One page comparing two sweeps with published results'),
    handler: async (argv: ArgumentsCamelCase<{ run: string[]; html?: boolean; out?: string; reference?: string[]; title?: string }>) => {
      if (!argv.html) {
        if (argv.run.length !== 1) throw new Error('report: several run folders need --html (summary.md is per run)');
        const { reportRun } = await import('../run/report.js');
        ctx.out(await reportRun(argv.run[0]!));
        return;
      }
      const { htmlReport } = await import('../run/report-html.js');
      const r = await htmlReport(argv.run, { ...(argv.out ? { out: argv.out } : {}), ...(argv.reference ? { references: argv.reference } : {}), ...(argv.title ? { title: argv.title } : {}) });
      ctx.out(`${r.file}: ${r.charts.length} charts (${r.charts.reduce((a, c) => a + c.rows, 0)} data marks); per-layer figures as SVG and PNG: ${r.figures.length} files under each run's plots/`);
    },
  };
}
