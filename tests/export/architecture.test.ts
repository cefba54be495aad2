import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { loadDataset } from '../../src/data/datasets.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { packMask, unpackMask, ARCHITECTURE_FORMAT_VERSION } from '../../src/spec/architecture.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { searchSupernet } from '../../src/search/loop.js';
import { loadArchitecture, readArchitecture, toArchitecture, writeArchitecture } from '../../src/export/architecture.js';
import { siteChoicesOf } from '../../src/export/choices.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { costLayers } from '../../src/latency/network.js';
import { networkCost } from '../../src/latency/cost.js';
import { evaluate } from '../../src/train/metrics.js';
import { runCli } from '../../src/cli/main.js';
import { mnistSlice, tempDir } from '../helpers.js';

const fixtures = join(__dirname, '..', 'fixtures');

describe('AutoReP search → exact budget → typed export → reload', () => {
  it('meets the budget exactly, exports it, and the reloaded network evaluates identically', async () => {
    const data = await mnistSlice(640, 12, 300, 6);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const space = parseSearchSpace({ name: 'lenet5-pixel', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } });
    const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
    const r = await searchSupernet({ strategy: 'autorep', budget: 1301, epochs: 1, batchSize: 64 }, { net, gates, data, seed: 0 });
    expect(r.count).toBe(1301);

    const dir = tempDir();
    const arch = toArchitecture(net, gates, { space, strategy: 'autorep', budget: 1301, seed: 0, table: loadLatencyTable('crypten-2pc-dealer'), network: 'WAN' });
    writeArchitecture(join(dir, 'architecture'), arch, net);
    expect(arch.formatVersion).toBe(ARCHITECTURE_FORMAT_VERSION);
    expect(arch.relus).toMatchObject({ total: 1301, budgetMet: true });
    expect(arch.relus.perLayer.reduce((a, l) => a + l.kept, 0)).toBe(1301);
    // Kept ReLUs at 464 B, polynomials at 16 B, and the two 2×2 max-pools (1,176 + 400 windows) at
    // 5,920 B per window (CrypTen's max_pool2d: log-reduction, one-hot equality, weighted index).
    expect(arch.latency!.commBytes).toBe(1301 * 464 + (6508 - 1301) * 16 + (1176 + 400) * 5920);
    // LeNet-5's max-pools compare 3 times per 2×2 window, reported beside the ReLUs.
    expect(arch.relus.maxPoolComparisons).toBe((1176 + 400) * 3);
    const site = arch.sites['act1']!;
    expect(site.gate === 'mask' && site.op === 'poly2' && (site.params as number[][]).length === 3).toBe(true);
    // The file round-trips through the schema unchanged.
    expect(readArchitecture(join(dir, 'architecture.json'))).toEqual(JSON.parse(JSON.stringify(arch)));
    const before = evaluate(net, data.test, { norm: data.norm });
    const { net: again } = await loadArchitecture(join(dir, 'architecture.json'));
    expect(again.reluCount().total).toBe(1301);
    expect(evaluate(again, data.test, { norm: data.norm })).toEqual(before);

    // The exported file feeds `polynas latency` directly.
    const out: string[] = [];
    expect(await runCli(['latency', join(dir, 'architecture.json'), '--table', 'crypten-2pc-dealer', '--network', 'WAN', '--json'], { out: (l) => out.push(l), print: () => {}, tty: false })).toBe(0);
    const res = JSON.parse(out.join('\n'));
    expect(res.relus).toBe(1301);
    expect(res.results[0].commBytes).toBe(arch.latency!.commBytes);
    net.dispose();
    again.dispose();
  });

  it('a truncated or mistyped architecture.json is refused with the file and field named', () => {
    const dir = tempDir();
    const v1 = JSON.parse(readFileSync(join(fixtures, 'v1-autorep-lenet5', 'architecture.json'), 'utf8'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...v1, seed: 'zero' }));
    expect(() => readArchitecture(join(dir, 'bad.json'))).toThrow(new RegExp(`${join(dir, 'bad.json')}: 1 problem:\\n  - seed: .*\\(got "zero"\\)`));
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ format: 'something-else' }));
    expect(() => readArchitecture(join(dir, 'other.json'))).toThrow("not a polynas architecture (format 'something-else')");
  });

  it('packs masks as bitsets and refuses a wrong length', () => {
    const v = [1, 0, 0, 1, 1, 1, 0, 1, 0, 1];
    const p = packMask(v, [10]);
    expect(Array.from(unpackMask(p))).toEqual(v);
    expect(() => unpackMask({ ...p, shape: [30] })).toThrow('mask of shape [30] needs 4 bytes, got 2');
  });
});

describe('architecture.json written by polynas 0.1 (format 1)', () => {
  it.each([
    // Recorded under CrypTen's table before its max-pool entry followed max_pool2d (2,327,040 B then):
    // re-priced today, the two 2×2 max-pools cost 1,576 windows · 5,920 B.
    ['v1-autorep-lenet5', 'mask', 65, 65 * 464 + (6508 - 65) * 16 + 1576 * 5920],
    ['v1-darts-lenet5', 'darts', 1804, 0],
  ] as const)('%s loads, keeps its ReLU count, re-prices its latency, and evaluates as recorded', async (name, gate, relus, commBytes) => {
    const file = join(fixtures, name, 'architecture.json');
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    expect(raw.formatVersion).toBe(1);
    const arch = readArchitecture(file);
    expect(arch.formatVersion).toBe(3);
    expect(new Set(Object.values(arch.sites).map((s) => s.gate))).toEqual(new Set([gate]));
    const { net, gates } = await loadArchitecture(file);
    expect(net.reluCount().total).toBe(relus);
    expect(gates.every((g) => g.gate.isFrozen)).toBe(true);
    // The upgraded sites price under today's table as the network they describe.
    const cost = networkCost(costLayers(createBackbone(arch.backbone, { numClasses: 10, inputShape: arch.inputShape }), siteChoicesOf(arch)), loadLatencyTable(arch.latency!.table), arch.latency!.network ? { network: arch.latency!.network } : {});
    expect(cost.commBytes).toBe(commBytes);
    if (name === 'v1-darts-lenet5') expect(cost.total).toBeCloseTo(arch.latency!.total, 6);
    // Recorded on LibTorch, evaluated here on wasm: the same predictions up to float rounding.
    const { test } = await loadDataset({ name: 'mnist' });
    expect(evaluate(net, test, { norm: arch.normalization! }).top1).toBeCloseTo(arch.metrics!.finetunedTop1!, 2);
    net.dispose();
  });
});

describe('architecture.json written before the stem ReLU was counted (format 2)', () => {
  it('loads with the count measured on its network, budgetMet re-checked, and a warning naming the file and both numbers', async () => {
    // A ResNet-20 whose space left the stem out: the old count (format 2) omitted its 16,384 ReLUs.
    const net = createBackbone('resnet20', { numClasses: 10, seed: 0 });
    const space = parseSearchSpace({ name: 'r', backbone: 'resnet20', activation: { candidates: ['relu', 'poly2'], granularity: 'channel', includeStem: false } });
    const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
    for (const { gate } of gates) gate.freeze(Float32Array.from({ length: gate.scores().length }, (_, i) => (i < 2 ? 1 : 0)));
    const arch = toArchitecture(net, gates, { space, strategy: 'autorep', seed: 0, budget: 20_000 });
    const kept = gates.reduce((a, g) => a + g.gate.reluCount(), 0);
    expect(arch.relus.total).toBe(kept + 16_384);
    const dir = tempDir();
    writeArchitecture(join(dir, 'architecture'), arch, net);
    const file = join(dir, 'architecture.json');
    const old = JSON.parse(readFileSync(file, 'utf8'));
    old.formatVersion = 2;
    old.budget = 10_000;
    old.relus = { total: kept, searchable: kept, budgetMet: true, perLayer: old.relus.perLayer };
    writeFileSync(file, JSON.stringify(old));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const loaded = await loadArchitecture(file);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(loaded.arch.relus.total).toBe(kept + 16_384);
    expect(loaded.arch.relus.budgetMet).toBe(kept + 16_384 <= 10_000);
    expect(warnings).toEqual([`PolynasCountWarning: ${file}: the architecture records ${kept} ReLUs but its network evaluates ${kept + 16_384} (a count written before polynas counted the stem ReLU); using ${kept + 16_384}`]);
    net.dispose();
    loaded.net.dispose();
  });
});
