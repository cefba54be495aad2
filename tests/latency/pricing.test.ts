import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { layerCost, networkCost, resolveNetwork } from '../../src/latency/cost.js';
import { candidateCosts } from '../../src/latency/expected.js';
import { costLayers, type CostLayer } from '../../src/latency/network.js';
import { loadLatencyTable, parseLatencyTable } from '../../src/latency/tables.js';

const layer = (op: string, n: number, extra: Partial<CostLayer> = {}): CostLayer => ({
  path: 'x', op, sizes: { inElements: n, outElements: n, outWindows: n, macs: 0, params: 0, calls: 1 }, ...extra,
});

const base = {
  schemaVersion: 1, protocol: { family: 'custom', securityModel: 'unknown' },
  provenance: { method: 'assumed', verified: false, sources: [] },
};

/** The ResNet-18 ImageNet stem pool's input, 112×112×64; 3×3/s2/p1 and 2×2/s2 both give 56·56·64 = 200,704 windows. */
const stemPool = (k: number): CostLayer => layer('maxpool', 200_704, { sizes: { inElements: 112 * 112 * 64, outElements: 200_704, outWindows: 200_704, macs: 0, params: 0, calls: 1 }, kernel: k, stride: 2, cin: 64, cout: 64 });

describe('composed terms spread over sequential layers', () => {
  it("charges the sub-operator's rounds once per layer, its bytes once per unit", () => {
    const t = parseLatencyTable({
      ...base, id: 'l', units: { time: 's' }, networks: [{ name: 'n', bandwidthMbps: 8, rttMs: 5 }],
      ops: {
        cmp: { model: 'analytic', per: 'outElements', bytesTotal: 10, rounds: 2 },
        tree: { model: 'composed', terms: [{ op: 'cmp', multiplier: 'k*k-1', per: 'outWindows', layers: 'ceil(log2(k*k))' }] },
      },
    });
    // 3×3, 100 windows: 800 comparisons = 8,000 B at 8 Mb/s = 8 ms; 2 rounds × ceil(log2 9) = 4 layers = 8 rounds × 5 ms = 40 ms
    const c = layerCost(layer('tree', 100, { kernel: 3 }), t, resolveNetwork(t));
    expect(c).toMatchObject({ bytes: 8000, rounds: 8 });
    expect(c.time).toBeCloseTo(48, 9);
  });

  it("rejects a term with both 'layers' and 'sequentialRounds'", () => {
    expect(() =>
      parseLatencyTable({ ...base, id: 'x', units: { time: 's' }, ops: { cmp: { model: 'analytic', per: 'outElements', rounds: 1 }, mp: { model: 'composed', terms: [{ op: 'cmp', multiplier: '8', per: 'outWindows', sequentialRounds: true, layers: '3' }] } } }, 'x.json'),
    ).toThrow(/ops\.mp\.terms\.0\.layers: give either 'layers' or 'sequentialRounds: true'/);
  });
});

describe("CrypTen max-pool priced from CrypTen's own max_pool2d (log reduction + one-hot)", () => {
  const t = loadLatencyTable('crypten-2pc-dealer');
  const wan = resolveNetwork(t, { network: 'WAN' });

  it('3×3: 24 comparisons + 9 equality tests, 20 multiplies, 2 random draws per window', () => {
    const c = layerCost(stemPool(3), t, wan);
    // 24 ltz × 432 + 9 eqz × 208 + 20 mul × 32 + 2 rand × 256 = 10,368 + 1,872 + 640 + 512 = 13,392 B per window
    expect(c.bytes).toBe(200_704 * 13_392);
    // rounds: ltz 8 × 5 layers + eqz 7 + mul 1 × 8 layers + rand 1 × 2 = 57
    expect(c.rounds).toBe(57);
    // WAN: 2,687,827,968 B × 8 / 400 Mb/s = 53,756.559 ms + 57 × 40 ms = 56,036.559 ms (was 8 ReLUs: 3,712 B, 9 rounds, 15,260.265 ms)
    expect(c.time).toBeCloseTo(56_036.55936, 4);
  });

  it('2×2: 10 comparisons + 4 equality tests, 8 multiplies, 2 random draws per window', () => {
    const c = layerCost(stemPool(2), t, wan);
    // 10 × 432 + 4 × 208 + 8 × 32 + 2 × 256 = 4,320 + 832 + 256 + 512 = 5,920 B; rounds 8 × 4 + 7 + 5 + 2 = 46
    expect(c.bytes).toBe(200_704 * 5_920);
    expect(c.rounds).toBe(46);
    // 1,188,167,680 B × 8 / 400 Mb/s = 23,763.354 ms + 46 × 40 ms = 25,603.354 ms (was 3 ReLUs: 1,392 B, 9 rounds, 5,947.599 ms)
    expect(c.time).toBeCloseTo(25_603.3536, 4);
  });
});

describe('Cheetah and SCI_HE ReLUs carry their per-layer rounds', () => {
  it('one ReLU layer of 200,704 elements under WAN (400 Mb/s, 40 ms)', () => {
    const cheetah = loadLatencyTable('cheetah-approxrelu-r50');
    const c = layerCost(layer('relu', 200_704), cheetah, resolveNetwork(cheetah, { network: 'WAN' }));
    // 10 round trips × 40 ms + 200,704 × 31.7 B × 8 / 400 Mb/s (127.246 ms) + 200,704 × 3.3 µs (662.323 ms) = 1,189.570 ms
    expect(c.rounds).toBe(10);
    expect(c.time).toBeCloseTo(400 + 127.246336 + 662.3232, 6);
    const sci = loadLatencyTable('sci-he-r50');
    const s = layerCost(layer('relu', 200_704), sci, resolveNetwork(sci, { network: 'WAN' }));
    // 39 × 40 ms + 200,704 × 1,014.6 B × 8 / 400 Mb/s (4,072.686 ms) + 200,704 × 5.9 µs (1,184.154 ms) = 6,816.839 ms
    expect(s.rounds).toBe(39);
    expect(s.time).toBeCloseTo(1560 + 4072.685568 + 1184.1536, 6);
  });

  it('a 3×3 max-pool repeats a comparison layer k·k−1 = 8 times', () => {
    // Cheetah 8 × 5 = 40 round trips, SCI_HE 8 × 11 = 88
    for (const [id, rounds] of [['cheetah-approxrelu-r50', 40], ['sci-he-r50', 88]] as const) {
      const t = loadLatencyTable(id);
      expect(layerCost(stemPool(3), t, resolveNetwork(t, { network: 'WAN' })).rounds).toBe(rounds);
    }
  });

  it('a network pays them once per ReLU layer (ResNet-20: 19 ReLU layers, no max-pool)', () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    const layers = costLayers(net);
    // Cheetah 19 × 10 = 190; SCI_HE 19 × 39 = 741 (BN, convolutions and the average pool carry no rounds)
    expect(networkCost(layers, loadLatencyTable('cheetah-approxrelu-r50'), { network: 'WAN' }).rounds).toBe(190);
    expect(networkCost(layers, loadLatencyTable('sci-he-r50'), { network: 'WAN' }).rounds).toBe(741);
    net.dispose();
  });
});

describe('every cost says what its total leaves out', () => {
  it('a table without linear layers prices the nonlinear layers only (CrypTen, ResNet-20)', () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    const c = networkCost(costLayers(net), loadLatencyTable('crypten-2pc-dealer'), { network: 'WAN' });
    net.dispose();
    expect(c.unmodelled).toEqual({ conv2d: 21, fc: 1 });
    expect(c.caveats).toEqual(["linear layers (conv2d ×21, fc ×1) are not priced by 'crypten-2pc-dealer': the total covers the nonlinear layers only"]);
  });

  it('names each other unpriced operator with the reason, and says when only some linear layers are missing', () => {
    const t = parseLatencyTable({
      ...base, id: 'u', units: { time: 's' }, networks: [{ name: 'n', bandwidthMbps: 8, rttMs: 0 }],
      ops: { x2act: { model: 'unavailable', reason: 'not measured' }, conv2d: { model: 'analytic', per: 'macs', computeSecondsPerUnit: 1e-9 } },
    });
    const c = networkCost([layer('conv2d', 10), layer('x2act', 10), layer('x2act', 5), layer('fc', 10), layer('poly3', 10)], t);
    expect(c.caveats).toEqual([
      "linear layers (fc ×1) are not priced by 'u': the total leaves them out",
      "'x2act' (2 layers) is not priced by 'u' (unavailable: not measured): the total leaves it out",
      "'poly3' (1 layer) is not priced by 'u' (no entry in the table): the total leaves it out",
    ]);
    expect(networkCost([layer('conv2d', 10)], t).caveats).toEqual([]);
  });
});

describe('a search candidate the table cannot price is an error', () => {
  const sci = loadLatencyTable('sci-he-r50');
  const wan = resolveNetwork(sci, { network: 'WAN' });
  const site = layer('relu', 16_384, { path: 'stages.0.0.act1' });

  it('an unavailable candidate names the table, the candidate, the site and the reason', () => {
    expect(() => candidateCosts(site, ['relu', 'x2act'], sci, wan)).toThrow(
      "latency table 'sci-he-r50' cannot price candidate 'x2act' at site 'stages.0.0.act1' (unavailable: a secret x secret product plus a truncation: the product was not measured in any SCI source (the truncation alone is ~1 KB per element, as much as a ReLU)); choose a table that prices it or set latency.allowUnpriced",
    );
  });

  it('a candidate missing from the table', () => {
    const reluOnly = parseLatencyTable({ ...base, id: 'relu-only', units: { time: 'us' }, ops: { relu: { model: 'linear', per: 'inElements', a: 2, b: 5 } } });
    expect(() => candidateCosts(site, ['relu', 'x2act'], reluOnly)).toThrow(
      "latency table 'relu-only' cannot price candidate 'x2act' at site 'stages.0.0.act1' (no entry in the table); choose a table that prices it or set latency.allowUnpriced",
    );
    // Opted in: x2act costs 0, ReLU (2·16,384 + 5) µs = 32.773 ms
    expect(candidateCosts(site, ['relu', 'x2act'], reluOnly, undefined, { allowUnpriced: true })).toEqual([expect.closeTo(32.773, 9), 0]);
  });

  it('allowUnpriced prices it at 0 and the others as usual', () => {
    // ReLU: 39 × 40 ms + 16,384 × 1,014.6 B × 8 / 400 Mb/s (332.464 ms) + 16,384 × 5.9 µs (96.666 ms) = 1,989.130 ms
    const [relu, x2] = candidateCosts(site, ['relu', 'x2act'], sci, wan, { allowUnpriced: true });
    expect(relu).toBeCloseTo(1560 + 332.464128 + 96.6656, 6);
    expect(x2).toBe(0);
  });
});
