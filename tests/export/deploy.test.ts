import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { backboneNames, createBackbone } from '../../src/backbones/registry.js';
import { tf } from '../../src/engine/tf.js';
import { measureDeployed, withDeployedForm } from '../../src/export/deploy.js';
import { toArchitecture } from '../../src/export/architecture.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import type { PlacedGate } from '../../src/supernet/gate.js';
import type { Backbone } from '../../src/backbones/backbone.js';

/** Small inputs keep the ImageNet-stem and wide networks quick; the count follows the input size exactly. */
const INPUT: Record<string, [number, number, number]> = {
  'resnet18-imagenet': [64, 64, 3], 'resnet34-imagenet': [64, 64, 3], 'resnet50-imagenet': [64, 64, 3], lenet5: [28, 28, 1],
};
const inputOf = (name: string): [number, number, number] => INPUT[name] ?? [32, 32, 3];

/** Freezes every gate with random decisions (keep with probability 0.3). */
function freezeRandomly(gates: readonly PlacedGate[], seed: number): void {
  const rand = seedrandom(`deploy-${seed}`);
  for (const { gate } of gates) gate.freeze(Float32Array.from({ length: gate.scores().length }, () => (rand() < 0.3 ? 1 : 0)));
}

/** Training-form and deployed-form outputs on a random batch, in eval mode. */
function bothForms(net: Backbone, shape: readonly number[]): { train: Float32Array; deployed: Float32Array } {
  net.eval();
  const x = tf.randomNormal([2, ...shape], 0, 1, 'float32', 7);
  const train = net.forward(x);
  const deployed = withDeployedForm(net, () => net.forward(x));
  const out = { train: train.dataSync() as Float32Array, deployed: deployed.dataSync() as Float32Array };
  tf.dispose([x, train, deployed]);
  return out;
}

function expectClose(a: Float32Array, b: Float32Array): void {
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
  expect(worst / scale).toBeLessThan(1e-4);
}

/** Both forms give the same logits, and the deployed form evaluates exactly the sites' ReLUs and comparisons. */
function checkDeployed(net: Backbone, shape: readonly number[]) {
  const { train, deployed } = bothForms(net, shape);
  expectClose(train, deployed);
  const measured = measureDeployed(net);
  const structural = net.reluCount();
  expect(measured.relus).toBe(structural.total);
  expect(measured.comparisons).toBe(structural.comparisons);
  return { measured, structural };
}

describe('deployed form: the count is what the network evaluates', () => {
  for (const name of backboneNames()) {
    it(`${name}: pixel masks gathered through ReLU give the training form's output, and the ReLU kernel sees exactly the exported count`, async () => {
      const shape = inputOf(name);
      const net = createBackbone(name, { numClasses: 10, inputShape: shape, seed: 1 });
      const space = parseSearchSpace({ name: 's', backbone: name, activation: { candidates: ['relu', 'poly2'], granularity: 'pixel', includeStem: false } });
      const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
      freezeRandomly(gates, 1);
      const { measured, structural } = checkDeployed(net, shape);
      // The stem (left out of the space) keeps all its ReLUs, and they are counted.
      const stem = structural.perSite.find((s) => s.stem);
      if (stem) expect(measured.perSite.find((s) => s.path === stem.path)!.relus).toBe(stem.relus);
      const arch = toArchitecture(net, gates, { space, strategy: 'autorep', seed: 0, budget: measured.relus });
      expect(arch.relus.total).toBe(measured.relus);
      expect(arch.relus.maxPoolComparisons).toBe(measured.comparisons);
      expect(arch.relus.budgetMet).toBe(true);
      net.dispose();
    }, 60_000);
  }

  it('DARTS choices at activation and pool sites (VGG-16, LeNet-5): chosen candidates run, kept MaxPools report their comparisons', async () => {
    for (const name of ['vgg16_bn', 'lenet5']) {
      const shape = inputOf(name);
      const net = createBackbone(name, { numClasses: 10, inputShape: shape, seed: 2 });
      const space = parseSearchSpace({ name: 's', backbone: name, activation: { candidates: ['relu', 'x2act'] }, pool: { candidates: ['maxpool', 'avgpool'] } });
      const gates = await buildSupernet(net, space, { gate: 'darts', seed: 0 });
      freezeRandomly(gates, 2);
      // Pool gates choose by θ (all 0 → maxpool): half of them switch to avgpool.
      gates.filter((g) => g.gate.siteKind === 'pool').forEach((g, i) => i % 2 && (g.gate as unknown as { choose(n: string): void }).choose('avgpool'));
      const { measured } = checkDeployed(net, shape);
      expect(measured.comparisons).toBeGreaterThan(0);
      net.dispose();
    }
  }, 60_000);

  it('a gate that is not discretized has no deployed form', async () => {
    const net = createBackbone('lenet5', { numClasses: 10 });
    await buildSupernet(net, parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
    expect(() => measureDeployed(net)).toThrow(/site 'act1': its mask gate is not discretized yet/);
    // The network is left as it was: its sites still hold the gates.
    expect(net.sites().every(({ site }) => site.op.constructor.name === 'MaskGate' || site.kind === 'pool')).toBe(true);
    net.dispose();
  });
});
