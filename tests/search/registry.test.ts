import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tf } from '../../src/engine/tf.js';
import { Module } from '../../src/nn/module.js';
import { registerOp, unregisterOp } from '../../src/ops/index.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { registerStrategy, unregisterStrategy, getStrategy, type SearchStrategy, type SearchContext } from '../../src/search/strategy.js';
import { parseSearchRecipe } from '../../src/search/recipe.js';
import { projectAndFreeze } from '../../src/search/budget.js';
import { batches } from '../../src/data/loader.js';
import { crossEntropy } from '../../src/train/losses.js';
import { Sgd } from '../../src/train/optim.js';
import { runCli } from '../../src/cli/main.js';
import { loadArchitecture } from '../../src/export/architecture.js';
import { loadDataset } from '../../src/data/datasets.js';
import { evaluate } from '../../src/train/metrics.js';
import { tempDir } from '../helpers.js';

/** A fake operator: x + a·x³ with one trainable a per site. */
class Cubic extends Module {
  readonly a = this.param('a', tf.fill([1], 0.01));
  forward(x: tf.Tensor): tf.Tensor {
    return tf.add(x, tf.mul(tf.pow(x, 3), this.a));
  }
}

/** A fake strategy: weights by SGD on the cross-entropy, α left alone, then the budget projection. */
const Section = z.strictObject({ strategy: z.literal('weights-only'), budget: z.number().min(0), epochs: z.number().int().positive(), batchSize: z.number().int().positive(), lr: z.number().positive().default(0.01) });
type Settings = z.output<typeof Section>;
interface State {
  ctx: SearchContext;
  s: Settings;
  opt: Sgd;
}
const weightsOnly: SearchStrategy<Settings, State> = {
  name: 'weights-only',
  summary: 'test strategy',
  section: Section,
  gate: 'mask',
  maskRule: 'hysteresis',
  needsBudget: true,
  stepsPerEpoch: (ctx, s) => Math.floor(ctx.data.train.labels.length / s.batchSize),
  batches: ({ ctx, s }, epoch) => (function* () {
    for (const b of batches(ctx.data.train, { batchSize: s.batchSize, norm: ctx.data.norm, shuffle: true, seed: ctx.seed, epoch, dropLast: true })) yield [b];
  })(),
  init: (ctx, s) => ({ ctx, s, opt: new Sgd(ctx.net.namedParameters('weight'), { type: 'sgd' }) }),
  step(st, [{ x, y }]) {
    const { grads } = tf.variableGrads(() => crossEntropy(st.ctx.net.forward(x), y), st.ctx.net.weightVariables());
    st.opt.step(grads, st.s.lr);
    return {};
  },
  discretize: (st, budget) => void projectAndFreeze(st.ctx.gates, budget!),
  dispose: (st) => st.opt.dispose(),
};

describe('registering an operator and a strategy (one call each)', () => {
  registerOp({
    id: 'cubic', kind: 'activation', summary: 'x + a·x³ (test)', costOp: 'poly3',
    build: async () => new Cubic(),
    exportParams: (op) => Array.from((op as Cubic).a.dataSync()),
  });
  registerStrategy(weightsOnly);
  afterAll(() => {
    unregisterOp('cubic');
    unregisterStrategy('weights-only');
  });

  it('both validate in spaces and recipes from then on', () => {
    expect(parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', 'cubic'], granularity: 'channel' } }).activation!.candidates).toEqual(['relu', 'cubic']);
    expect(getStrategy('weights-only').gate).toBe('mask');
    expect(() => parseSearchRecipe({ name: 'r', dataset: { name: 'mnist' }, backbone: { name: 'lenet5' }, teacher: { weights: 'x' }, space: 'lenet5-pixel', search: { strategy: 'weights-only', epochs: 1, batchSize: 8 }, finetune: { epochs: 1, batchSize: 8, optimizer: { type: 'adam' }, schedule: { type: 'constant', lr: 1e-3 } } })).toThrow('search.budget');
  });

  it('flow through the supernet, the shared loop, latency, export and reload', async () => {
    const root = join(__dirname, '..', '..');
    const dir = tempDir();
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    recipe.dataset.trainLimit = 256;
    recipe.teacher.train.epochs = 1;
    recipe.space = { name: 'lenet5-cubic', backbone: 'lenet5', activation: { candidates: ['relu', 'cubic'], granularity: 'channel' } };
    recipe.search = { strategy: 'weights-only', budget: 0.5, epochs: 1, batchSize: 64 };
    recipe.finetune.epochs = 1;
    delete recipe.$schema;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const err: string[] = [];
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run')], { out: () => {}, print: (l) => err.push(l), tty: false }), err.join('\n')).toBe(0);
    const { arch, net } = await loadArchitecture(join(dir, 'run', 'architecture.json'));
    expect(arch.strategy).toBe('weights-only');
    expect(arch.sites['act1']).toMatchObject({ gate: 'mask', op: 'cubic', granularity: 'channel' });
    expect(arch.sites['act1']!.params).toEqual([expect.any(Number)]);
    expect(arch.relus.total).toBeLessThanOrEqual(3254); // ⌊0.5 · 6,508⌋
    expect(net.reluCount().total).toBe(arch.relus.total);
    // Priced as the table's poly3 where the cubic replaced a ReLU.
    expect(arch.latency!.perLayer.some((l) => l.path === 'act1' && l.op === 'poly3')).toBe(true);
    const { test } = await loadDataset({ name: 'mnist' });
    expect(evaluate(net, test, { norm: arch.normalization! }).top1).toBeCloseTo(arch.metrics!.finetunedTop1!, 6);
    net.dispose();
  });
});
