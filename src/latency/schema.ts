import { z } from 'zod';

/** Per-sample size a cost scales with. PASNet's fits use `inElements` (input elements per sample). */
export const SIZE_VARS = ['inElements', 'outElements', 'outWindows', 'macs', 'params', 'calls'] as const;
export type SizeVar = (typeof SIZE_VARS)[number];

/** Time units of a table; `dimensionless` marks a relative-cost table (usable in a loss, not for export). */
export const TIME_UNITS = ['ns', 'us', 'ms', 's', 'dimensionless'] as const;

const Source = z.strictObject({
  kind: z.enum(['repo', 'paper', 'issue', 'log', 'measurement']),
  repo: z.string().optional(),
  commit: z.string().optional(),
  path: z.string().optional(),
  lines: z.string().optional(),
  arxiv: z.string().optional(),
  url: z.string().optional(),
  note: z.string().optional(),
});

/** Where a number comes from. `verified: false` when units or setting are unknown. */
export const Provenance = z.strictObject({
  method: z.enum(['code-constant', 'measured', 'analytic', 'fitted', 'derived', 'assumed']),
  verified: z.boolean(),
  sources: z.array(Source),
  notes: z.string().optional(),
  date: z.string().optional(),
});

const per = z.enum(SIZE_VARS);
const nonneg = z.number().min(0);

/** `time = a·n + b` in the table's time unit, n = the size variable `per` (PASNet style). */
export const LinearFit = z.strictObject({
  model: z.literal('linear'),
  per,
  a: z.number(),
  b: z.number(),
  provenance: Provenance.optional(),
});

/**
 * Protocol cost per unit of `per`: bytes (both directions, or up = client→server and down =
 * server→client), rounds per invocation (per layer, not per element; a round is one round trip, so
 * a log that counts one-way flights gives half as many), local compute seconds per unit and a fixed
 * cost per call. `time = rounds·RTT + bytes/bandwidth + compute·n + fixed`.
 */
export const Analytic = z.strictObject({
  model: z.literal('analytic'),
  per,
  bytesTotal: nonneg.optional(),
  bytesUp: nonneg.optional(),
  bytesDown: nonneg.optional(),
  rounds: nonneg.optional(),
  computeSecondsPerUnit: nonneg.optional(),
  fixedSecondsPerCall: nonneg.optional(),
  /** Preprocessing cost, reported but not added to the online time. */
  offline: z
    .strictObject({
      bytesUp: nonneg.optional(),
      bytesDown: nonneg.optional(),
      computeSecondsPerUnit: nonneg.optional(),
      clientStorageBytesPerUnit: nonneg.optional(),
      serverStorageBytesPerUnit: nonneg.optional(),
    })
    .optional(),
  provenance: Provenance.optional(),
});

/**
 * A sum of other operators of the same table, e.g. maxpool = (k·k−1) sequential comparisons per output
 * window (Cheetah, SCI), or CrypTen's comparison tree with its depth in `layers`.
 */
export const Composed = z.strictObject({
  model: z.literal('composed'),
  terms: z
    .array(
      z.strictObject({
        op: z.string().min(1),
        /** mathjs expression in k (kernel), s (stride), cin, cout. */
        multiplier: z.string().min(1),
        per,
        /** The sub-operator's rounds repeat `multiplier` times (sequential comparisons). */
        sequentialRounds: z.boolean().optional(),
        /**
         * mathjs expression (same variables as `multiplier`): how many sequential invocations the
         * term's `multiplier` units are spread over, so the sub-operator's rounds count that many
         * times (e.g. a comparison tree's depth). Default 1; excludes `sequentialRounds`.
         */
        layers: z.string().min(1).optional(),
      }),
    )
    .min(1),
  provenance: Provenance.optional(),
});

/** An operator whose cost could not be sourced: says why instead of inventing a number. */
export const Unavailable = z.strictObject({
  model: z.literal('unavailable'),
  reason: z.string().min(1),
});

export const OpCost = z.discriminatedUnion('model', [LinearFit, Analytic, Composed, Unavailable]);

/** A named network setting: symmetric bandwidth or separate up/down, and round-trip time. */
export const NetworkProfile = z.strictObject({
  name: z.string().min(1),
  bandwidthMbps: z.number().positive().optional(),
  upMbps: z.number().positive().optional(),
  downMbps: z.number().positive().optional(),
  rttMs: nonneg,
  /**
   * Both directions carry traffic at the same time, each at the full rate (a full-duplex link, on
   * which both parties of an exchange send at once): the bandwidth term is the larger direction's
   * time, not the sum of both. Default false (the directions' times add).
   */
  fullDuplex: z.boolean().optional(),
  provenance: Provenance.optional(),
});

/**
 * A 2PC latency table: the setting it models, units, provenance, network profiles and a cost model
 * per operator (`relu`, `x2act`, `poly1`…`poly4`, `identity`, `maxpool`, `avgpool`, `conv2d`,
 * `dwconv2d`, `fc`, `bn`, `trunc`, or any sub-operator a composed entry names). An operator absent
 * from `ops` (or `unavailable`) is reported as "not modelled" by this table: a network cost leaves it
 * out and says so in its `caveats`, and a search candidate priced by it is an error unless allowed.
 */
export const LatencyTableSchema = z.strictObject({
  $schema: z.string().optional(),
  schemaVersion: z.literal(1),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
  description: z.string().optional(),
  protocol: z.strictObject({
    family: z.enum(['pasnet-fpga', 'delphi-gc', 'sci-ot', 'sci-he', 'cheetah', 'crypten', 'custom']),
    variant: z.string().optional(),
    securityModel: z.enum(['semi-honest-2pc', '2pc-with-dealer', '3pc-honest-majority', 'unknown']),
    ringBits: z.number().int().positive().optional(),
    fieldModulus: z.string().optional(),
    fracBits: z.number().int().min(0).optional(),
    comparisonBits: z.number().int().positive().optional(),
    threads: z.number().int().positive().optional(),
    hardware: z.record(z.string(), z.string()).optional(),
    phase: z.enum(['online', 'offline', 'total']).default('online'),
    batch: z.number().int().positive().default(1),
    /**
     * The runtime evaluates a mask site's ReLU part and its cheap part at the same time, so their
     * rounds overlap: the site costs the larger of the two parts' rounds, not their sum.
     */
    maskPartsConcurrent: z.boolean().optional(),
  }),
  units: z.strictObject({ time: z.enum(TIME_UNITS), data: z.enum(['B']).default('B') }),
  networks: z.array(NetworkProfile).optional(),
  ops: z.record(z.string(), OpCost),
  /** Fraction of the additive time hidden by overlapping communication and compute. Default 0. */
  overlapFactor: z.number().min(0).max(1).default(0),
  provenance: Provenance,
});

export type LatencyTable = z.infer<typeof LatencyTableSchema>;
export type OpCostModel = z.infer<typeof OpCost>;
export type NetworkSetting = z.infer<typeof NetworkProfile>;

/** JSON Schema of latency tables. */
export function latencyTableJsonSchema(): unknown {
  return z.toJSONSchema(LatencyTableSchema, { io: 'input' });
}
