/** Learning-rate schedule settings. */
export interface ScheduleConfig {
  /** `cosine`: linear warm-up, then cosine decay to `minLr`. `constant`: `lr` throughout (after warm-up). */
  type: 'cosine' | 'constant';
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine decay. Default 0. */
  minLr?: number;
  /** Linear warm-up steps from lr/warmupSteps to lr. Default 0. */
  warmupSteps?: number;
}

/**
 * Learning rate at optimizer step `step` (0-based) of `totalSteps`. Warm-up: `lr·(step+1)/W`;
 * cosine: `minLr + (lr − minLr)·(1 + cos(π·(step − W)/(total − W)))/2`.
 *
 * @example
 * ```ts
 * learningRate({ type: 'cosine', lr: 0.1, warmupSteps: 10 }, 10, 110); // 0.1
 * ```
 */
export function learningRate(cfg: ScheduleConfig, step: number, totalSteps: number): number {
  const w = cfg.warmupSteps ?? 0;
  if (step < w) return (cfg.lr * (step + 1)) / w;
  if (cfg.type === 'constant') return cfg.lr;
  const min = cfg.minLr ?? 0;
  const span = Math.max(1, totalSteps - w);
  const t = Math.min(1, (step - w) / span);
  return min + ((cfg.lr - min) * (1 + Math.cos(Math.PI * t))) / 2;
}
