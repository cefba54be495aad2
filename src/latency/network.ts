import type { Backbone } from '../backbones/backbone.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear } from '../nn/layers.js';
import { ActivationSite, PoolSite, Site } from '../nn/site.js';
import { costOpOf } from '../ops/index.js';
import type { SizeVar } from './schema.js';

/** One cost-bearing layer of a discretized network, with its per-sample sizes. */
export interface CostLayer {
  /** Dotted module path (a site path for activations and pools). */
  path: string;
  /** Operator id looked up in latency tables. */
  op: string;
  sizes: Record<SizeVar, number>;
  /** Window size and stride (pools), used by composed costs. */
  kernel?: number;
  stride?: number;
  cin?: number;
  cout?: number;
}

/** Operator placed at an activation site of a discretized network. */
export interface SiteChoice {
  /** `relu`, `x2act`, `poly1`…`poly4` or `identity` (activation); `maxpool` or `avgpool` (pool). */
  op: string;
  /**
   * For pixel- or channel-granular ReLU masks: how many elements per sample keep the ReLU; the rest
   * use `op`. Saves traffic only if the 2PC runtime compares the kept elements alone (gather,
   * compare, scatter); the count of comparisons is what the model charges.
   */
  keptRelus?: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function sizes(input: readonly number[], output: readonly number[], macs = 0, params = 0): Record<SizeVar, number> {
  return { inElements: prod(input), outElements: prod(output), outWindows: prod(output), macs, params, calls: 1 };
}

/**
 * Lists the cost-bearing layers of a network in forward order after tracing it at `inputShape`:
 * convolutions and linear layers (by MACs), BatchNorms, activation sites (every ReLU counts here,
 * the stem's included) and pooling sites. A site's operator is priced by its registry id; `choices`
 * gives it by path instead (a gated site's `costChoice()`, or an exported architecture's sites).
 *
 * @example
 * ```ts
 * const layers = costLayers(createBackbone('resnet18', { numClasses: 10 }));
 * layers.filter((l) => l.op === 'relu').reduce((a, l) => a + l.sizes.outElements, 0); // 557056
 * ```
 */
export function costLayers(net: Backbone, choices: Record<string, SiteChoice> = {}, inputShape?: readonly number[]): CostLayer[] {
  net.trace(inputShape ?? net.inputShape);
  const sitePaths = new Set(net.sites().map((s) => s.path));
  for (const p of Object.keys(choices)) {
    if (!sitePaths.has(p)) throw new Error(`architecture: no site '${p}' in ${net.arch}; sites: ${[...sitePaths].slice(0, 6).join(', ')}, …`);
  }
  const out: CostLayer[] = [];
  for (const [path, m] of net.namedModules()) {
    if (m instanceof Site) {
      const input = m.inputShape;
      if (!input) continue;
      const choice = choices[path];
      const op = choice?.op ?? costOpOf(m.op);
      if (m instanceof ActivationSite) {
        const n = prod(input);
        const kept = choice?.keptRelus;
        if (kept !== undefined && (kept < 0 || kept > n || !Number.isInteger(kept))) {
          throw new Error(`architecture: site '${path}' keeps ${kept} ReLUs, not an integer in [0, ${n}]`);
        }
        if (kept !== undefined && op !== 'relu') {
          if (kept > 0) out.push({ path, op: 'relu', sizes: { ...sizes(input, input), inElements: kept, outElements: kept, outWindows: kept } });
          if (kept < n) out.push({ path, op, sizes: { ...sizes(input, input), inElements: n - kept, outElements: n - kept, outWindows: n - kept } });
        } else out.push({ path, op, sizes: sizes(input, input) });
      } else if (m instanceof PoolSite) {
        const k = m.kernel;
        const s = m.stride;
        const oh = Math.floor((input[0]! + 2 * m.pad - k) / s) + 1;
        const ow = Math.floor((input[1]! + 2 * m.pad - k) / s) + 1;
        out.push({ path, op, sizes: sizes(input, [oh, ow, input[2]!]), kernel: k, stride: s, cin: input[2]!, cout: input[2]! });
      }
      continue;
    }
    const sh = m.lastShapes;
    if (!sh) continue;
    if (m instanceof Conv2d) {
      const macs = prod(sh.output) * m.kernel * m.kernel * (m.inChannels / m.groups);
      out.push({ path, op: m.depthwise ? 'dwconv2d' : 'conv2d', sizes: sizes(sh.input, sh.output, macs, m.weight.size + (m.bias?.size ?? 0)), kernel: m.kernel, stride: m.stride, cin: m.inChannels, cout: m.outChannels });
    } else if (m instanceof Linear) {
      out.push({ path, op: 'fc', sizes: sizes(sh.input, sh.output, m.inFeatures * m.outFeatures, m.weight.size + (m.bias?.size ?? 0)), cin: m.inFeatures, cout: m.outFeatures });
    } else if (m instanceof BatchNorm2d) {
      out.push({ path, op: 'bn', sizes: sizes(sh.input, sh.output, 0, 2 * m.channels) });
    } else if (m instanceof GlobalAvgPool) {
      out.push({ path, op: 'avgpool', sizes: sizes(sh.input, sh.output), kernel: sh.input[0]!, stride: sh.input[0]!, cin: sh.output[0]!, cout: sh.output[0]! });
    }
  }
  return out;
}
