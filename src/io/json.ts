import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** One validation problem: JSON path, code and message (naming the bad value). */
export interface ValidationIssue {
  path: string;
  code: string;
  message: string;
}

/**
 * Raised with every problem of a JSON document at once.
 *
 * @example
 * ```ts
 * try { parseSearchRecipe(json, 'r.json'); } catch (e) { if (e instanceof ValidationError) console.error(e.issues); }
 * ```
 */
export class ValidationError extends Error {
  /** Bad input or settings: running again cannot cure it. */
  readonly retryable = false;
  constructor(
    readonly source: string,
    readonly issues: ValidationIssue[],
  ) {
    super(`${source}: ${issues.length} problem${issues.length > 1 ? 's' : ''}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'));
    this.name = 'ValidationError';
  }
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Converts zod issues into path + message form, appending the offending value. */
export function describeIssues(input: unknown, issues: z.core.$ZodIssue[]): ValidationIssue[] {
  return issues.map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(root)';
    const bad = valueAt(input, i.path);
    const shown = bad === undefined || typeof bad === 'object' ? '' : ` (got ${JSON.stringify(bad)})`;
    return { path, code: i.code, message: `${i.message}${shown}` };
  });
}

/**
 * Validates `input` against a zod schema, reporting all problems at once.
 *
 * @example
 * ```ts
 * const table = parseWith(LatencyTableSchema, json, 'latency-tables/x.json');
 * ```
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, source: string, extra: (value: z.output<S>) => ValidationIssue[] = () => []): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ValidationError(source, describeIssues(input, r.error.issues));
  const more = extra(r.data);
  if (more.length) throw new ValidationError(source, more);
  return r.data;
}

/**
 * Reads a JSON file, naming the file and what it should hold in the error.
 *
 * @example
 * ```ts
 * const json = readJsonFile('experiments/quickstart.json', 'recipe'); // clear error naming the file when missing or malformed
 * ```
 */
export function readJsonFile(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read ${what} (${(e as Error).message})`);
  }
}

/**
 * Reads a JSON file and validates it against a schema, naming the file and every bad field.
 *
 * @example
 * ```ts
 * const result = readJsonAs('runs/s/result.json', SearchResultFileSchema, 'search result');
 * ```
 */
export function readJsonAs<S extends z.ZodType>(path: string, schema: S, what: string): z.output<S> {
  return parseWith(schema, readJsonFile(path, what), path);
}
