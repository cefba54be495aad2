import type { Backbone } from '../backbones/backbone.js';
import type { SiteChoice } from '../latency/network.js';
import { getOp } from '../ops/index.js';
import type { Architecture, NetworkChoices } from '../spec/architecture.js';

/**
 * The operator each site of an architecture runs, as the latency model prices it (the operator's
 * registry `costOp`; a partial mask keeps `keptRelus` ReLUs).
 *
 * @example
 * ```ts
 * const arch = readArchitecture('runs/s/architecture.json');
 * networkCost(costLayers(net, siteChoicesOf(arch)), loadLatencyTable('delphi-gc-epyc7502'));
 * ```
 */
export function siteChoicesOf(arch: Architecture | NetworkChoices): Record<string, SiteChoice> {
  return Object.fromEntries(
    Object.entries(arch.sites).map(([path, s]) => {
      const op = getOp(s.op).costOp;
      const kept = 'gate' in s ? (s.gate === 'mask' ? s.keptRelus : undefined) : s.keptRelus;
      return [path, kept !== undefined ? { op, keptRelus: kept } : { op }];
    }),
  );
}

/**
 * Every activation site of `net` set to one operator and, optionally, every pooling site to one pool
 * (e.g. the all-X2act network of a latency comparison).
 *
 * @example
 * ```ts
 * const choices = uniformChoices(createBackbone('resnet18', { numClasses: 10 }), 'x2act');
 * ```
 */
export function uniformChoices(net: Backbone, activation: string, pool?: string): Record<string, SiteChoice> {
  const a = getOp(activation);
  const p = pool ? getOp(pool) : undefined;
  if (a.kind !== 'activation') throw new Error(`'${activation}' is a ${a.kind} operator, not an activation`);
  if (p && p.kind !== 'pool') throw new Error(`'${pool}' is an ${p.kind} operator, not a pool`);
  const out: Record<string, SiteChoice> = {};
  for (const { path, site } of net.sites()) {
    if (site.kind === 'activation') out[path] = { op: a.costOp };
    else if (p) out[path] = { op: p.costOp };
  }
  return out;
}
