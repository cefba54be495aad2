import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { readArchitecture } from '../export/architecture.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDir } from '../io/dirs.js';
import { readJsonFile } from '../io/json.js';
import { POLYNAS_VERSION } from '../io/version.js';
import { escapeHtml, htmlTable, renderHtmlPage, type PageChart, type PageSection } from '../report/html.js';
import { latencyLayersSpec, reluLayersSpec, type LayerCost } from '../report/layers.js';
import { curveSpec, readCurveCsv, writeFigure, type CurvePoint } from '../report/plot.js';
import type { Architecture } from '../spec/architecture.js';
import { piLayersSpec, type PiRunReport } from './pi.js';
import { readPlan } from './plan.js';

/** One searched network of a run folder, with what the page shows of it. */
interface PageNetwork {
  id: string;
  dir: string;
  arch: Architecture;
  top1?: number;
  pi?: PiRunReport;
}

/** One run folder (a sweep or a single search) as the page reads it. */
interface PageRun {
  dir: string;
  name: string;
  series: string;
  points: CurvePoint[];
  teacherTop1?: number;
  networks: PageNetwork[];
  recipe?: unknown;
  meta?: Record<string, unknown>;
  wall: [string, number][];
}

const readJson = (f: string): Record<string, unknown> => readJsonFile(f, basename(f)) as Record<string, unknown>;

function network(dir: string, id: string): PageNetwork | undefined {
  const file = join(dir, 'architecture.json');
  if (!existsSync(file)) return undefined;
  const arch = readArchitecture(file);
  const top1 = arch.metrics?.finetunedTop1 ?? arch.metrics?.projectedTop1;
  const piFile = join(dir, 'pi-run.json');
  return { id, dir, arch, ...(typeof top1 === 'number' ? { top1 } : {}), ...(existsSync(piFile) ? { pi: readJson(piFile) as unknown as PiRunReport } : {}) };
}

function wallTimes(dir: string, networks: PageNetwork[]): [string, number][] {
  const out: [string, number][] = [];
  // A study of several seeds or backbones has a teacher folder per seed and backbone (its plan's teacher cells).
  const plan = join(dir, 'plan.json');
  const teachers = existsSync(plan) ? readPlan(plan).plan.cells.filter((c) => c.kind === 'teacher').map((c) => c.dir) : ['teacher'];
  for (const t of teachers) {
    const file = join(dir, t, 'result.json');
    const trained = existsSync(file) ? readJson(file).trainSeconds : undefined;
    if (typeof trained === 'number') out.push([t === 'teacher' ? 'teacher training' : `${t}: training`, trained]);
  }
  for (const n of networks) {
    const r = join(n.dir, 'result.json');
    if (!existsSync(r)) continue;
    const j = readJson(r);
    if (typeof j.searchSeconds === 'number') out.push([`${n.id}: search`, j.searchSeconds]);
    if (typeof j.finetuneSeconds === 'number') out.push([`${n.id}: fine-tuning`, j.finetuneSeconds]);
  }
  return out;
}

/** Reads a sweep folder (`sweep.csv`, a study's networks from `cells.csv`) or a search folder (`architecture.json`). */
function readRun(dir: string, used: Set<string>): PageRun {
  const sweep = join(dir, 'sweep.csv');
  let points: CurvePoint[], networks: PageNetwork[], teacherTop1: number | undefined;
  if (existsSync(sweep)) {
    points = readCurveCsv(sweep);
    const rows = parse(readFileSync(sweep, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
    teacherTop1 = rows[0]?.teacher_top1 ? Number(rows[0].teacher_top1) : undefined;
    // A study of several seeds or backbones: sweep.csv holds means over seeds, cells.csv each cell's folder.
    const cells = join(dir, 'cells.csv');
    const perCell = existsSync(cells) ? (parse(readFileSync(cells, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[]) : rows;
    networks = perCell.flatMap((r) => network(join(dir, r.run_dir!), r.run_dir!) ?? []);
  } else {
    // A search folder, or a folder of search folders (an unfinished sweep, or budgets run one by one).
    const single = network(dir, basename(dir));
    const subs = single ? [] : readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => network(join(dir, e.name), e.name) ?? []);
    networks = single ? [single] : subs;
    if (!networks.length) throw new Error(`${dir}: neither a sweep (sweep.csv) nor a search folder (architecture.json), nor a folder of search folders`);
    points = networks.flatMap((n) => (n.top1 !== undefined ? [{ series: 'polynas', relus: n.arch.relus.total, top1: n.top1, label: n.id, ...(n.arch.latency?.totalMs != null ? { latency: n.arch.latency.totalMs } : {}) }] : []));
    teacherTop1 = networks[0]!.arch.metrics?.teacherTop1;
  }
  const first = networks[0]?.arch;
  let series = `polynas ${first?.strategy ?? 'search'}`;
  if (used.has(series)) series += ` (seed ${first?.seed ?? '?'}, ${basename(dir)})`;
  for (let k = 2; used.has(series); k++) series = `${series.replace(/ #\d+$/, '')} #${k}`;
  used.add(series);
  const recipeFile = join(dir, 'recipe.json');
  const metaFile = networks[0] ? join(networks[0].dir, 'meta.json') : '';
  return {
    dir, name: basename(resolve(dir)), series, points: points.map((p) => ({ ...p, series })), ...(teacherTop1 !== undefined ? { teacherTop1 } : {}), networks,
    ...(existsSync(recipeFile) ? { recipe: readJsonFile(recipeFile, 'recipe') } : {}), ...(metaFile && existsSync(metaFile) ? { meta: readJson(metaFile) } : {}),
    wall: wallTimes(dir, networks),
  };
}

/** The architecture's priced layers; an operator the table counts as unmodelled is marked so. */
function layerCosts(arch: Architecture): LayerCost[] {
  const lat = arch.latency!;
  const unpriced = new Set(Object.keys(lat.unmodelled ?? {}));
  return lat.perLayer.map((l) => ({ path: l.path, op: l.op, time: l.time, modelled: !unpriced.has(l.op) }));
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** ReLU count (log) and latency vs accuracy, every run's Pareto front, the teachers and the reference curves. */
function curveCharts(runs: PageRun[], reference: CurvePoint[]): PageChart[] {
  const points = [...runs.flatMap((r) => r.points), ...reference];
  // Runs that share a teacher (the same accuracy) share its line.
  const byTop1 = new Map<number, string[]>();
  // (a sweep's CSV holds 5 digits, an architecture's metrics all of them)
  for (const r of runs) if (r.teacherTop1 !== undefined) {
    const k = Math.round(r.teacherTop1 * 1e4) / 1e4;
    byTop1.set(k, [...(byTop1.get(k) ?? []), r.name]);
  }
  const teacher = [...byTop1].map(([top1, names]) => ({ label: `all-ReLU teacher ${(top1 * 100).toFixed(2)} %${byTop1.size > 1 ? ` (${names.join(', ')})` : ''}`, top1 }));
  const unit = runs[0]?.networks[0]?.arch.latency;
  const charts: PageChart[] = [];
  for (const axis of ['relus', 'latency'] as const) {
    const n = points.filter((p) => p[axis] !== undefined && p[axis]! > 0).length;
    if (!n) continue;
    const latencyLabel = unit ? `predicted 2PC latency (ms, ${unit.table}${unit.network ? `, ${unit.network}` : ''})` : undefined;
    charts.push({
      id: `${axis}-vs-accuracy`, rows: n, spec: curveSpec(points, axis, { teacher, ...(latencyLabel ? { latencyLabel } : {}) }),
      caption: axis === 'relus' ? 'Top-1 accuracy against the exact ReLU count (log scale); lines join each series\' Pareto front, crosses are dominated points, dashed lines the all-ReLU teachers.' : 'Top-1 accuracy against the predicted 2PC latency of the latency table the search used.',
    });
  }
  return charts;
}

/** The per-network figures: ReLUs kept per site, predicted latency per layer, and measured vs predicted where `polynas pi run` ran. */
function networkCharts(run: PageRun, n: PageNetwork, position: number): PageChart[] {
  // The run's position keeps ids apart when two runs share a folder name.
  const key = `r${position}-${run.name}-${n.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const a = n.arch;
  const title = `${run.series}, ${n.id}: ${fmt(a.relus.total)} ReLUs${n.top1 !== undefined ? `, top-1 ${(n.top1 * 100).toFixed(2)} %` : ''}`;
  const charts: PageChart[] = [{ id: `relus-${key}`, ...reluLayersSpec(a.relus.perLayer, title), caption: 'ReLUs per activation site before (total) and after the search (kept), in network order, symmetric-log axis.' }];
  if (a.latency) {
    const l = a.latency;
    charts.push({ id: `latency-${key}`, ...latencyLayersSpec(layerCosts(a), { title: `${n.id}: predicted latency per layer (${l.table}${l.network ? `, ${l.network}` : ''})`, unit: l.unit }), caption: `Stacked by operator family; grey crosses mark layers the table does not price (${Object.keys(l.unmodelled ?? {}).join(', ') || 'none'}), which its total leaves out.` });
  }
  if (n.pi) {
    const rows = n.pi.layers.length + n.pi.layers.filter((r) => r.predicted?.modelled).length;
    charts.push({ id: `pi-${key}`, spec: piLayersSpec(n.pi), rows: 2 * rows - n.pi.layers.filter((r) => r.predicted?.modelled && r.predicted.ms === null).length, caption: 'Measured under real 2PC by polynas pi run next to the table\'s prediction, per layer: online time and traffic per image.' });
  }
  return charts;
}

function settingsHtml(run: PageRun): string {
  const m = run.meta ?? {};
  const facts: [string, string][] = [
    ['folder', run.dir], ['polynas', String(m.polynas ?? POLYNAS_VERSION)], ['TensorFlow.js', String(m.tfjs ?? '–')], ['backend', `${String(m.backend ?? '–')}${m.backendPackage ? ` (${String(m.backendPackage)})` : ''}`],
    ['threads', `${String(m.backendThreads ?? '–')}${m.backendThreadPolicy === 'adaptive' ? ' (adaptive)' : ''}`], ['Node', String(m.node ?? '–')], ['platform', String(m.platform ?? '–')],
  ];
  const wall = run.wall.map(([k, s]) => [k, `${s.toFixed(1)} s`] as [string, string]);
  return `${htmlTable(['setting', 'value'], [...facts, ...wall])}${run.recipe ? `<details><summary>recipe (normalized, as the run recorded it)</summary><pre>${escapeHtml(JSON.stringify(run.recipe, null, 2))}</pre></details>` : ''}`;
}

function networksTable(run: PageRun): string {
  return htmlTable(['network', 'ReLUs', 'budget met', 'top-1', 'predicted latency', 'measured (polynas pi)'], run.networks.map((n) => [
    n.id, fmt(n.arch.relus.total), n.arch.relus.budgetMet === undefined ? '–' : n.arch.relus.budgetMet ? 'yes' : 'no', n.top1 !== undefined ? `${(n.top1 * 100).toFixed(2)} %` : '–',
    n.arch.latency ? (n.arch.latency.totalMs != null ? `${n.arch.latency.totalMs.toFixed(1)} ms` : `${n.arch.latency.total.toFixed(1)} ${n.arch.latency.unit}`) : '–',
    n.pi ? `${n.pi.total.onlineMs.toFixed(1)} ms/image (${n.pi.link === 'loopback' ? 'loopback' : `RTT ${n.pi.link.rttMs.toFixed(2)} ms`})` : '–',
  ]));
}

/** Writes the per-layer figures of every network as SVG and PNG under `<run>/plots/`. */
async function writeFigures(run: PageRun, charts: PageChart[]): Promise<string[]> {
  const dir = join(run.dir, 'plots');
  makeDir(dir);
  const files: string[] = [];
  // File names without the page's run position: `relus-sweep-budget-1000.svg`.
  for (const c of charts) files.push(...(await writeFigure(join(dir, c.id.replace(/^([a-z]+)-r\d+-/, '$1-')), c.spec)));
  return files;
}

/** What {@link htmlReport} wrote. */
export interface HtmlReport {
  file: string;
  figures: string[];
  charts: { id: string; rows: number }[];
}

/**
 * Writes one self-contained HTML page for one or more run folders (sweeps or searches): ReLU count
 * and latency vs accuracy with Pareto fronts, the teachers and reference curves; per network the
 * ReLUs kept per site and the predicted latency per layer (and measured vs predicted where
 * `polynas pi run` left a `pi-run.json`); the runs' settings, versions and wall times. The
 * per-layer figures are also written as SVG and PNG under each run's `plots/`.
 *
 * @example
 * ```ts
 * await htmlReport(['runs/sweep-autorep', 'runs/sweep-snl'], { references: ['published.csv'] });
 * ```
 */
export async function htmlReport(dirs: string[], opts: { out?: string; references?: string[]; title?: string } = {}): Promise<HtmlReport> {
  if (!dirs.length) throw new Error('report: no run folder given');
  for (const d of dirs) if (!existsSync(d)) throw new Error(`${d}: no such run folder`);
  const used = new Set<string>();
  const runs = dirs.map((d) => readRun(d, used));
  const reference = (opts.references ?? []).flatMap((f) => readCurveCsv(f, basename(f, '.csv')));
  const sections: PageSection[] = [{ heading: 'Accuracy against ReLUs and latency', charts: curveCharts(runs, reference), ...(reference.length ? { text: [`Reference curves: ${opts.references!.join(', ')}.`] } : {}) }];
  const figures: string[] = [];
  for (const [position, run] of runs.entries()) {
    const charts = run.networks.flatMap((n) => networkCharts(run, n, position));
    figures.push(...(await writeFigures(run, charts)));
    sections.push({ heading: `${run.series}: ${run.name}`, html: networksTable(run), charts });
    sections.push({ heading: `${run.name}: settings, versions, wall times`, html: settingsHtml(run), folded: true });
  }
  const title = opts.title ?? `polynas report: ${runs.map((r) => r.name).join(', ')}`;
  const html = await renderHtmlPage({ title, subtitle: `Written by polynas ${POLYNAS_VERSION} on ${new Date().toISOString().slice(0, 10)} from ${dirs.length} run folder${dirs.length > 1 ? 's' : ''}.`, sections });
  const file = resolve(opts.out ?? join(dirs[0]!, 'report.html'));
  writeFileAtomic(file, html);
  return { file, figures, charts: sections.flatMap((s) => (s.charts ?? []).map((c) => ({ id: c.id, rows: c.rows }))) };
}
