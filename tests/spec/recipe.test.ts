import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainRecipe, parseTrainRecipe, trainRecipeJsonSchema } from '../../src/spec/recipe.js';
import { ValidationError } from '../../src/io/json.js';
import { tempDir } from '../helpers.js';

const good = {
  name: 'x',
  dataset: { name: 'mnist' },
  backbone: { name: 'lenet5' },
  train: { epochs: 1, batchSize: 8, optimizer: { type: 'sgd' }, schedule: { type: 'cosine', lr: 0.1 } },
};

describe('training recipes', () => {
  it('fills documented defaults', () => {
    const r = parseTrainRecipe(good);
    expect(r.seed).toBe(0);
    expect(r.backend).toBe('auto');
  });

  it('reports every problem at once with its path and the bad value', () => {
    const bad = {
      ...good,
      dataset: { name: 'imagenet' },
      train: { ...good.train, epochs: 'ten', optimizer: { type: 'rmsprop' }, typo: 1 },
    };
    let err: unknown;
    try {
      parseTrainRecipe(bad, 'bad.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['dataset.name', 'train.epochs', 'train.optimizer.type', 'train']));
    const msg = (err as Error).message;
    expect(msg).toMatch(/^bad\.json: 4 problems/);
    expect(msg).toContain('(got "imagenet")');
    expect(msg).toContain('(got "ten")');
    expect(msg).toMatch(/dataset\.name: .*"mnist"\|"fashion-mnist"\|"cifar10"\|"cifar100"|dataset\.name: .*mnist.*fashion-mnist.*cifar10.*cifar100/);
    expect(msg).toContain('typo');
  });

  it('resolves dataset.dir against the recipe file and names an unreadable file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.json'), JSON.stringify({ ...good, dataset: { name: 'cifar10', dir: 'data/c10' } }));
    expect(loadTrainRecipe(join(dir, 'r.json')).dataset.dir).toBe(join(dir, 'data', 'c10'));
    writeFileSync(join(dir, 'broken.json'), '{ "name": ');
    expect(() => loadTrainRecipe(join(dir, 'broken.json'))).toThrow(`${join(dir, 'broken.json')}: cannot read recipe`);
  });

  it('exports a JSON Schema', () => {
    const s = trainRecipeJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['dataset', 'backbone', 'train', 'seed']));
    expect(s.required).toEqual(expect.arrayContaining(['name', 'dataset', 'backbone', 'train']));
  });
});
