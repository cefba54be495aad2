import { z } from 'zod';
import { hasOp, opIds } from '../ops/index.js';
import { GRANULARITIES, searchSpaceSchema } from './space.js';

/**
 * The `format` tag of `architecture.json` and its current version (1: polynas 0.1; 2: before the
 * count included the stem ReLU and max-pool comparisons).
 */
export const ARCHITECTURE_FORMAT = 'polynas-architecture';
export const ARCHITECTURE_FORMAT_VERSION = 3;

const int = z.number().int();
const shape = z.array(int.positive());

/** A binary mask packed 8 decisions per byte (bit i of byte ⌊i/8⌋ = decision i), base64. */
export const PackedMaskSchema = z.strictObject({ encoding: z.literal('bitset-base64'), shape, data: z.string() });
export type PackedMask = z.output<typeof PackedMaskSchema>;

/** Registered operator ids (the schema is built from the operator registry when used). */
const opId = () => {
  const ids = opIds();
  return z.enum(ids as [string, ...string[]]);
};

function siteSchemas() {
  /** A site decided by a mask gate (AutoReP, SNL): ReLU where the mask is 1, `op` elsewhere. */
  const mask = z.strictObject({
    gate: z.literal('mask'),
    kind: z.literal('activation'),
    /** The cheap operator (registry id). */
    op: opId(),
    granularity: z.enum(GRANULARITIES),
    /** The mask rule the search used (`hysteresis`: AutoReP, `continuous`: SNL); absent in format 1. */
    rule: z.enum(['hysteresis', 'continuous']).optional(),
    keptRelus: int.min(0),
    siteShape: shape,
    mask: PackedMaskSchema,
    /** The operator's trained parameters (its registry `exportParams`). */
    params: z.unknown().optional(),
  });
  /** A site decided by a DARTS gate: one candidate for the whole site. */
  const darts = z.strictObject({
    gate: z.literal('darts'),
    kind: z.enum(['activation', 'pool']),
    /** The chosen candidate (registry id). */
    op: opId(),
    granularity: z.literal('layer'),
    candidates: z.array(opId()).min(2),
    theta: z.array(z.number()),
    /** Activation sites: ReLUs kept per sample. */
    keptRelus: int.min(0).optional(),
    siteShape: shape,
    params: z.unknown().optional(),
  });
  return { mask, darts, site: z.discriminatedUnion('gate', [mask, darts]) };
}

/** The schema of one site of `architecture.json` (from the operator registry when called). */
export function architectureSiteSchema(): ReturnType<typeof siteSchemas>['site'] {
  return siteSchemas().site;
}
export type ArchitectureSite = z.output<ReturnType<typeof siteSchemas>['site']>;
export type MaskSite = z.output<ReturnType<typeof siteSchemas>['mask']>;
export type DartsSite = z.output<ReturnType<typeof siteSchemas>['darts']>;

/** Predicted 2PC cost of the exported network under one latency table (headline figures). */
export const LatencySummarySchema = z.strictObject({
  table: z.string(),
  network: z.string().optional(),
  unit: z.string(),
  total: z.number(),
  /** Null for tables in relative units. */
  totalMs: z.number().nullable().optional(),
  commBytes: z.number().optional(),
  rounds: z.number().optional(),
  /** What the figure leaves out (operators the table does not price, e.g. CrypTen's linear layers). */
  caveats: z.array(z.string()).optional(),
});
export type LatencySummary = z.output<typeof LatencySummarySchema>;

export const ArchitectureLatencySchema = LatencySummarySchema.extend({
  /** Operators the table leaves unmodelled, with their element counts. */
  unmodelled: z.record(z.string(), z.number()),
  perLayer: z.array(z.strictObject({ path: z.string(), op: z.string(), time: z.number(), bytes: z.number(), rounds: z.number() })),
});

/** Accuracy figures recorded with an export. */
export const ArchitectureMetricsSchema = z.strictObject({
  teacherTop1: z.number().optional(),
  projectedTop1: z.number().optional(),
  finetunedTop1: z.number().optional(),
  finetunedTop5: z.number().optional(),
  countBeforeProjection: z.number().optional(),
  /** After `polynas finetune`: the architecture it started from and its accuracy then. */
  finetunedFrom: z.string().optional(),
  beforeTop1: z.number().optional(),
});

export const NormalizationSchema = z.strictObject({ mean: z.array(z.number()), std: z.array(z.number()) });

function buildArchitectureSchema() {
  return z.strictObject({
    format: z.literal(ARCHITECTURE_FORMAT),
    formatVersion: z.literal(ARCHITECTURE_FORMAT_VERSION),
    /** polynas version that wrote the file. */
    polynas: z.string(),
    backbone: z.string().min(1),
    numClasses: int.positive(),
    inputShape: z.tuple([int.positive(), int.positive(), int.positive()]),
    normalization: NormalizationSchema.optional(),
    strategy: z.string().min(1),
    seed: int.min(0),
    /** The exact ReLU budget the discretization met (absent: DARTS argmax without a budget). */
    budget: int.min(0).optional(),
    relus: z.strictObject({
      /** ReLU evaluations per sample of the deployed network (measured on it), the stem's included. */
      total: int.min(0),
      /** ReLUs the gates could keep (the budget's denominator is these plus the ReLUs outside the gates); absent in format 1. */
      searchable: int.min(0).optional(),
      budgetMet: z.boolean().optional(),
      perLayer: z.array(z.strictObject({ path: z.string(), total: int.min(0), kept: int.min(0) })),
      /** Max-pool comparisons per sample (v − 1 per window of v valid inputs), reported beside the ReLUs; absent before format 3. */
      maxPoolComparisons: int.min(0).optional(),
      perPool: z.array(z.strictObject({ path: z.string(), comparisons: int.min(0) })).optional(),
      /** The budget counted max-pool comparisons with the ReLUs (`budgetMet`: total + maxPoolComparisons ≤ budget). */
      budgetIncludesMaxPool: z.boolean().optional(),
    }),
    sites: z.record(z.string(), architectureSiteSchema()),
    latency: ArchitectureLatencySchema.optional(),
    space: searchSpaceSchema(),
    /** The normalized search recipe that produced it (validated as a search recipe by `run/` when used). */
    recipe: z.record(z.string(), z.unknown()).optional(),
    metrics: ArchitectureMetricsSchema.optional(),
  });
}

/**
 * The schema of `architecture.json` (built from the operator registry when called, like the space's).
 *
 * @example
 * ```ts
 * architectureSchema().parse(JSON.parse(text));
 * ```
 */
export function architectureSchema(): ReturnType<typeof buildArchitectureSchema> {
  return buildArchitectureSchema();
}

/** A discretized, exported network: what `architecture.json` holds. */
export type Architecture = z.output<ReturnType<typeof buildArchitectureSchema>>;

/**
 * Upgrades an `architecture.json` of format version 1 or 2 to the current version: format 1 sites
 * gain `gate` and `kind`, coefficients become `params`. The counts of both may leave out the stem
 * ReLU; {@link rebuildArchitecture} recomputes them. Other versions pass through unchanged (the
 * schema then names what is wrong).
 */
export function upgradeArchitecture(json: unknown): unknown {
  if (!json || typeof json !== 'object') return json;
  const a = json as Record<string, unknown>;
  if (a.format !== ARCHITECTURE_FORMAT) return json;
  if (a.formatVersion === 2) return { ...a, formatVersion: ARCHITECTURE_FORMAT_VERSION };
  if (a.formatVersion !== 1) return json;
  const sites: Record<string, unknown> = {};
  for (const [path, raw] of Object.entries((a.sites ?? {}) as Record<string, Record<string, unknown>>)) {
    const { coefficients, ...site } = raw;
    const gate = 'mask' in site ? 'mask' : 'darts';
    const candidates = (site.candidates ?? []) as string[];
    const kind = gate === 'mask' || !candidates.every((c) => hasOp(c, 'pool')) ? 'activation' : 'pool';
    sites[path] = { gate, kind, ...site, ...(coefficients !== undefined ? { params: coefficients } : {}) };
  }
  // Format 1 took any metrics; keep the ones the schema knows.
  const known = Object.keys(ArchitectureMetricsSchema.shape);
  const metrics = a.metrics && typeof a.metrics === 'object' ? Object.fromEntries(Object.entries(a.metrics).filter(([k]) => known.includes(k))) : undefined;
  return { ...a, formatVersion: ARCHITECTURE_FORMAT_VERSION, sites, ...(metrics ? { metrics } : {}) };
}

/**
 * Packs a binary mask 8 decisions per byte.
 *
 * @example
 * ```ts runnable
 * const m = packMask([1, 0, 1, 1], [4]); // { encoding: 'bitset-base64', shape: [4], data: 'DQ==' }
 * unpackMask(m); // Uint8Array [1, 0, 1, 1]
 * ```
 */
export function packMask(values: ArrayLike<number>, shape: number[]): PackedMask {
  const bytes = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) if (values[i]! > 0.5) bytes[i >> 3]! |= 1 << (i & 7);
  return { encoding: 'bitset-base64', shape, data: Buffer.from(bytes).toString('base64') };
}

/**
 * Unpacks a mask written by {@link packMask}.
 *
 * @example
 * ```ts runnable
 * unpackMask(packMask([1, 0, 1], [3])); // Uint8Array [1, 0, 1]
 * ```
 */
export function unpackMask(m: PackedMask): Uint8Array {
  const n = m.shape.reduce((a, b) => a * b, 1);
  const bytes = Buffer.from(m.data, 'base64');
  if (bytes.length !== Math.ceil(n / 8)) throw new Error(`mask of shape [${m.shape}] needs ${Math.ceil(n / 8)} bytes, got ${bytes.length}`);
  return Uint8Array.from({ length: n }, (_, i) => (bytes[i >> 3]! >> (i & 7)) & 1);
}

/**
 * A hand-written network description for `polynas latency`: a backbone and the operator at some of its
 * sites (the others keep ReLU and MaxPool); `keptRelus` keeps that many ReLUs of a site.
 */
export function networkChoicesSchema() {
  return z.strictObject({
    $schema: z.string().optional(),
    backbone: z.string().min(1),
    numClasses: int.positive().default(10),
    inputShape: z.tuple([int.positive(), int.positive(), int.positive()]).optional(),
    sites: z.record(z.string(), z.strictObject({ op: opId(), keptRelus: int.min(0).optional() })).default({}),
  });
}
export type NetworkChoices = z.output<ReturnType<typeof networkChoicesSchema>>;
