import { z } from 'zod';
import type { Augmentation, HostBatch } from '../../data/loader.js';

/** Crop padding AutoReP's and SNL's CIFAR scripts use (and the image size from which `auto` applies it). */
const CIFAR_CROP_PAD = 4;
const AUTO_AUGMENT_MIN_SIZE = 32;

/** A search section's augmentation: explicit, off (`false`), or `auto` (decided by the image size). */
export const AugmentSetting = z.union([z.strictObject({ cropPad: z.number().int().min(0), flip: z.boolean() }), z.literal(false), z.literal('auto')]);
export type AugmentSetting = z.output<typeof AugmentSetting>;

/**
 * `auto` → random crop (pad 4) and horizontal flip for images of 32 pixels or more (the CIFAR
 * recipe), none for smaller ones (digits); an explicit setting passes through.
 */
export function resolveAugment(a: AugmentSetting, imageShape: readonly number[]): Augmentation | false {
  if (a !== 'auto') return a;
  return imageShape[0]! >= AUTO_AUGMENT_MIN_SIZE ? { cropPad: CIFAR_CROP_PAD, flip: true } : false;
}

/** One input per step: each batch of a stream. */
export function* singleStream(it: Iterable<HostBatch>): Generator<HostBatch[]> {
  for (const b of it) yield [b];
}

/** Fields of every budgeted search section: the budget and the length of the search. */
export const budgetedSearchFields = {
  /** ReLU budget of the whole network: a count (≥ 1), a fraction (< 1) of all its ReLUs (the stem's included), or 0 (all-polynomial). */
  budget: z.number().min(0),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  /** Count max-pool comparisons (v − 1 per window of v valid inputs) against the budget too. Default false. */
  countMaxPool: z.boolean().default(false),
};

/** Distillation from the teacher in the search loss: temperature and weight (AutoReP and SNL: 4 and 1). */
export const distillationFields = {
  temperature: z.number().positive().default(4),
  distillWeight: z.number().min(0).default(1),
};
