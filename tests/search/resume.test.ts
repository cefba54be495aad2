import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { getStrategy } from '../../src/search/strategy.js';
import { runSearchLoop, type SearchSnapshot } from '../../src/search/loop.js';
import { SearchStoppedError } from '../../src/search/errors.js';
import { loadSearchState, saveSearchState } from '../../src/run/search-state.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { budgetBasis, networkBudget } from '../../src/search/budget.js';
import { loadLatencyTable } from '../../src/latency/tables.js';
import { mnistSlice, tempDir } from '../helpers.js';

const CASES = [
  { strategy: 'autorep', gate: 'mask', candidates: ['relu', 'poly2'], granularity: 'pixel', section: { budget: 0.1, epochs: 2, batchSize: 32, latencyWeight: 0.5 } },
  { strategy: 'snl', gate: 'mask', rule: 'continuous', candidates: ['relu', 'identity'], granularity: 'channel', section: { budget: 0.5, epochs: 2, batchSize: 32, lambda: 1e-3, lambdaGrowthFrom: 0 } },
  { strategy: 'darts', gate: 'darts', candidates: ['relu', 'x2act'], granularity: 'layer', section: { epochs: 2, batchSize: 16, order: 2, latencyWeight: 1 } },
] as const;

describe('a stopped search resumes to the same result', () => {
  for (const c of CASES) {
    it(`${c.strategy}: stopped mid-epoch, snapshot written to disk and read back, resumed: bit-identical weights, decisions and record`, async () => {
      const data = await mnistSlice(192, 30, 64, 20);
      const table = loadLatencyTable('crypten-2pc-dealer');
      const strategy = getStrategy(c.strategy);
      const settings = strategy.section.parse({ strategy: c.strategy, ...c.section });
      const fresh = async () => {
        const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
        const space = parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: [...c.candidates], granularity: c.granularity } });
        const gates = await buildSupernet(net, space, { gate: c.gate, seed: 0, ...('rule' in c ? { rule: c.rule } : {}), ...strategy.supernet?.(settings) });
        const basis = budgetBasis(net, gates);
        const budget = 'budget' in c.section ? networkBudget(c.section.budget, basis).gates : undefined;
        return { net, gates, data, seed: 0, budget, searchable: basis.searchable, latency: { table, network: 'WAN' } };
      };
      const whole = await fresh();
      const a = await runSearchLoop(strategy, settings, whole);
      // Stop after step 4 of 12 (mid-epoch), keep only what reached the disk, resume in a new process-like setting.
      const file = join(tempDir(), 'search-state.bin');
      const first = await fresh();
      const abort = new AbortController();
      await expect(runSearchLoop(strategy, settings, first, {
        onStep: (e) => e.step === 4 && abort.abort(), signal: abort.signal, onCheckpoint: (s: SearchSnapshot) => saveSearchState(file, s, 'h'),
      })).rejects.toThrow(SearchStoppedError);
      first.net.dispose();
      expect(loadSearchState(file, 'other settings')).toBeUndefined();
      const snap = loadSearchState(file, 'h')!;
      expect([snap.epoch, snap.batch, snap.step]).toEqual([0, 4, 4]);
      const second = await fresh();
      const b = await runSearchLoop(strategy, settings, second, {}, snap);
      expect(b.count).toBe(a.count);
      expect(b.countBeforeProjection).toBe(a.countBeforeProjection);
      expect(b.history.map((h) => [h.count, h.loss, h.test.top1])).toEqual(a.history.map((h) => [h.count, h.loss, h.test.top1]));
      const sa = whole.net.stateDict();
      const sb = second.net.stateDict();
      for (const [k, v] of Object.entries(sa)) expect(Buffer.from(sb[k]!.values.buffer).equals(Buffer.from(v.values.buffer)), k).toBe(true);
      whole.net.dispose();
      second.net.dispose();
    }, 120_000);
  }
});
