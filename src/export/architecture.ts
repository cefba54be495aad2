import { z } from 'zod';
import { createBackbone } from '../backbones/registry.js';
import type { Backbone } from '../backbones/backbone.js';
import { parseWith, readJsonFile } from '../io/json.js';
import type { SiteChoice } from '../latency/network.js';

/**
 * The part of an exported architecture that fixes the discretized network: backbone, input shape
 * and the operator chosen at each site (sites not listed keep the backbone's default: ReLU,
 * MaxPool). Extra fields (weights, masks, coefficients, reports) are allowed and ignored here.
 */
export const ArchitectureSchema = z.looseObject({
  backbone: z.string().min(1),
  numClasses: z.number().int().positive().default(10),
  /** Per-sample input `[H,W,C]`; default: the backbone's own. */
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]).optional(),
  sites: z
    .record(
      z.string(),
      z.looseObject({
        op: z.enum(['relu', 'x2act', 'poly1', 'poly2', 'poly3', 'poly4', 'identity', 'maxpool', 'avgpool']),
        /** ReLUs kept per sample by a pixel/channel mask (the rest use `op`). */
        keptRelus: z.number().int().min(0).optional(),
      }),
    )
    .default({}),
});

export type Architecture = z.infer<typeof ArchitectureSchema>;

/**
 * Reads and validates an architecture JSON file.
 *
 * @example
 * ```ts
 * const arch = loadArchitecture('runs/s/architecture.json');
 * const { net, choices } = architectureNetwork(arch);
 * ```
 */
export function loadArchitecture(path: string): Architecture {
  const json = readJsonFile(path, 'architecture');
  return parseWith(ArchitectureSchema, json, path);
}

/**
 * Builds the backbone of an architecture and the per-site operator choices for cost models.
 *
 * @example
 * ```ts
 * const { net, choices } = architectureNetwork(uniformArchitecture('resnet18', 'x2act'));
 * networkCost(costLayers(net, choices), loadLatencyTable('delphi-gc-epyc7502')).totalMs;
 * ```
 */
export function architectureNetwork(arch: Architecture): { net: Backbone; choices: Record<string, SiteChoice> } {
  const net = createBackbone(arch.backbone, { numClasses: arch.numClasses, ...(arch.inputShape ? { inputShape: arch.inputShape } : {}) });
  const choices: Record<string, SiteChoice> = {};
  for (const [path, c] of Object.entries(arch.sites)) choices[path] = { op: c.op, ...(c.keptRelus !== undefined ? { keptRelus: c.keptRelus } : {}) };
  return { net, choices };
}

/**
 * An architecture with every activation site set to one operator (e.g. all-ReLU, all-X2act) and,
 * optionally, every pooling site to one pool.
 *
 * @example
 * ```ts
 * const allPoly = uniformArchitecture('resnet18', 'x2act');
 * ```
 */
export function uniformArchitecture(backbone: string, activation: Architecture['sites'][string]['op'], opts: { pool?: 'maxpool' | 'avgpool'; numClasses?: number; inputShape?: [number, number, number] } = {}): Architecture {
  const net = createBackbone(backbone, { numClasses: opts.numClasses ?? 10, ...(opts.inputShape ? { inputShape: opts.inputShape } : {}) });
  const sites: Architecture['sites'] = {};
  for (const { path, site } of net.sites()) {
    if (site.kind === 'activation') sites[path] = { op: activation };
    else if (opts.pool) sites[path] = { op: opts.pool };
  }
  net.dispose();
  return { backbone, numClasses: opts.numClasses ?? 10, ...(opts.inputShape ? { inputShape: opts.inputShape } : {}), sites };
}
