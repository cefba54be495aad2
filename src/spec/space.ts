import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseWith, readJsonFile } from '../io/json.js';
import { opDefs, opIds, opRegistryVersion, PolyOptionsSchema, X2actOptionsSchema, type OpKind } from '../ops/index.js';

/** Which elements share one decision: the whole site, one channel, or one pixel (element). */
export const GRANULARITIES = ['layer', 'channel', 'pixel'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/**
 * Which sites a section applies to: `"all"`, or glob patterns over site paths (`*` matches within one
 * path segment, `**` across segments), minus `exclude` patterns.
 */
const SiteSelection = z.union([
  z.literal('all'),
  z.strictObject({
    include: z.array(z.string().min(1)).min(1),
    exclude: z.array(z.string().min(1)).optional(),
  }),
]);

const opEnum = (kind: OpKind) => {
  const ids = opIds(kind);
  return ids.length ? z.enum(ids as [string, ...string[]]) : z.never();
};

/** The `activation.<key>` option sections of registered operators other than the built-in two. */
function pluginOptionSections(): Record<string, z.ZodType> {
  const out: Record<string, z.ZodType> = {};
  for (const d of opDefs()) if (d.options && d.options.key !== 'poly' && d.options.key !== 'x2act') out[d.options.key] = d.options.schema.default(d.options.schema.parse({}));
  return out;
}

function buildSpaceSchema() {
  return z.strictObject({
    $schema: z.string().optional(),
    name: z.string().min(1),
    description: z.string().optional(),
    /** Registered backbone name. */
    backbone: z.string().min(1),
    activation: z
      .strictObject({
        sites: SiteSelection.default('all'),
        /** Candidates: registered activation operators, `relu` plus at least one cheap operator. */
        candidates: z.array(opEnum('activation')).min(2),
        /** Default `layer`. Pixel and channel decisions need exactly two candidates, one of them `relu`. */
        granularity: z.enum(GRANULARITIES).default('layer'),
        /**
         * Search the stem activation too (default true). False keeps the stem's ReLU, which still counts
         * against every budget; for SNL's and AutoReP's stem-less ResNets use the `-nostem` backbones.
         */
        includeStem: z.boolean().default(true),
        /** Options of the polynomial candidates (`poly1` … `poly4`). */
        poly: PolyOptionsSchema.default(PolyOptionsSchema.parse({})),
        /** Options of the `x2act` candidate. */
        x2act: X2actOptionsSchema.default(X2actOptionsSchema.parse({})),
        ...(pluginOptionSections() as {}),
      })
      .optional(),
    pool: z
      .strictObject({
        sites: SiteSelection.default('all'),
        /** Candidates: registered pooling operators. */
        candidates: z.array(opEnum('pool')).min(2),
      })
      .optional(),
  });
}

let cached: { version: number; schema: ReturnType<typeof buildSpaceSchema> } | undefined;

/**
 * The schema of search spaces, built from the operator registry when called, so that an operator
 * registered after import (a plugin, a test) is a valid candidate. One schema gives validation, type
 * and JSON Schema.
 *
 * @example
 * ```ts
 * searchSpaceSchema().parse(json);
 * ```
 */
export function searchSpaceSchema(): ReturnType<typeof buildSpaceSchema> {
  if (cached?.version !== opRegistryVersion()) cached = { version: opRegistryVersion(), schema: buildSpaceSchema() };
  return cached!.schema;
}

export type SearchSpace = z.output<ReturnType<typeof buildSpaceSchema>>;
/** A space's activation section, with the option sections of every candidate. */
export type ActivationSpace = NonNullable<SearchSpace['activation']>;

export type SiteSelectionSpec = z.infer<typeof SiteSelection>;

function crossChecks(s: SearchSpace) {
  const issues = [];
  const a = s.activation;
  if (a) {
    if (new Set(a.candidates).size !== a.candidates.length) issues.push({ path: 'activation.candidates', code: 'duplicate', message: `candidates repeat an operator: ${a.candidates.join(', ')}` });
    if (a.granularity !== 'layer' && (a.candidates.length !== 2 || !a.candidates.includes('relu'))) {
      issues.push({ path: 'activation.granularity', code: 'invalid_value', message: `'${a.granularity}' decisions choose per element between relu and one other operator; candidates are ${JSON.stringify(a.candidates)}` });
    }
  }
  if (!s.activation && !s.pool) issues.push({ path: '(root)', code: 'invalid_value', message: 'a space needs an activation or a pool section' });
  return issues;
}

/**
 * Validates a search space, reporting every problem with its JSON path.
 *
 * @example
 * ```ts
 * const space = parseSearchSpace({ name: 'r20', backbone: 'resnet20', activation: { candidates: ['relu', 'poly2'], granularity: 'channel' } });
 * ```
 */
export function parseSearchSpace(input: unknown, source = 'search space'): SearchSpace {
  return parseWith(searchSpaceSchema(), input, source, crossChecks) as SearchSpace;
}

/** Folder of the search spaces shipped with polynas. */
export const SHIPPED_SPACES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'search-spaces');

/**
 * Names of the shipped search spaces (`resnet18-pixel`, …).
 *
 * @example
 * ```ts
 * shippedSpaceNames(); // ['lenet5-layer-pool', 'lenet5-pixel', …]
 * ```
 */
export function shippedSpaceNames(): string[] {
  return readdirSync(SHIPPED_SPACES_DIR).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).map((f) => f.slice(0, -5)).sort();
}

/**
 * Reads and validates a search space: a file, or the name of a shipped space.
 *
 * @example
 * ```ts
 * const space = loadSearchSpace('resnet18-pixel');           // shipped
 * const mine = loadSearchSpace('spaces/my-space.json');       // a file
 * ```
 */
export function loadSearchSpace(pathOrName: string): SearchSpace {
  let path = pathOrName;
  if (!existsSync(path) && !/[\\/]|\.json$/.test(path)) {
    if (!shippedSpaceNames().includes(path)) throw new Error(`search space '${path}' is neither a file nor a shipped space; shipped: ${shippedSpaceNames().join(', ')}`);
    path = join(SHIPPED_SPACES_DIR, `${path}.json`);
  }
  const json = readJsonFile(path, 'search space');
  return parseSearchSpace(json, path);
}

/**
 * JSON Schema of search spaces.
 *
 * @example
 * ```ts
 * writeFileSync('search-space.schema.json', JSON.stringify(searchSpaceJsonSchema(), null, 2));
 * ```
 */
export function searchSpaceJsonSchema(): unknown {
  return z.toJSONSchema(searchSpaceSchema(), { io: 'input' });
}

/**
 * Glob match of a dotted site path: `*` within one segment, `**` across segments.
 *
 * @example
 * ```ts runnable
 * matchSitePattern('stages.*.0.act1', 'stages.2.0.act1'); // true
 * matchSitePattern('stages.**', 'stages.2.0.act1'); // true
 * ```
 */
export function matchSitePattern(pattern: string, path: string): boolean {
  const re = pattern
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*'))
    .join('.*');
  return new RegExp(`^${re}$`).test(path);
}

/**
 * The site paths a selection picks out of `paths`; a pattern that matches nothing is an error.
 *
 * @example
 * ```ts
 * selectSites({ include: ['stages.2.**'] }, net.sites().map((s) => s.path), 'activation.sites');
 * ```
 */
export function selectSites(selection: SiteSelectionSpec, paths: string[], where: string): string[] {
  if (selection === 'all') return paths;
  for (const p of selection.include) {
    if (!paths.some((x) => matchSitePattern(p, x))) throw new Error(`${where}.include: pattern '${p}' matches no site; sites: ${paths.slice(0, 8).join(', ')}${paths.length > 8 ? ', …' : ''}`);
  }
  return paths.filter((x) => selection.include.some((p) => matchSitePattern(p, x)) && !(selection.exclude ?? []).some((p) => matchSitePattern(p, x)));
}
