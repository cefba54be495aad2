import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { subset } from '../../src/data/dataset.js';
import { channelStats } from '../../src/data/loader.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildMaskSupernet } from '../../src/supernet/build.js';
import { snlSearch } from '../../src/search/snl.js';
import { keptRelus } from '../../src/search/autorep.js';

describe('SNL search', () => {
  it('raises λ by 1.1 when the count stalls and freezes to at most B ReLUs (α > 0.01 only)', async () => {
    const all = await loadDataset({ name: 'mnist' });
    const train = subset(all.train, Int32Array.from({ length: 256 }, (_, i) => i * 30), 'mnist-256');
    const test = subset(all.test, Int32Array.from({ length: 100 }, (_, i) => i * 20), 'mnist-100');
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const space = parseSearchSpace({ name: 'snl', backbone: 'lenet5', activation: { candidates: ['relu', 'identity'], granularity: 'channel' } });
    const { gates } = buildMaskSupernet(net, space, { seed: 0, mode: 'continuous' });
    expect(keptRelus(gates)).toBe(6508); // α = 1 everywhere
    const r = await snlSearch(net, gates, { train, test, norm: channelStats(train) }, { epochs: 3, batchSize: 32, budget: 2000, seed: 0, lr: 0.05, lambda: 20 });
    expect(r.history.length).toBeGreaterThan(0);
    // The count stalled over this short run, so λ was raised by 1.1 after every epoch but the first.
    expect(r.history.map((h) => h.lambda)).toEqual([20, 22, 24.2].slice(0, r.history.length).map((v) => expect.closeTo(v, 6)));
    expect(r.history.every((h) => h.count <= 6508)).toBe(true);
    expect(r.countAfterProjection).toBeLessThanOrEqual(2000);
    expect(net.reluCount().total).toBe(r.countAfterProjection);
    for (const g of gates) expect(g.gate.isFrozen).toBe(true);
    net.dispose();
  });
});
