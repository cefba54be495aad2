import type { tf } from './tf.js';

/** Dtypes of the LibTorch addon, by code (the order is the addon's). */
export const DTYPES = ['float32', 'int32', 'bool'] as const;
export type TorchDtype = (typeof DTYPES)[number];
export const dtypeCode = (d: tf.DataType): number => {
  const i = (DTYPES as readonly string[]).indexOf(d);
  if (i < 0) throw new Error(`torch backend: dtype '${d}' is not supported (float32, int32 and bool are)`);
  return i;
};
