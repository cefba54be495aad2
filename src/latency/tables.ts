import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWith, type ValidationIssue, readJsonFile } from '../io/json.js';
import { LatencyTableSchema, type LatencyTable } from './schema.js';

/** Folder of the latency tables shipped with polynas. */
export const SHIPPED_TABLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'latency-tables');

function crossChecks(t: LatencyTable): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [op, e] of Object.entries(t.ops)) {
    if (e.model !== 'composed') continue;
    e.terms.forEach((term, i) => {
      if (!t.ops[term.op]) issues.push({ path: `ops.${op}.terms.${i}.op`, code: 'unknown_op', message: `'${term.op}' is not an operator of this table (known: ${Object.keys(t.ops).join(', ')})` });
      if (term.layers !== undefined && term.sequentialRounds) issues.push({ path: `ops.${op}.terms.${i}.layers`, code: 'invalid_value', message: "give either 'layers' or 'sequentialRounds: true' (which means layers = multiplier), not both" });
    });
  }
  const analytic = Object.values(t.ops).some((e) => e.model === 'analytic');
  if (analytic && t.units.time === 'dimensionless') {
    issues.push({ path: 'units.time', code: 'invalid_value', message: "analytic entries compute seconds, so the table cannot be 'dimensionless'" });
  }
  return issues;
}

/**
 * Validates a latency table object, reporting every problem with its path.
 *
 * @example
 * ```ts
 * const table = parseLatencyTable(JSON.parse(readFileSync('my-table.json', 'utf8')), 'my-table.json');
 * ```
 */
export function parseLatencyTable(input: unknown, source = 'latency table'): LatencyTable {
  return parseWith(LatencyTableSchema, input, source, crossChecks);
}

/** The table a recipe or `polynas latency` prices with when none is named (PASNet's released fits). */
export const DEFAULT_LATENCY_TABLE = 'pasnet-dac2023-code';

/**
 * Ids of the shipped tables.
 *
 * @example
 * ```ts
 * shippedTableIds(); // ['cheetah-approxrelu-r50', 'crypten-2pc-dealer', …]
 * ```
 */
export function shippedTableIds(): string[] {
  if (!existsSync(SHIPPED_TABLES_DIR)) return [];
  return readdirSync(SHIPPED_TABLES_DIR)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/**
 * Loads a latency table by shipped id (e.g. `pasnet-dac2023-code`) or from a JSON file path.
 *
 * @example
 * ```ts
 * const table = loadLatencyTable('cheetah-approxrelu-r50');
 * ```
 */
export function loadLatencyTable(idOrPath: string): LatencyTable {
  const shipped = join(SHIPPED_TABLES_DIR, `${idOrPath}.json`);
  const file = existsSync(idOrPath) ? idOrPath : existsSync(shipped) ? shipped : undefined;
  if (!file) throw new Error(`latency table '${idOrPath}' is neither a file nor a shipped table; shipped: ${shippedTableIds().join(', ')}`);
  const json = readJsonFile(file, 'latency table');
  const table = parseLatencyTable(json, file);
  if (file === shipped && table.id !== idOrPath) throw new Error(`${file}: id '${table.id}' differs from the file name`);
  return table;
}
