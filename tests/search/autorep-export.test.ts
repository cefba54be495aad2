import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { subset } from '../../src/data/dataset.js';
import { channelStats } from '../../src/data/loader.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildMaskSupernet } from '../../src/supernet/build.js';
import { autorepSearch, keptRelus } from '../../src/search/autorep.js';
import { resolveBudget } from '../../src/search/budget.js';
import { exportArchitecture, loadExportedArchitecture, packMask, unpackMask } from '../../src/export/export.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { evaluate } from '../../src/train/metrics.js';
import { runCli } from '../../src/cli/main.js';
import { tempDir } from '../helpers.js';

describe('AutoReP search → exact budget → export → reload', () => {
  it('meets the budget exactly, exports it, and the reloaded network evaluates identically', async () => {
    const all = await loadDataset({ name: 'mnist' });
    const train = subset(all.train, Int32Array.from({ length: 640 }, (_, i) => i * 12), 'mnist-640');
    const test = subset(all.test, Int32Array.from({ length: 300 }, (_, i) => i * 6), 'mnist-300');
    const data = { train, test, norm: channelStats(train) };
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const space = parseSearchSpace({ name: 'lenet5-pixel', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } });
    const { gates } = buildMaskSupernet(net, space, { seed: 0 });
    const total = gates.reduce((a, g) => a + g.gate.siteSize(), 0);
    expect(total).toBe(6508);
    const B = resolveBudget(0.2, total);
    const steps: number[] = [];
    const r = await autorepSearch(net, gates, data, { epochs: 2, batchSize: 64, budget: B, seed: 0 }, { hooks: { onStep: (e) => steps.push(e.count) } });
    // The annealed target drives the count down during the search; the projection then meets B exactly.
    expect(r.countBeforeProjection).toBeLessThan(total);
    expect(r.countAfterProjection).toBeLessThanOrEqual(B);
    expect(r.countAfterProjection).toBe(B); // pixel granularity fills the budget to the unit
    expect(keptRelus(gates)).toBe(B);
    expect(net.reluCount().total).toBe(B);
    expect(steps[steps.length - 1]).toBeLessThan(steps[0]!);

    const dir = tempDir();
    const arch = exportArchitecture(net, gates, join(dir, 'architecture'), { space, strategy: 'autorep', budget: B, seed: 0, table: loadLatencyTable('crypten-2pc-dealer'), network: 'WAN' }) as {
      relus: { total: number; budgetMet: boolean; perLayer: { kept: number }[] };
      latency: { commBytes: number };
    };
    expect(arch.relus.total).toBe(B);
    expect(arch.relus.budgetMet).toBe(true);
    expect(arch.relus.perLayer.reduce((a, l) => a + l.kept, 0)).toBe(B);
    // Kept ReLUs at 464 B, polynomials at 16 B, and the two 2×2 max-pools (1,176 + 400 windows) at 3 ReLUs per window.
    expect(arch.latency.commBytes).toBe(B * 464 + (total - B) * 16 + (1176 + 400) * 3 * 464);
    const before = evaluate(net, test, { norm: data.norm });
    const { net: again } = loadExportedArchitecture(join(dir, 'architecture'));
    expect(again.reluCount().total).toBe(B);
    expect(evaluate(again, test, { norm: data.norm })).toEqual(before);

    // The exported file feeds `polynas latency` directly.
    const out: string[] = [];
    expect(await runCli(['latency', join(dir, 'architecture.json'), '--table', 'crypten-2pc-dealer', '--network', 'WAN', '--json'], { out: (l) => out.push(l), print: () => {}, tty: false })).toBe(0);
    const res = JSON.parse(out.join('\n'));
    expect(res.relus).toBe(B);
    expect(res.results[0].commBytes).toBe(arch.latency.commBytes);
    expect(JSON.parse(readFileSync(join(dir, 'architecture.json'), 'utf8')).sites['act1'].op).toBe('poly2');
    net.dispose();
    again.dispose();
  });

  it('packs masks as bitsets and refuses a wrong length', () => {
    const v = [1, 0, 0, 1, 1, 1, 0, 1, 0, 1];
    const p = packMask(v, [10]);
    expect(Array.from(unpackMask(p))).toEqual(v);
    expect(() => unpackMask({ ...p, shape: [30] })).toThrow('mask of shape [30] needs 4 bytes, got 2');
  });
});
