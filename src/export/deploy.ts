import type { Backbone } from '../backbones/backbone.js';
import { tf } from '../engine/tf.js';
import { SecureOpCounter } from '../nn/metered.js';
import type { Module } from '../nn/module.js';
import { meteredOp } from '../supernet/deployed.js';
import type { Gate } from '../supernet/gate.js';

/** Secure comparisons a deployed network evaluated per sample, in total and per site. */
export interface DeployedCount {
  /** ReLU evaluations per sample: the elements that reached a ReLU kernel. */
  relus: number;
  /** Max-pool comparisons per sample. */
  comparisons: number;
  perSite: { path: string; kind: 'activation' | 'pool'; relus: number; comparisons: number }[];
}

function isGate(op: Module): op is Gate {
  return typeof (op as unknown as Partial<Gate>).deployed === 'function';
}

/**
 * Runs `fn` on the deployed form of `net`: every gate's frozen decisions as a 2PC runtime evaluates
 * them (a mask site gathers its kept elements through ReLU and the rest through its polynomial; a
 * DARTS site runs its chosen candidate), every ReLU and MaxPool metered per site. The network's
 * own operators are put back afterwards, whatever `fn` does.
 *
 * @example
 * ```ts
 * const logits = withDeployedForm(net, (counters) => net.forward(x));
 * ```
 */
export function withDeployedForm<T>(net: Backbone, fn: (counters: ReadonlyMap<string, SecureOpCounter>) => T): T {
  const swapped: { site: ReturnType<Backbone['sites']>[number]['site']; original: Module; deployed: Module }[] = [];
  const counters = new Map<string, SecureOpCounter>();
  try {
    for (const { path, site } of net.sites()) {
      const op = site.op;
      if (isGate(op) && !op.isFrozen) throw new Error(`site '${path}': its ${op.gateKind} gate is not discretized yet (freeze or project it first)`);
      const counter = new SecureOpCounter();
      const deployed = isGate(op) ? op.deployed(counter) : meteredOp(op, counter);
      counters.set(path, counter);
      swapped.push({ site, original: site.setOp(deployed), deployed });
    }
    return fn(counters);
  } finally {
    for (const s of swapped.reverse()) {
      s.site.setOp(s.original);
      s.deployed.dispose();
    }
  }
}

/**
 * The ReLUs and max-pool comparisons the deployed network evaluates per sample, measured by running
 * one sample through it (the counts depend on shapes and decisions, not on values). This is the
 * count `architecture.json` reports and `budgetMet` checks.
 *
 * @example
 * ```ts
 * measureDeployed(net).relus; // equals net.reluCount().total for every discretized network
 * ```
 */
export function measureDeployed(net: Backbone, inputShape: readonly number[] = net.inputShape): DeployedCount {
  const wasTraining = net.training;
  net.eval();
  try {
    return withDeployedForm(net, (counters) => {
      tf.tidy(() => void net.forward(tf.zeros([1, ...inputShape])));
      const perSite = net.sites().map(({ path, site }) => ({ path, kind: site.kind, relus: counters.get(path)!.relus, comparisons: counters.get(path)!.comparisons }));
      return { relus: perSite.reduce((a, s) => a + s.relus, 0), comparisons: perSite.reduce((a, s) => a + s.comparisons, 0), perSite };
    });
  } finally {
    net.train(wasTraining);
  }
}
