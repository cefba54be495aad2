import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { trainIdentity } from '../../src/run/train.js';
import { parseTrainRecipe } from '../../src/spec/recipe.js';
import { capture, cifarSubsetDir, quickstartRecipe, tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');
describe('run identity', () => {
  it('does not depend on where the data is, and changes with the data and the settings', () => {
    const dir = tempDir();
    symlinkSync(cifarSubsetDir(), join(dir, 'elsewhere'));
    const r = parseTrainRecipe(JSON.parse(readFileSync(join(root, 'experiments', 'resnet20-cifar10-subset.json'), 'utf8')));
    const at = (d: string) => trainIdentity({ ...r, dataset: { ...r.dataset, dir: d } }, 'cpu').hash;
    expect(at(join(dir, 'elsewhere'))).toBe(at(cifarSubsetDir()));
    expect(trainIdentity({ ...r, name: 'renamed', dataset: { ...r.dataset, dir: cifarSubsetDir() } }, 'cpu').hash).toBe(at(cifarSubsetDir()));
    expect(trainIdentity({ ...r, seed: 1, dataset: { ...r.dataset, dir: cifarSubsetDir() } }, 'cpu').hash).not.toBe(at(cifarSubsetDir()));
    expect(trainIdentity({ ...r, dataset: { ...r.dataset, dir: cifarSubsetDir() } }, 'wasm').hash).not.toBe(at(cifarSubsetDir()));
  });

  it('a sweep whose recipe changed does not keep results of the old settings; --fresh redoes them', async () => {
    const dir = tempDir();
    const recipe = quickstartRecipe(128);
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const run = join(dir, 'sweep');
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '300'], capture().io)).toBe(0);
    recipe.finetune.epochs = 2;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const stale = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '300'], stale.io)).toBe(1);
    expect(stale.err.join('\n')).toContain(`${run} holds results of other settings; changed: recipe.finetune.epochs: 1 → 2\nchoose another --out, or pass --fresh`);
    expect(JSON.parse(readFileSync(join(run, 'recipe.json'), 'utf8')).finetune.epochs).toBe(1);
    const fresh = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '300', '--fresh'], fresh.io), fresh.err.join('\n')).toBe(0);
    expect(fresh.err.some((l) => l.includes('finished earlier, kept'))).toBe(false);
    expect(JSON.parse(readFileSync(join(run, 'budget-300', 'recipe.json'), 'utf8')).finetune.epochs).toBe(2);

    // A folder written before identities were recorded resumes, with a notice.
    for (const f of ['identity.json', join('budget-300', 'identity.json'), join('teacher', 'identity.json')]) rmSync(join(run, f));
    const old = capture();
    expect(await runCli(['sweep', '--recipe', join(dir, 'r.json'), '--out', run, '--budgets', '300'], old.io), old.err.join('\n')).toBe(0);
    expect(old.err.join('\n')).toContain('written before run identities were recorded');
    expect(old.err.some((l) => l.includes('finished earlier, kept'))).toBe(true);
    expect(existsSync(join(run, 'identity.json'))).toBe(true);
  });
});
