import { z } from 'zod';
import type { ChannelPoly } from '../poly.js';
import type { OpDef } from '../registry.js';

/** The space's `activation.poly` section (shared by `poly1` … `poly4`). */
export const PolyOptionsSchema = z.strictObject({
  /** DaPa initialisation from the site's input statistics before and during the search. Default true. */
  dapa: z.boolean().default(true),
  /** Multipliers of the DaPa coefficients c0…cd (AutoReP's code damps c0 by 1/5 and c2 by 1/10); absent: the strategy's default. */
  damping: z.array(z.number()).optional(),
  /**
   * Scale on the terms of degree ≥ 2 inside the forward pass: the effective x² coefficient is
   * `squareScale·c2`, and c2 learns at `squareScale` times the rate (AutoReP's `scale_x2`). Default 0.1,
   * AutoReP's CIFAR setting.
   */
  squareScale: z.number().positive().default(0.1),
  /** Floor of the site-input variance a DaPa fit uses (AutoReP's `var_min`). Default 0.5. */
  varianceFloor: z.number().min(0).default(0.5),
  /** Clip the x² (and higher) coefficients to [−clip, clip] in the forward pass (AutoReP's `clip_x2`); absent: no clipping. */
  clip: z.number().positive().optional(),
});
export type PolySpaceOptions = z.output<typeof PolyOptionsSchema>;

/** A channel-wise polynomial of one degree (AutoReP): `Σ_k c_k[ch]·x^k`, DaPa-initialised. */
function polyOp(degree: 1 | 2 | 3 | 4): OpDef {
  return {
    id: `poly${degree}`,
    kind: 'activation',
    summary: `channel-wise polynomial of degree ${degree}, DaPa-initialised (AutoReP)`,
    costOp: `poly${degree}`,
    collectsStats: true,
    options: { key: 'poly', schema: PolyOptionsSchema },
    async build(site, options) {
      const o = PolyOptionsSchema.parse(options ?? {});
      const { ChannelPoly } = await import('../poly.js');
      return new ChannelPoly(site.shape[site.shape.length - 1]!, { degree, squareScale: o.squareScale, varianceFloor: o.varianceFloor, ...(o.clip !== undefined ? { clip: o.clip } : {}) });
    },
    /** Coefficients `[degree + 1][channels]`. */
    exportParams: (op) => (op as ChannelPoly).coeffs.arraySync() as number[][],
    /** c_k as the forward pass uses them: clipped (k ≥ 2) and scaled by `squareScale` (k ≥ 2). */
    polynomial(op) {
      const p = op as ChannelPoly;
      const rows = p.coeffs.arraySync() as number[][];
      return rows.map((row, k) => (k < 2 ? row : row.map((c) => (p.clip === undefined ? c : Math.min(p.clip, Math.max(-p.clip, c))) * p.squareScale)));
    },
    importParams(op, params) {
      const rows = params as number[][];
      op.loadStateDict({ coeffs: { shape: [rows.length, rows[0]?.length ?? 0], values: Float32Array.from(rows.flat()) } });
    },
  };
}

export const poly1Op = polyOp(1);
export const poly2Op = polyOp(2);
export const poly3Op = polyOp(3);
export const poly4Op = polyOp(4);
