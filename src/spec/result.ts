import { z } from 'zod';
import { LatencySummarySchema } from './architecture.js';

/**
 * Test metrics of a network. JSON has no NaN or ∞: a loss that was not finite (a network whose
 * logits overflow) is written, and read back, as `null`.
 */
export const EvalResultSchema = z.strictObject({ top1: z.number(), top5: z.number(), loss: z.number().nullable(), n: z.number().int() });

/** `result.json` of a training run. */
export const TrainResultFileSchema = z.strictObject({
  final: EvalResultSchema,
  epochs: z.number().int(),
  steps: z.number().int(),
  trainSeconds: z.number(),
  backend: z.string(),
});
export type TrainResultFile = z.output<typeof TrainResultFileSchema>;

/** `result.json` of a search run. */
export const SearchResultFileSchema = z.strictObject({
  outDir: z.string(),
  /** The exact budget met (absent: DARTS argmax without a budget). */
  budget: z.number().int().min(0).optional(),
  countBeforeProjection: z.number(),
  relus: z.number().int().min(0),
  teacher: EvalResultSchema,
  projected: EvalResultSchema,
  finetuned: EvalResultSchema,
  /** Wall seconds of the search phase (as first run, when restored) and of finetuning (this invocation). */
  searchSeconds: z.number(),
  finetuneSeconds: z.number(),
  strategy: z.string(),
  seed: z.number().int(),
  latency: LatencySummarySchema.optional(),
});
export type SearchResultFile = z.output<typeof SearchResultFileSchema>;

/** `result.json` of `polynas finetune`. */
export const FinetuneResultFileSchema = z.strictObject({
  before: EvalResultSchema,
  final: EvalResultSchema,
  relus: z.number().int().min(0),
  epochs: z.number().int(),
  trainSeconds: z.number(),
  backend: z.string(),
});
export type FinetuneResultFile = z.output<typeof FinetuneResultFileSchema>;

/** One row of `sweep.csv`: a finished search at one budget. */
export interface SweepRow {
  /** The budget as requested (a count, or a fraction of the searchable ReLUs). */
  budget_spec: number;
  /** The absolute budget B. */
  budget: number | '';
  /** Exported ReLU count (≤ B). */
  relus: number;
  relus_before_projection: number;
  top1: number;
  top5: number;
  projected_top1: number;
  teacher_top1: number;
  latency_table: string;
  latency_network: string;
  /** Predicted 2PC latency in ms (empty when the table has no time model). */
  latency_ms: number | '';
  /** Predicted latency in the table's own unit (`latency_unit`). */
  latency: number | '';
  latency_unit: string;
  comm_mib: number | '';
  rounds: number | '';
  search_s: number;
  finetune_s: number;
  strategy: string;
  seed: number;
  /** The budget's folder inside the sweep folder (`budget-0.05`). */
  run_dir: string;
}
