import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { budgetDirName, renderSweepPlots, sweepRow, sweepSummary, writeSweepCsv } from './sweep.js';
import type { SearchRecipe } from '../search/recipe.js';
import { latencyLine } from './search.js';

const readJson = <T>(file: string): T => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
};

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/**
 * Writes (and returns) the `summary.md` of a run folder from what the run left there, so a report
 * can be regenerated at any time:
 *
 * - a sweep folder (`sweep.csv`): the table of budgets, with `sweep.csv` and the plots rebuilt from
 *   the budget folders' results;
 * - a search folder (`architecture.json`): budget, counts before and after projection, accuracies,
 *   predicted latency and the per-layer ReLUs kept;
 * - a training folder (`result.json`): accuracy, epochs, time and the epoch table.
 *
 * @example
 * ```ts
 * console.log(await reportRun('runs/sweep'));
 * ```
 */
export async function reportRun(dir: string): Promise<string> {
  if (!existsSync(dir)) throw new Error(`${dir}: no such run folder`);
  let text: string;
  if (existsSync(join(dir, 'sweep.csv'))) text = await sweepReport(dir);
  else if (existsSync(join(dir, 'architecture.json')) && existsSync(join(dir, 'result.json'))) text = searchReport(dir);
  else if (existsSync(join(dir, 'result.json'))) text = trainReport(dir);
  else throw new Error(`${dir}: not a finished polynas run (no result.json or sweep.csv); a running or interrupted run is continued with --resume`);
  writeFileAtomic(join(dir, 'summary.md'), text);
  return text;
}

async function sweepReport(dir: string): Promise<string> {
  const recipe = readJson<SearchRecipe>(join(dir, 'recipe.json'));
  const budgets = recipe.sweep?.budgets ?? [];
  const rows = budgets.filter((b) => existsSync(join(dir, budgetDirName(b), 'result.json'))).map((b) => sweepRow(b, join(dir, budgetDirName(b))));
  if (rows.length) {
    writeSweepCsv(join(dir, 'sweep.csv'), rows);
    await renderSweepPlots(dir, recipe);
  }
  const missing = budgets.length - rows.length;
  return sweepSummary(recipe.name, rows) + (missing ? `\n${missing} of ${budgets.length} budgets have not finished; \`polynas sweep\` with the same recipe and folder continues them.\n` : '');
}

function searchReport(dir: string): string {
  const r = readJson<{ budget?: number; relus: number; countBeforeProjection: number; teacher: { top1: number }; projected: { top1: number }; finetuned: { top1: number; top5: number }; searchSeconds: number; finetuneSeconds: number; strategy: string; seed: number }>(join(dir, 'result.json'));
  const a = readJson<{ backbone: string; space?: { name: string }; relus: { perLayer: { path: string; total: number; kept: number }[] }; latency?: { table: string; network?: string; total: number; unit: string; totalMs?: number; commBytes?: number; rounds?: number }; recipe?: { name?: string } }>(join(dir, 'architecture.json'));
  const total = a.relus.perLayer.reduce((s, l) => s + l.total, 0);
  const lat = latencyLine(a as unknown as Record<string, unknown>);
  return [
    `# ${a.recipe?.name ?? 'search'}`, '',
    `- backbone ${a.backbone}, space ${a.space?.name ?? '–'}, strategy ${r.strategy}, seed ${r.seed}`,
    `- budget ${r.budget ?? 'none (argmax per gate)'} of ${total} searchable ReLUs; ${r.countBeforeProjection} before projection, **${r.relus} exported**`,
    `- top-1: teacher ${pct(r.teacher.top1)}, after projection ${pct(r.projected.top1)}, **finetuned ${pct(r.finetuned.top1)}** (top-5 ${pct(r.finetuned.top5)})`,
    ...(lat ? [lat] : []),
    `- wall time: search ${r.searchSeconds.toFixed(0)} s, finetune ${r.finetuneSeconds.toFixed(0)} s`,
    '', '| site | ReLUs | kept | kept (%) |', '|---|---:|---:|---:|',
    ...a.relus.perLayer.map((p) => `| ${p.path} | ${p.total} | ${p.kept} | ${p.total ? ((p.kept / p.total) * 100).toFixed(1) : '–'} |`),
    '', 'Files: `architecture.json` + `architecture.weights.bin` (load with `loadExportedArchitecture`), `log.jsonl`, `metrics.csv`.', '',
  ].join('\n');
}

function trainReport(dir: string): string {
  const r = readJson<{ final: { top1: number; top5: number; loss: number; n: number }; epochs: number; steps: number; trainSeconds: number; backend: string }>(join(dir, 'result.json'));
  const recipe = existsSync(join(dir, 'recipe.json')) ? readJson<{ name: string; backbone: { name: string }; dataset: { name: string } }>(join(dir, 'recipe.json')) : undefined;
  const metrics = existsSync(join(dir, 'metrics.csv')) ? readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n') : [];
  const table = metrics.length > 1 ? ['', '| ' + metrics[0]!.split(',').join(' | ') + ' |', '|' + metrics[0]!.split(',').map(() => '---:').join('|') + '|', ...metrics.slice(1).map((l) => '| ' + l.split(',').join(' | ') + ' |')] : [];
  return [
    `# ${recipe?.name ?? 'training run'}`, '',
    ...(recipe ? [`- ${recipe.backbone.name} on ${recipe.dataset.name}`] : []),
    `- test top-1 **${pct(r.final.top1)}**, top-5 ${pct(r.final.top5)}, loss ${r.final.loss.toFixed(4)} (${r.final.n} images)`,
    `- ${r.epochs} epochs, ${r.steps} steps, ${r.trainSeconds.toFixed(0)} s on the ${r.backend} backend`,
    ...table, '',
  ].join('\n');
}
