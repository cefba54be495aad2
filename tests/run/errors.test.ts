import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { createBackbone } from '../../src/backbones/registry.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { searchableRelus } from '../../src/supernet/gate.js';
import { runSearchLoop, searchSupernet } from '../../src/search/loop.js';
import { getStrategy } from '../../src/search/strategy.js';
import { fit } from '../../src/train/trainer.js';
import { capture, mnistSlice, tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');
describe('errors name the file, the field and the value', () => {
  it('an unknown backbone or latency table in a search recipe', async () => {
    const dir = tempDir();
    const base = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    base.space = join(root, 'search-spaces', 'lenet5-pixel.json');
    for (const [edit, msg] of [
      [(r: Record<string, any>) => (r.backbone = { name: 'resnet19' }), "backbone.name: unknown backbone 'resnet19'; known:"],
      [(r: Record<string, any>) => (r.latency = { table: 'crypten-3pc' }), "latency.table: latency table 'crypten-3pc'"],
    ] as const) {
      const r = structuredClone(base);
      edit(r);
      writeFileSync(join(dir, 'r.json'), JSON.stringify(r));
      const c = capture();
      expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run')], c.io)).toBe(1);
      expect(c.err.join('\n')).toContain(`${join(dir, 'r.json')}: ${msg}`);
    }
  });

  it('an unknown backbone in a training recipe, before any data is read', async () => {
    const dir = tempDir();
    const r = JSON.parse(readFileSync(join(root, 'experiments', 'quickstart-lenet-mnist.json'), 'utf8'));
    r.backbone = { name: 'lenet6' };
    writeFileSync(join(dir, 't.json'), JSON.stringify(r));
    const c = capture();
    expect(await runCli(['train', '--recipe', join(dir, 't.json'), '--out', join(dir, 'run')], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain(`${join(dir, 't.json')}: backbone.name: unknown backbone 'lenet6'`);
  });

  it('a truncated architecture.json', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'architecture.json'), '{ "format": "polynas-architecture", "sites": {');
    const c = capture();
    expect(await runCli(['evaluate', join(dir, 'architecture.json')], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(new RegExp(`${join(dir, 'architecture.json')}: cannot read architecture \\(.*JSON`));
  });

  it('library calls validate their configuration', async () => {
    const data = await mnistSlice(64, 30, 32, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    await expect(fit(net, data, { epochs: 1, batchSize: -1, seed: 0, optimizer: { type: 'adam' }, schedule: { type: 'constant', lr: 1e-3 } })).rejects.toThrow('fit: config.batchSize must be a positive integer, got -1');
    const gates = await buildSupernet(net, parseSearchSpace({ name: 'p', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } }), { gate: 'mask', seed: 0 });
    await expect(searchSupernet({ strategy: 'autorep', budget: 1e6, epochs: 1, batchSize: 32 }, { net, gates, data, seed: 0 })).rejects.toThrow("budget 1000000 exceeds the network's 6508 ReLUs");
    const s = getStrategy('autorep');
    const settings = s.section.parse({ strategy: 'autorep', budget: 0.5, epochs: 1, batchSize: 32 });
    await expect(runSearchLoop(s, settings, { net, gates, data, seed: 0, budget: 0.5, searchable: searchableRelus(gates) })).rejects.toThrow('budget must be a whole count of ReLUs in [0, 6508] (resolve a fraction with resolveBudget), got 0.5');
    net.dispose();
  });
});
