import type { Backbone } from '../backbones/backbone.js';
import { ActivationSite, PoolSite, type Site } from '../nn/site.js';
import { buildOp, getOp, reluIndex } from '../ops/index.js';
import { selectSites, type ActivationSpace, type SearchSpace } from '../spec/space.js';
import { DartsGate } from './darts-gate.js';
import type { GateKind, PlacedGate } from './gate.js';
import { MaskGate } from './mask-gate.js';
import { MASK_RULES, type MaskRuleName } from './mask-rules.js';

/** How {@link buildSupernet} places gates. */
export interface SupernetOptions {
  /** `mask`: ReLU vs one cheap operator per pixel, channel or layer; `darts`: a softmax over every candidate per site. */
  gate: GateKind;
  /** Mask gates: the rule by which α decides while searching (default `hysteresis`). */
  rule?: MaskRuleName;
  /** Mask gates: hysteresis half-width t (AutoReP: 0.003). */
  threshold?: number;
  /** Seed of the mask gates' α initialisation (gate i draws from `seed·1000 + i`). */
  seed: number;
  /** DARTS pool gates: a kept MaxPool's comparisons count against the budget (default false). */
  countMaxPool?: boolean;
}

/** The options section of a candidate in the space (`activation.poly` for `poly2`, …). */
function opOptions(act: ActivationSpace, id: string): unknown {
  const key = getOp(id).options?.key;
  return key ? (act as Record<string, unknown>)[key] : undefined;
}

/** The activation sites a space selects, in forward order, each with its index among activation sites. */
function activationSites(net: Backbone, act: ActivationSpace): { path: string; site: Site; index: number }[] {
  const sites = net.sites().filter((s) => s.site instanceof ActivationSite && (act.includeStem || !s.site.stem));
  const chosen = new Set(selectSites(act.sites, sites.map((s) => s.path), 'activation.sites'));
  return sites.map((s, index) => ({ ...s, index })).filter((s) => chosen.has(s.path));
}

function checkSpace(net: Backbone, space: SearchSpace, gate: GateKind): void {
  if (space.backbone !== net.arch) throw new Error(`search space '${space.name}' is for backbone '${space.backbone}', not '${net.arch}'`);
  if (gate === 'darts') {
    if (space.activation && space.activation.granularity !== 'layer') throw new Error(`search space '${space.name}': DARTS gates decide per site ('layer' granularity), not per ${space.activation.granularity}`);
    return;
  }
  const act = space.activation;
  if (!act) throw new Error(`search space '${space.name}': mask gates need an activation section`);
  if (space.pool) throw new Error(`search space '${space.name}': pool decisions are searched by DARTS gates, not by mask gates`);
  if (act.candidates.length !== 2 || reluIndex(act.candidates) < 0) {
    throw new Error(`search space '${space.name}': mask gates choose between relu and one operator; candidates are ${JSON.stringify(act.candidates)}`);
  }
}

async function maskGates(net: Backbone, space: SearchSpace, opts: SupernetOptions): Promise<PlacedGate[]> {
  const act = space.activation!;
  const alt = act.candidates[1 - reluIndex(act.candidates)]!;
  const rule = MASK_RULES[opts.rule ?? 'hysteresis'];
  const gates: PlacedGate[] = [];
  for (const { path, site, index } of activationSites(net, act)) {
    const shape = site.inputShape!;
    const op = await buildOp(alt, { shape }, opOptions(act, alt));
    const gate = new MaskGate(op, shape, { granularity: act.granularity, seed: opts.seed * 1000 + index, rule, ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}) });
    site.setOp(gate).dispose();
    gates.push({ path, gate });
  }
  return gates;
}

async function dartsGates(net: Backbone, space: SearchSpace, countMaxPool: boolean): Promise<PlacedGate[]> {
  const gates: PlacedGate[] = [];
  const act = space.activation;
  if (act) {
    for (const { path, site } of activationSites(net, act)) {
      const shape = site.inputShape!;
      const ops = await Promise.all(act.candidates.map((c) => buildOp(c, { shape }, opOptions(act, c))));
      const gate = new DartsGate('activation', act.candidates, ops, shape);
      site.setOp(gate).dispose();
      gates.push({ path, gate });
    }
  }
  const pool = space.pool;
  if (pool) {
    const sites = net.sites().filter((s) => s.site instanceof PoolSite);
    const chosen = new Set(selectSites(pool.sites, sites.map((s) => s.path), 'pool.sites'));
    for (const { path, site } of sites) {
      if (!chosen.has(path)) continue;
      const p = site as PoolSite;
      const ops = await Promise.all(pool.candidates.map((c) => buildOp(c, { shape: site.inputShape!, kernel: p.kernel, stride: p.stride, pad: p.pad })));
      const gate = new DartsGate('pool', pool.candidates, ops, site.inputShape!, { countsComparisons: countMaxPool });
      site.setOp(gate).dispose();
      gates.push({ path, gate });
    }
  }
  return gates;
}

/**
 * Places gates at the sites a search space selects in `net` (which must be the space's backbone),
 * after tracing it so every gate knows its site shape: mask gates (ReLU vs the space's cheap
 * operator at its granularity, AutoReP / SNL) or DARTS gates (a softmax over the candidates at
 * every selected activation and pooling site, PASNet).
 *
 * @example
 * ```ts
 * const net = createBackbone('resnet20', { numClasses: 10 });
 * const gates = await buildSupernet(net, loadSearchSpace('resnet20-pixel'), { gate: 'mask', seed: 0 });
 * ```
 */
export async function buildSupernet(net: Backbone, space: SearchSpace, opts: SupernetOptions): Promise<PlacedGate[]> {
  checkSpace(net, space, opts.gate);
  net.trace();
  const gates = opts.gate === 'mask' ? await maskGates(net, space, opts) : await dartsGates(net, space, opts.countMaxPool ?? false);
  if (!gates.length) throw new Error(`search space '${space.name}' selects no site of ${net.arch}`);
  return gates;
}
