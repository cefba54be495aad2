import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CliContext } from './common.js';

/** Parses `1k,5k,0.05,20000` into budgets (counts with an optional k/M suffix, or fractions). */
export function parseBudgets(text: string): number[] {
  return text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const m = /^([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kKmM]?)$/.exec(t);
    if (!m) throw new Error(`--budgets: '${t}' is not a budget (a count such as 12900 or 12.9k, or a fraction such as 0.05)`);
    const v = Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1);
    return m[2] ? Math.round(v) : v;
  });
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
