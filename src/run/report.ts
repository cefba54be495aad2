import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { writeFileAtomic } from '../io/atomic.js';
import { z } from 'zod';
import { parseWith, readJsonAs, readJsonFile } from '../io/json.js';
import { readArchitecture } from '../export/architecture.js';
import { summarizeFinetuneRun, summarizeSearchRun, summarizeSweep, summarizeTrainRun } from '../report/summary.js';
import { FinetuneResultFileSchema, SearchResultFileSchema, TrainResultFileSchema } from '../spec/result.js';
import { parseTrainRecipe } from '../spec/recipe.js';
import { parseSearchRecipe } from '../search/recipe.js';
import { budgetDirName, readSweepRow, renderSweepPlots, writeSweepCsv } from './sweep.js';
import { collectSweep } from './collect.js';
import { readPlan } from './plan.js';

/**
 * Writes (and returns) the `summary.md` of a run folder from what the run left there, with the same
 * writer the run used, so a report can be regenerated at any time:
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
  else if (existsSync(join(dir, 'architecture.json')) && existsSync(join(dir, 'result.json'))) text = searchOrFinetuneReport(dir);
  else if (existsSync(join(dir, 'result.json'))) text = trainReport(dir);
  else throw new Error(`${dir}: not a finished polynas run (no result.json or sweep.csv); a running or interrupted run is continued by resuming it`);
  writeFileAtomic(join(dir, 'summary.md'), text);
  return text;
}

async function sweepReport(dir: string): Promise<string> {
  // A study written from a plan (polynas sweep, sweep collect): merged as its cells were written,
  // seeds and backbones included.
  if (existsSync(join(dir, 'plan.json'))) return (await collectSweep(readPlan(join(dir, 'plan.json')).plan, dir)).summary;
  const recipe = parseSearchRecipe(readJsonFile(join(dir, 'recipe.json'), 'recipe'), join(dir, 'recipe.json'));
  const budgets = recipe.sweep?.budgets ?? [];
  const rows = budgets.filter((b) => existsSync(join(dir, budgetDirName(b), 'result.json'))).map((b) => readSweepRow(b, join(dir, budgetDirName(b))));
  if (rows.length) {
    writeSweepCsv(join(dir, 'sweep.csv'), rows);
    await renderSweepPlots(dir, recipe);
  }
  return summarizeSweep(recipe.name, rows, budgets.length - rows.length);
}

/** A search folder, or the output of `polynas finetune` (its result has `before` and `final`). */
function searchOrFinetuneReport(dir: string): string {
  const arch = readArchitecture(join(dir, 'architecture.json'));
  const name = typeof arch.recipe?.name === 'string' ? arch.recipe.name : 'search';
  const json = readJsonFile(join(dir, 'result.json'), 'result');
  if (typeof json === 'object' && json !== null && 'before' in json) {
    const result = parseWith(FinetuneResultFileSchema, json, join(dir, 'result.json'));
    return summarizeFinetuneRun(name, arch.metrics?.finetunedFrom ?? '–', result, existsSync(join(dir, 'meta.json')) && readJsonAs(join(dir, 'meta.json'), MetaDistill, 'run metadata').distill);
  }
  return summarizeSearchRun(name, arch, parseWith(SearchResultFileSchema, json, join(dir, 'result.json')));
}

/** The one field of a finetune run's `meta.json` its summary needs. */
const MetaDistill = z.looseObject({ distill: z.boolean() });

function trainReport(dir: string): string {
  const result = readJsonAs(join(dir, 'result.json'), TrainResultFileSchema, 'training result');
  const recipeFile = join(dir, 'recipe.json');
  const recipe = existsSync(recipeFile) ? parseTrainRecipe(readJsonFile(recipeFile, 'recipe'), recipeFile) : undefined;
  const metricsFile = join(dir, 'metrics.csv');
  const metrics = existsSync(metricsFile) ? (parse(readFileSync(metricsFile, 'utf8')) as string[][]) : [];
  return summarizeTrainRun({ name: recipe?.name ?? 'training run', backbone: recipe?.backbone.name ?? '–', dataset: recipe?.dataset.name ?? '–', result, metrics });
}
