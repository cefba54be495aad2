import { z } from 'zod';
import type { X2act } from '../x2act.js';
import type { OpDef } from '../registry.js';

/** The space's `activation.x2act` section. */
export const X2actOptionsSchema = z.strictObject({
  /** One (w1, w2, b) per site (`layer`, the published default) or per channel. Default `layer`. */
  granularity: z.enum(['layer', 'channel']).default('layer'),
  /** Fixed scale s of the square term. Default `{ rule: 'constant', value: 1 }` (the published code). */
  scale: z
    .union([z.strictObject({ rule: z.literal('constant'), value: z.number().positive() }), z.strictObject({ rule: z.literal('feature-size'), c: z.number().positive() })])
    .default({ rule: 'constant', value: 1 }),
});
export type X2actSpaceOptions = z.output<typeof X2actOptionsSchema>;

/** The exported parameters of an X2act: `s·w1·x² + w2·x + b`. */
export interface X2actParams {
  w1: number[];
  w2: number[];
  b: number[];
  s: number;
}

/** X2act (PolyMPCNet / PASNet): `s·w1·x² + w2·x + b`, trainable w1, w2, b. */
export const x2actOp: OpDef = {
  id: 'x2act',
  kind: 'activation',
  summary: 'X2act s·w1·x² + w2·x + b (PolyMPCNet / PASNet)',
  costOp: 'x2act',
  options: { key: 'x2act', schema: X2actOptionsSchema },
  async build(site, options) {
    const o = X2actOptionsSchema.parse(options ?? {});
    const { X2act } = await import('../x2act.js');
    return new X2act(site.shape[site.shape.length - 1]!, site.shape, { granularity: o.granularity, scale: o.scale });
  },
  exportParams(op): X2actParams {
    const a = op as X2act;
    return { w1: Array.from(a.w1.dataSync()), w2: Array.from(a.w2.dataSync()), b: Array.from(a.b.dataSync()), s: a.s };
  },
  polynomial(op) {
    const a = op as X2act;
    return [Array.from(a.b.dataSync()), Array.from(a.w2.dataSync()), Array.from(a.w1.dataSync(), (w) => w * a.s)];
  },
  importParams(op, params) {
    const a = op as X2act;
    const p = params as X2actParams;
    if (p.s !== a.s) throw new Error(`x2act: exported scale s = ${p.s}, the space gives ${a.s}`);
    a.loadStateDict({ w1: vector(p.w1), w2: vector(p.w2), b: vector(p.b) });
  },
};

const vector = (values: number[]) => ({ shape: [values.length], values: Float32Array.from(values) });
