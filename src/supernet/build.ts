import type { Backbone } from '../backbones/backbone.js';
import { ChannelPoly, Identity } from '../ops/poly.js';
import { X2act } from '../ops/x2act.js';
import type { Module } from '../nn/module.js';
import { ActivationSite } from '../nn/site.js';
import { selectSites, type ActivationOp, type SearchSpace } from '../spec/space.js';
import { MaskGate } from './mask-gate.js';

/** A gate placed at a site. */
export interface PlacedGate {
  path: string;
  gate: MaskGate;
}

/**
 * Builds the cheap candidate operator of an activation site.
 *
 * @example
 * ```ts
 * const op = buildActivationOp('poly2', [16, 16, 32], space.activation!); // a ChannelPoly over 32 channels
 * ```
 */
export function buildActivationOp(op: ActivationOp, siteShape: readonly number[], space: NonNullable<SearchSpace['activation']>): Module {
  const c = siteShape[siteShape.length - 1]!;
  switch (op) {
    case 'x2act':
      return new X2act(c, siteShape, { granularity: space.x2act.granularity, scale: space.x2act.scale });
    case 'identity':
      return new Identity();
    case 'relu':
      throw new Error('relu is the expensive candidate, not a replacement');
    default: {
      const degree = Number(op.slice(4));
      return new ChannelPoly(c, { degree, squareScale: space.poly.squareScale, ...(space.poly.clip !== undefined ? { clip: space.poly.clip } : {}) });
    }
  }
}

/**
 * Places mask gates (ReLU vs the space's cheap operator, at the space's granularity) at the
 * searchable activation sites of `net`, which must be the space's backbone. The network is traced
 * first so every gate knows its site shape.
 *
 * @example
 * ```ts
 * const { gates } = buildMaskSupernet(createBackbone('resnet20', { numClasses: 10 }), space, { seed: 0 });
 * ```
 */
export function buildMaskSupernet(net: Backbone, space: SearchSpace, opts: { seed: number; threshold?: number; mode?: 'hysteresis' | 'continuous' }): { net: Backbone; gates: PlacedGate[] } {
  if (space.backbone !== net.arch) throw new Error(`search space '${space.name}' is for backbone '${space.backbone}', not '${net.arch}'`);
  const act = space.activation;
  if (!act) throw new Error(`search space '${space.name}': the mask strategies need an activation section`);
  if (space.pool) throw new Error(`search space '${space.name}': pool decisions are searched by the darts strategy, not by mask gates`);
  const alt = act.candidates.find((c) => c !== 'relu');
  if (!alt || act.candidates.length !== 2 || !act.candidates.includes('relu')) {
    throw new Error(`search space '${space.name}': mask gates choose between relu and one operator; candidates are ${JSON.stringify(act.candidates)}`);
  }
  net.trace();
  const sites = net.sites().filter((s) => s.site instanceof ActivationSite && (act.includeStem || !s.site.stem));
  const chosen = new Set(selectSites(act.sites, sites.map((s) => s.path), 'activation.sites'));
  const gates: PlacedGate[] = [];
  sites.forEach(({ path, site }, i) => {
    if (!chosen.has(path)) return;
    const shape = site.inputShape!;
    const gate = new MaskGate(buildActivationOp(alt, shape, act), shape, { granularity: act.granularity, seed: opts.seed * 1000 + i, ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}), ...(opts.mode ? { mode: opts.mode } : {}) });
    site.setOp(gate).dispose();
    gates.push({ path, gate });
  });
  if (!gates.length) throw new Error(`search space '${space.name}' selects no activation site of ${net.arch}`);
  return { net, gates };
}
