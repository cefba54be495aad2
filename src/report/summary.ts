import type { Architecture, LatencySummary } from '../spec/architecture.js';
import type { FinetuneResultFile, SearchResultFile, SweepRow, TrainResultFile } from '../spec/result.js';

/**
 * The `summary.md` of every run kind: written by the run when it ends and by `polynas report` from
 * the files the run left, with the same function, so the two never differ.
 */

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** A Markdown table: figures (the default: every column but the first) right-aligned, text left-aligned. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], text: (column: number) => boolean = (i) => i === 0): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (text(i) ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/**
 * One line with a network's predicted 2PC latency.
 *
 * @example
 * ```ts
 * latencyLine(arch.latency); // '- predicted 2PC latency 7.844 s under crypten-2pc-dealer (WAN), 13.5 MiB communicated, 189 rounds'
 * ```
 */
export function latencyLine(l: LatencySummary | undefined): string | undefined {
  if (!l) return undefined;
  const time = l.totalMs != null ? `${(l.totalMs / 1000).toFixed(3)} s` : `${l.total.toFixed(1)} ${l.unit}`;
  const comm = l.commBytes !== undefined ? `, ${(l.commBytes / 2 ** 20).toFixed(1)} MiB communicated` : '';
  const rounds = l.rounds !== undefined ? `, ${l.rounds} rounds` : '';
  const caveats = l.caveats?.length ? `; ${l.caveats.join('; ')}` : '';
  return `- predicted 2PC latency ${time} under ${l.table}${l.network ? ` (${l.network})` : ''}${comm}${rounds}${caveats}`;
}

/** The headline figures of an export's latency (without the per-layer list). */
export function latencySummary(arch: Pick<Architecture, 'latency'>): LatencySummary | undefined {
  if (!arch.latency) return undefined;
  const { perLayer: _p, unmodelled: _u, ...head } = arch.latency;
  return head;
}

/** What a training summary reads. */
export interface TrainSummaryInput {
  name: string;
  backbone: string;
  dataset: string;
  parameters?: number;
  relus?: number;
  result: TrainResultFile;
  /** `metrics.csv` rows (header first), as text cells. */
  metrics: string[][];
}

/** `summary.md` of a training run. */
export function summarizeTrainRun(t: TrainSummaryInput): string {
  const r = t.result;
  const sizes = t.parameters !== undefined ? ` (${t.parameters.toLocaleString('en-US')} parameters, ${t.relus!.toLocaleString('en-US')} ReLUs)` : '';
  return [
    `# ${t.name}`, '',
    `- ${t.backbone}${sizes} on ${t.dataset}`,
    `- test top-1 **${pct(r.final.top1)}**, top-5 ${pct(r.final.top5)}, loss ${r.final.loss === null ? 'not finite' : r.final.loss.toFixed(4)} (${r.final.n} images)`,
    `- ${r.epochs} epochs, ${r.steps} steps, ${r.trainSeconds.toFixed(0)} s on the ${r.backend} backend`,
    ...(t.metrics.length > 1 ? ['', ...markdownTable(t.metrics[0]!, t.metrics.slice(1))] : []), '',
  ].join('\n');
}

/** `summary.md` of a search run, from its architecture and result. */
export function summarizeSearchRun(name: string, a: Architecture, r: SearchResultFile): string {
  const total = a.relus.searchable ?? a.relus.perLayer.reduce((s, l) => s + l.total, 0);
  const lat = latencyLine(latencySummary(a));
  return [
    `# ${name}`, '',
    `- backbone ${a.backbone}, space ${a.space.name}, strategy ${r.strategy}, seed ${r.seed}`,
    `- budget ${r.budget ?? 'none (argmax per gate)'} of ${total} searchable ReLUs; ${r.countBeforeProjection} before projection, **${r.relus} exported**`,
    `- top-1: teacher ${pct(r.teacher.top1)}, after projection ${pct(r.projected.top1)}, **finetuned ${pct(r.finetuned.top1)}** (top-5 ${pct(r.finetuned.top5)})`,
    ...(lat ? [lat] : []),
    `- wall time: search ${r.searchSeconds.toFixed(0)} s, finetune ${r.finetuneSeconds.toFixed(0)} s`,
    '', ...markdownTable(['site', 'ReLUs', 'kept', 'kept (%)'], a.relus.perLayer.map((p) => [p.path, p.total, p.kept, p.total ? ((p.kept / p.total) * 100).toFixed(1) : '–'])),
    '', 'Files: `architecture.json` + `architecture.weights.bin` (load with `loadArchitecture`), `recipe.json` (the normalized recipe), `log.jsonl`.', '',
  ].join('\n');
}

/** `summary.md` of `polynas finetune`. */
export function summarizeFinetuneRun(name: string, from: string, r: FinetuneResultFile, distilled: boolean): string {
  return [
    `# ${name}: finetuned`, '',
    `- from ${from}: ${r.relus} ReLUs, decisions frozen`,
    `- top-1 ${pct(r.before.top1)} → **${pct(r.final.top1)}** after ${r.epochs} epochs (${r.trainSeconds.toFixed(0)} s)${distilled ? ', distilled from the teacher' : ''}`, '',
  ].join('\n');
}

/**
 * `summary.md` of a sweep.
 *
 * @example
 * ```ts
 * writeFileSync('summary.md', summarizeSweep('my sweep', rows, 0));
 * ```
 */
export function summarizeSweep(name: string, rows: readonly SweepRow[], missing = 0): string {
  const p = (x: number) => (x * 100).toFixed(2);
  return [
    `# Sweep ${name}`, '',
    `Teacher (all-ReLU) top-1: ${rows[0] ? p(rows[0].teacher_top1) : '–'} %. Strategy ${rows[0]?.strategy ?? '–'}, ${rows[0] && String(rows[0].seed) === '' ? 'means over seeds (`cells.csv` has each seed)' : `seed ${rows[0]?.seed ?? '–'}`}.`, '',
    ...markdownTable(
      ['budget', 'ReLUs before projection', 'exported ReLUs', 'top-1 after projection (%)', 'top-1 finetuned (%)', 'predicted latency (ms)', 'communication (MiB)', 'search (s)', 'finetune (s)'],
      rows.map((r) => [r.budget === '' ? '–' : r.budget, r.relus_before_projection, r.relus, p(r.projected_top1), p(r.top1), r.latency_ms === '' ? '–' : r.latency_ms.toFixed(1), r.comm_mib === '' ? '–' : r.comm_mib.toFixed(1), r.search_s.toFixed(0), r.finetune_s.toFixed(0)]),
    ),
    '', 'Plots: `plots/relus-vs-accuracy.png`, `plots/latency-vs-accuracy.png`. Data: `sweep.csv`.', '',
    ...(missing ? [`${missing} budgets have not finished; \`polynas sweep\` with the same recipe and folder continues them.`, ''] : []),
  ].join('\n');
}

/**
 * A finished budget's `result.json` as a `sweep.csv` row.
 *
 * @example
 * ```ts
 * const row = sweepRow(0.05, result, 'runs/sweep/budget-0.05');
 * ```
 */
export function sweepRow(spec: number, r: SearchResultFile, dir: string): SweepRow {
  const l = r.latency;
  const round = (x: number, d: number) => Number(x.toFixed(d));
  return {
    budget_spec: spec,
    budget: r.budget ?? '',
    relus: r.relus,
    relus_before_projection: r.countBeforeProjection,
    top1: round(r.finetuned.top1, 5),
    top5: round(r.finetuned.top5, 5),
    projected_top1: round(r.projected.top1, 5),
    teacher_top1: round(r.teacher.top1, 5),
    latency_table: l?.table ?? '',
    latency_network: l?.network ?? '',
    latency_ms: l?.totalMs != null ? round(l.totalMs, 3) : '',
    latency: l ? round(l.total, 4) : '',
    latency_unit: l?.unit ?? '',
    comm_mib: l?.commBytes !== undefined ? round(l.commBytes / 2 ** 20, 3) : '',
    rounds: l?.rounds ?? '',
    search_s: round(r.searchSeconds, 1),
    finetune_s: round(r.finetuneSeconds, 1),
    strategy: r.strategy,
    seed: r.seed,
    run_dir: dir,
  };
}
