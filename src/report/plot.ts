import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';
import type * as vl from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDir } from '../io/dirs.js';

/** One point of a ReLU-budget / latency vs accuracy curve. */
export interface CurvePoint {
  /** Curve name in the legend (e.g. `polynas autorep`, or a paper's name in a reference CSV). */
  series: string;
  /** Exact ReLU count of the network. */
  relus?: number;
  /** Predicted 2PC latency in ms (or in the table's own unit, see {@link PlotOptions.latencyLabel}). */
  latency?: number;
  /** Top-1 accuracy as a fraction in [0, 1]. */
  top1: number;
  /** Free label shown in tooltips of the SVG (e.g. the budget). */
  label?: string;
  /** Sample standard deviation of top-1 over seeds (a fraction), drawn as an error bar. */
  top1Sd?: number;
}

/**
 * Marks the Pareto front of points (fewer ReLUs or less latency is better, higher accuracy is
 * better): a point is on the front when no other point of its series is at least as good in both
 * and strictly better in one. Returns one flag per point.
 *
 * @example
 * ```ts
 * paretoFront([{ x: 1, y: 0.5 }, { x: 2, y: 0.4 }, { x: 3, y: 0.7 }]); // [true, false, true]
 * ```
 */
export function paretoFront(points: readonly { x: number; y: number }[]): boolean[] {
  return points.map((p, i) => !points.some((q, j) => j !== i && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y)));
}

/** How an accuracy column states its values: per value (`auto`), or declared by its header. */
export type AccuracyUnit = 'auto' | 'percent' | 'fraction';

/**
 * One accuracy value as a fraction, by one rule: a `%` suffix is a percentage; otherwise a column
 * that declares its unit (`top1_pct`, `top1 (%)`, `top1_frac`) decides; otherwise a value ≤ 1 is a
 * fraction and a value in (1, 100] a percentage. Anything else (negative, above 100, not a number)
 * cannot be decided and is refused.
 *
 * @example
 * ```ts runnable
 * parseAccuracy('97.1%'); // 0.971
 * parseAccuracy('0.969'); // 0.969
 * parseAccuracy('93.2'); // 0.932
 * ```
 */
export function parseAccuracy(text: string, unit: AccuracyUnit = 'auto'): number {
  const m = /^([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*(%?)$/.exec(text.trim());
  if (!m) throw new RangeError(`not an accuracy (got ${JSON.stringify(text)})`);
  const x = Number(m[1]);
  const percent = m[2] === '%' || unit === 'percent' || (unit === 'auto' && x > 1);
  if (percent ? x > 100 : x > 1) throw new RangeError(`accuracy ${JSON.stringify(text)} is above ${percent ? '100 %' : '1'}`);
  return percent ? x / 100 : x;
}

/** The unit an accuracy column's header declares (`top1_pct`, `top1 (%)`, `top1_frac`). */
function declaredUnit(header: string): AccuracyUnit {
  if (/(_pct|\(%\)|%)$/.test(header)) return 'percent';
  if (/_frac$/.test(header)) return 'fraction';
  return 'auto';
}

/**
 * Reads a curve CSV: a polynas sweep CSV (`relus`, `top1`, `latency_ms`/`latency`, `strategy`
 * columns) or a user's reference CSV with columns `series` (or `label`), `relus` and/or
 * `latency_ms`, and `top1` (or `accuracy`; each value read by {@link parseAccuracy}). ReLU counts
 * may carry a `K` suffix (`12.9K`). A bad value is reported with its line.
 *
 * @example
 * ```ts
 * const published = readCurveCsv('published.csv', 'SNL (paper)');
 * ```
 */
export function readCurveCsv(path: string, defaultSeries = 'polynas'): CurvePoint[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true, trim: true, comment: '#', info: true }) as typeof rows;
  } catch (e) {
    throw new Error(`${path}: cannot read the CSV (${(e as Error).message})`);
  }
  if (!rows.length) throw new Error(`${path}: no data rows`);
  const cols = Object.keys(rows[0]!.record);
  const accCol = cols.find((c) => /^(top1|accuracy|acc)(_pct|_frac|\s*\(%\)|%)?$/.test(c));
  if (!accCol) throw new Error(`${path}: needs an accuracy column 'top1' (or 'accuracy', 'top1_pct', 'top1 (%)'); columns are ${cols.join(', ')}`);
  const unit = declaredUnit(accCol);
  const latCol = ['latency_ms', 'latency'].find((c) => cols.includes(c));
  if (!cols.includes('relus') && !latCol) throw new Error(`${path}: needs a 'relus' or 'latency_ms' column; columns are ${cols.join(', ')}`);
  const num = (v: string | undefined, col: string, line: number): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const m = /^([0-9.eE+-]+)\s*([kKmM]?)$/.exec(v);
    const x = m ? Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1) : NaN;
    if (!Number.isFinite(x)) throw new Error(`${path}: line ${line}: column '${col}' is not a number (got ${JSON.stringify(v)})`);
    return x;
  };
  return rows.map(({ record: r, info }) => {
    const line = info.lines;
    const raw = r[accCol];
    if (raw === undefined || raw === '') throw new Error(`${path}: line ${line}: empty '${accCol}'`);
    let top1: number;
    try {
      top1 = parseAccuracy(raw, unit);
    } catch (e) {
      throw new Error(`${path}: line ${line}: column '${accCol}': ${(e as Error).message}`);
    }
    const relus = num(r.relus, 'relus', line);
    const latency = latCol ? num(r[latCol], latCol, line) : undefined;
    const series = r.series || r.label || (r.strategy ? `polynas ${r.strategy}${r.backbone ? ` (${r.backbone})` : ''}` : defaultSeries);
    const sd = r.top1_sd ? num(r.top1_sd, 'top1_sd', line) : undefined;
    return { series, top1, ...(sd !== undefined ? { top1Sd: sd } : {}), ...(relus !== undefined ? { relus } : {}), ...(latency !== undefined ? { latency } : {}), ...(r.budget ? { label: `budget ${r.budget}` } : {}) };
  });
}

/** Options of {@link renderCurvePlots}. */
export interface PlotOptions {
  /** Folder for the figures (created). */
  outDir: string;
  title?: string;
  /** Axis title of the latency plot (default `predicted 2PC latency (ms)`). */
  latencyLabel?: string;
  /** PNG pixel ratio (default 2). */
  scale?: number;
}

/** Paths of the figures {@link renderCurvePlots} wrote. */
export interface PlotFiles {
  files: string[];
}

type Axis = 'relus' | 'latency';

/**
 * The vega-lite spec of one accuracy-vs-cost chart with the Pareto front of each series drawn as a line.
 *
 * @example
 * ```ts
 * const spec = curveSpec(readCurveCsv('runs/sweep/sweep.csv'), 'relus', { title: 'ResNet-20' });
 * const svg = await renderSvg(spec);
 * ```
 */
export function curveSpec(points: readonly CurvePoint[], axis: Axis, opts: { title?: string; latencyLabel?: string; teacher?: { label: string; top1: number }[] } = {}): vl.TopLevelSpec {
  const rows = points.filter((p) => p[axis] !== undefined && p[axis]! > 0).map((p) => ({ ...p, x: p[axis]!, acc: p.top1 * 100 }));
  const bySeries = new Map<string, typeof rows>();
  for (const r of rows) bySeries.set(r.series, [...(bySeries.get(r.series) ?? []), r]);
  const values: Record<string, unknown>[] = [];
  for (const list of bySeries.values()) {
    const front = paretoFront(list.map((r) => ({ x: r.x, y: r.acc })));
    list.forEach((r, i) => values.push({ series: r.series, x: r.x, acc: r.acc, pareto: front[i] ? 'Pareto front' : 'dominated', label: r.label ?? '', ...(r.top1Sd !== undefined ? { lo: r.acc - r.top1Sd * 100, hi: r.acc + r.top1Sd * 100 } : {}) }));
  }
  const xTitle = axis === 'relus' ? 'ReLU count (log scale)' : (opts.latencyLabel ?? 'predicted 2PC latency (ms)');
  // The all-ReLU teachers as horizontal reference lines, labelled at the right end.
  const teachers = (opts.teacher ?? []).map((t) => ({ label: t.label, acc: t.top1 * 100 }));
  const teacherLayers = teachers.length
    ? [
        { data: { values: teachers }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { y: { field: 'acc', type: 'quantitative' }, x: null, color: null } },
        // One label per teacher, stacked upwards so that close accuracies do not print over each other.
        ...teachers.map((t, i) => ({ data: { values: [t] }, mark: { type: 'text', align: 'right', dy: -6 - 12 * i, x: 'width', color: '#555', fontSize: 10 }, encoding: { y: { field: 'acc', type: 'quantitative' }, x: null, color: null, text: { field: 'label' } } })),
      ]
    : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    width: 460,
    height: 300,
    data: { values },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: axis === 'relus' ? { type: 'log' } : { zero: false } },
      y: { field: 'acc', type: 'quantitative', title: 'top-1 accuracy (%)', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 320 } },
    },
    layer: [
      { transform: [{ filter: "datum.pareto === 'Pareto front'" }], mark: { type: 'line', strokeWidth: 2 }, encoding: { order: { field: 'x', type: 'quantitative' } } },
      {
        mark: { type: 'point', size: 70, strokeWidth: 2, filled: true },
        encoding: {
          shape: { field: 'pareto', type: 'nominal', title: null, scale: { domain: ['Pareto front', 'dominated'], range: ['circle', 'cross'] } },
          tooltip: [{ field: 'series' }, { field: 'x', title: xTitle }, { field: 'acc', title: 'top-1 %', format: '.2f' }, { field: 'label' }],
        },
      },
      // Mean ± sd over seeds, where the CSV has a top1_sd column.
      ...(values.some((v) => v.lo !== undefined) ? [{ transform: [{ filter: 'isValid(datum.lo)' }], mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } }] : []),
      ...teacherLayers,
    ],
  } as vl.TopLevelSpec;
}

/**
 * Renders a vega-lite spec headless to SVG text (no browser, no canvas).
 *
 * @example
 * ```ts
 * writeFileSync('fig.svg', await renderSvg(curveSpec(points, 'latency')));
 * ```
 */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  // vega is loaded here, not at import: it has a top-level await (vega-canvas), which would keep
  // CommonJS users from require()-ing polynas.
  const vega = await import('vega');
  const view = new vega.View(vega.parse(await compileQuiet(spec)), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A vega-lite spec compiled to vega, without vega-lite's console warnings. */
export async function compileQuiet(spec: vl.TopLevelSpec): Promise<import('vega').Spec> {
  const { compile } = await import('vega-lite');
  const quiet = { level: () => quiet, error: () => quiet, warn: () => quiet, info: () => quiet, debug: () => quiet } as unknown as NonNullable<Parameters<typeof compile>[1]>['logger'];
  return compile(spec, { logger: quiet }).spec;
}

/** Renders a spec to `<base>.svg` and `<base>.png` (atomically); returns both paths. */
export async function writeFigure(base: string, spec: vl.TopLevelSpec, scale = 2): Promise<[string, string]> {
  const svg = await renderSvg(spec);
  writeFileAtomic(`${base}.svg`, svg);
  writeFileAtomic(`${base}.png`, svgToPng(svg, scale));
  return [`${base}.svg`, `${base}.png`];
}

/**
 * Rasterizes SVG text to PNG (resvg, system fonts).
 *
 * @example
 * ```ts
 * writeFileSync('fig.png', svgToPng(await renderSvg(spec), 2));
 * ```
 */
export function svgToPng(svg: string, scale = 2): Buffer {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}

/**
 * Renders ReLU count (log x) vs accuracy and predicted latency vs accuracy, each series' Pareto
 * front drawn as a line and dominated points as crosses, to SVG and PNG files in `outDir`
 * (`relus-vs-accuracy.*`, `latency-vs-accuracy.*`). A chart without data (no latency column) is
 * skipped.
 *
 * @example
 * ```ts
 * const points = [...readCurveCsv('runs/sweep/sweep.csv'), ...readCurveCsv('published.csv', 'paper')];
 * await renderCurvePlots(points, { outDir: 'runs/sweep/plots', title: 'ResNet-20, CIFAR-10 subset' });
 * ```
 */
export async function renderCurvePlots(points: readonly CurvePoint[], opts: PlotOptions): Promise<PlotFiles> {
  makeDir(opts.outDir);
  const files: string[] = [];
  for (const axis of ['relus', 'latency'] as const) {
    if (!points.some((p) => p[axis] !== undefined && p[axis]! > 0)) continue;
    files.push(...(await writeFigure(join(opts.outDir, axis === 'relus' ? 'relus-vs-accuracy' : 'latency-vs-accuracy'), curveSpec(points, axis, opts), opts.scale ?? 2)));
  }
  if (!files.length) throw new Error('nothing to plot: no point has a ReLU count or a latency');
  return { files };
}
