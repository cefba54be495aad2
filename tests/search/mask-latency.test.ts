import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { tf } from '../../src/engine/tf.js';
import { networkCost } from '../../src/latency/cost.js';
import { costLayers } from '../../src/latency/network.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { expectedMaskLatency, maskLatencyModel } from '../../src/search/strategies/mask-latency.js';
import type { SearchContext } from '../../src/search/strategy.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { costChoices, type PlacedGate } from '../../src/supernet/gate.js';
import type { MaskGate } from '../../src/supernet/mask-gate.js';

describe('the latency term of mask searches', () => {
  it('with binary masks it equals the exported cost of the gated layers (CrypTen, WAN), and a layer that drops its last ReLUs saves its 9 rounds', async () => {
    const net = createBackbone('lenet5', { numClasses: 10 });
    const gates = (await buildSupernet(net, parseSearchSpace({ name: 'p', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 })) as PlacedGate<MaskGate>[];
    const table = loadLatencyTable('crypten-2pc-dealer');
    const ctx = { net, gates, latency: { table, network: 'WAN' } } as unknown as SearchContext;
    const model = maskLatencyModel(ctx, gates, 0.02);
    // act1 keeps 40 %, act2 none, act3 all, act4 half (whole layers far from the indicator's width).
    const fractions = [0.4, 0, 1, 0.5];
    gates.forEach(({ gate }, i) => gate.freeze(Float32Array.from({ length: gate.siteSize() }, (_, e) => (e < fractions[i]! * gate.siteSize() ? 1 : 0))));
    const kept = gates.map(({ gate }) => tf.scalar(gate.reluCount()));
    const relative = expectedMaskLatency(model, kept).dataSync()[0]!;
    const exported = networkCost(costLayers(net, costChoices(gates)), table, { network: 'WAN' });
    const gated = new Set(gates.map((g) => g.path));
    const gatedMs = exported.perLayer.filter((l) => gated.has(l.path)).reduce((a, l) => a + l.time, 0);
    expect(relative * model.reference).toBeCloseTo(gatedMs, 3);
    // The reference is the all-ReLU cost of those layers.
    const allRelu = networkCost(costLayers(net, Object.fromEntries(gates.map((g) => [g.path, { op: 'relu' }]))), table, { network: 'WAN' });
    expect(model.reference).toBeCloseTo(allRelu.perLayer.filter((l) => gated.has(l.path)).reduce((a, l) => a + l.time, 0), 6);
    // The gradient on a nearly empty layer carries its rounds: 9 · 40 ms spread over the indicator's width.
    const grad = tf.grad((k: tf.Tensor) => expectedMaskLatency(model, [k, ...kept.slice(1)]))(tf.scalar(1)).dataSync()[0]! * model.reference;
    const perElement = model.gates[0]!.relu.perElement - model.gates[0]!.alt.perElement;
    expect(grad - perElement).toBeGreaterThan(0.5 * (9 * 40) / (0.02 * gates[0]!.gate.siteSize()));
    tf.dispose(kept);
    net.dispose();
  });
});
