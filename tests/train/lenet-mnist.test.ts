import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainRecipe } from '../../src/spec/recipe.js';
import { runTraining } from '../../src/run/train.js';
import { loadTrainedModel } from '../../src/run/train.js';
import { evaluate } from '../../src/train/metrics.js';
import { loadDataset } from '../../src/data/datasets.js';
import { tempDir } from '../helpers.js';

describe('quickstart recipe (real data, end to end)', () => {
  it('trains LeNet-5 on the embedded MNIST digits to ≥ 97 % test accuracy, and the saved weights reproduce it', async () => {
    const recipe = loadTrainRecipe(join(__dirname, '..', '..', 'experiments', 'quickstart-lenet-mnist.json'));
    const out = join(tempDir(), 'run');
    const run = await runTraining(recipe, { outDir: out });
    expect(run.completed).toBe(true);
    expect(run.final!.top1).toBeGreaterThanOrEqual(0.97);
    const { model, meta } = loadTrainedModel(out);
    const { test } = await loadDataset({ name: 'mnist' });
    expect(evaluate(model, test, { norm: meta.normalization }).top1).toBe(run.final!.top1);
    model.dispose();
    run.model.dispose();
  });
});
