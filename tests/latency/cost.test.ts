import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { layerCost, networkCost, resolveNetwork } from '../../src/latency/cost.js';
import { candidateCosts, costPerElement, expectedCost } from '../../src/latency/expected.js';
import { costLayers, type CostLayer } from '../../src/latency/network.js';
import { loadLatencyTable, parseLatencyTable } from '../../src/latency/tables.js';
import { ValidationError } from '../../src/io/json.js';

const layer = (op: string, n: number, extra: Partial<CostLayer> = {}): CostLayer => ({
  path: 'x', op, sizes: { inElements: n, outElements: n, outWindows: n, macs: 0, params: 0, calls: 1 }, ...extra,
});

const base = {
  schemaVersion: 1, protocol: { family: 'custom', securityModel: 'unknown' },
  provenance: { method: 'assumed', verified: false, sources: [] },
};

describe('table forms (hand-computed)', () => {
  it('linear fit: a·n + b in the table unit, converted to ms', () => {
    const t = parseLatencyTable({ ...base, id: 't', units: { time: 'us' }, ops: { relu: { model: 'linear', per: 'inElements', a: 2, b: 5 } } });
    expect(layerCost(layer('relu', 1000), t).time).toBeCloseTo((2 * 1000 + 5) / 1000, 12);
    const rel = parseLatencyTable({ ...base, id: 'r', units: { time: 'dimensionless' }, ops: { relu: { model: 'linear', per: 'inElements', a: 13.6, b: 0.4 } } });
    const c = networkCost([layer('relu', 100), layer('relu', 10)], rel);
    expect(c).toMatchObject({ unit: 'relative', totalMs: null });
    expect(c.total).toBeCloseTo(13.6 * 110 + 0.8, 9);
  });

  it('analytic: rounds·RTT + bytes/bandwidth + compute·n + fixed', () => {
    const t = parseLatencyTable({
      ...base, id: 'a', units: { time: 's' },
      networks: [{ name: 'net', bandwidthMbps: 100, rttMs: 10 }, { name: 'asym', upMbps: 100, downMbps: 400, rttMs: 0 }],
      ops: { relu: { model: 'analytic', per: 'outElements', bytesTotal: 500, rounds: 3, computeSecondsPerUnit: 1e-6, fixedSecondsPerCall: 0.002 } },
    });
    // 1,000 elements: 3·10 ms + 500,000 B·8/100 Mb/s = 40 ms + 1 ms compute + 2 ms fixed = 73 ms
    const c = layerCost(layer('relu', 1000), t, resolveNetwork(t));
    expect(c.time).toBeCloseTo(73, 9);
    expect(c).toMatchObject({ bytes: 500_000, rounds: 3, modelled: true });
    // Asymmetric link: a total is split evenly: 250 kB up at 100 Mb/s (20 ms) + 250 kB down at 400 Mb/s (5 ms) + 1 + 2 ms
    expect(layerCost(layer('relu', 1000), t, resolveNetwork(t, { network: 'asym' })).time).toBeCloseTo(28, 9);
    // Overrides of bandwidth and RTT
    expect(layerCost(layer('relu', 1000), t, resolveNetwork(t, { bandwidthMbps: 1000, rttMs: 1 })).time).toBeCloseTo(3 + 4 + 1 + 2, 9);
    expect(() => resolveNetwork(t, { network: 'moon' })).toThrow("table 'a' has no network 'moon'; known: net, asym");
  });

  it('composed: max-pool as k·k−1 sequential comparisons per output window', () => {
    const t = parseLatencyTable({
      ...base, id: 'c', units: { time: 's' }, networks: [{ name: 'n', bandwidthMbps: 8, rttMs: 5 }],
      ops: {
        cmp: { model: 'analytic', per: 'outElements', bytesTotal: 10, rounds: 2 },
        maxpool: { model: 'composed', terms: [{ op: 'cmp', multiplier: 'k*k-1', per: 'outWindows', sequentialRounds: true }] },
      },
    });
    // 3×3 windows, 100 outputs: 800 comparisons, 8,000 B at 8 Mb/s = 8 ms; rounds 2·8 = 16 → 80 ms
    const c = layerCost(layer('maxpool', 100, { kernel: 3, stride: 2 }), t, resolveNetwork(t));
    expect(c.bytes).toBe(8000);
    expect(c.rounds).toBe(16);
    expect(c.time).toBeCloseTo(88, 9);
  });

  it('an operator the table cannot price is flagged and costs nothing, with the reason', () => {
    const t = parseLatencyTable({ ...base, id: 'u', units: { time: 's' }, ops: { x2act: { model: 'unavailable', reason: 'not measured' } } });
    const c = networkCost([layer('x2act', 10), layer('conv2d', 10)], t);
    expect(c.total).toBe(0);
    expect(c.unmodelled).toEqual({ x2act: 1, conv2d: 1 });
    expect(c.perLayer[0]!.note).toBe('not measured');
    expect(c.caveats).toEqual([
      "linear layers (conv2d ×1) are not priced by 'u': the total covers the nonlinear layers only",
      "'x2act' (1 layer) is not priced by 'u' (unavailable: not measured): the total leaves it out",
    ]);
  });

  it('validation reports every problem with its path, including unknown composed terms', () => {
    let err: unknown;
    try {
      parseLatencyTable({ ...base, id: 'Bad Id', units: { time: 'hours' }, ops: { relu: { model: 'guess' } } }, 'bad.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.path)).toEqual(expect.arrayContaining(['id', 'units.time', 'ops.relu.model']));
    expect((err as Error).message).toContain('(got "hours")');
    expect(() =>
      parseLatencyTable({ ...base, id: 'x', units: { time: 's' }, ops: { maxpool: { model: 'composed', terms: [{ op: 'cmp', multiplier: '8', per: 'outWindows' }] } } }, 'x.json'),
    ).toThrow(/ops\.maxpool\.terms\.0\.op: 'cmp' is not an operator of this table/);
  });
});


describe('differentiable expected cost', () => {
  it('equals the discrete cost of the chosen operators when the gate probabilities are one-hot', () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    const layers = costLayers(net);
    const table = loadLatencyTable('crypten-2pc-dealer');
    const network = resolveNetwork(table, { network: 'WAN' });
    const sites = layers.filter((l) => l.op === 'relu');
    const choice = sites.map((_, i) => (i % 3 === 0 ? 1 : 0)); // every third site → x2act
    const gates = sites.map((s, i) => ({ probs: tf.oneHot(tf.tensor1d([choice[i]!], 'int32'), 2).reshape([2]), costs: candidateCosts(s, ['relu', 'x2act'], table, network) }));
    const expected = expectedCost(gates).dataSync()[0]!;
    const discrete = costLayers(net, Object.fromEntries(sites.filter((_, i) => choice[i]).map((s) => [s.path, { op: 'x2act' }])));
    const siteTotal = networkCost(discrete, table, { network: 'WAN' }).perLayer.filter((c) => sites.some((s) => s.path === c.path)).reduce((a, c) => a + c.time, 0);
    expect(expected).toBeCloseTo(siteTotal, 1);
    // Its gradient with respect to the probabilities is each candidate's cost.
    const g = tf.grad((p: tf.Tensor) => expectedCost([{ probs: p, costs: gates[0]!.costs }]))(tf.tensor1d([0.3, 0.7]));
    expect(Array.from(g.dataSync())).toEqual(gates[0]!.costs.map((c) => expect.closeTo(c, 3)));
    net.dispose();
  });

  it('is affine in the kept elements of a mask (cost = fixed + perElement·n)', () => {
    const table = loadLatencyTable('crypten-2pc-dealer');
    const network = resolveNetwork(table, { network: 'LAN' });
    const site = layer('relu', 4096);
    const { fixed, perElement } = costPerElement(site, 'relu', table, network);
    expect(fixed).toBeCloseTo(9 * 0.3, 9); // 9 rounds × 0.3 ms
    expect(perElement).toBeCloseTo((464 * 8) / 3e9 * 1e3, 12);
    expect(fixed + perElement * 4096).toBeCloseTo(layerCost(site, table, network).time, 9);
  });

  it('splits a masked site into its kept ReLUs and the polynomial remainder', () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    const layers = costLayers(net, { 'stages.0.0.act1': { op: 'x2act', keptRelus: 1000 } });
    const at = layers.filter((l) => l.path === 'stages.0.0.act1');
    expect(at.map((l) => [l.op, l.sizes.outElements])).toEqual([['relu', 1000], ['x2act', 16 * 32 * 32 - 1000]]);
    expect(() => costLayers(net, { 'stages.0.0.act1': { op: 'x2act', keptRelus: 1e9 } })).toThrow(/keeps 1000000000 ReLUs, not an integer in \[0, 16384\]/);
    expect(() => costLayers(net, { nowhere: { op: 'x2act' } })).toThrow(/no site 'nowhere' in resnet20/);
    net.dispose();
  });
});
