import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { capture, tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');
describe('one backend per run', () => {
  it('--backend is used by every phase, the teacher included, and recorded; resuming on another is refused', async () => {
    const dir = tempDir();
    const r = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    r.space = join(root, 'search-spaces', 'lenet5-pixel.json');
    r.dataset.trainLimit = 128;
    r.teacher.train.epochs = 1;
    r.search.epochs = 1;
    r.finetune.epochs = 1;
    writeFileSync(join(dir, 'r.json'), JSON.stringify(r));
    const run = join(dir, 'run');
    const a = capture();
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', run, '--backend', 'cpu', '--budget', '300'], a.io), a.err.join('\n')).toBe(0);
    const meta = (f: string) => JSON.parse(readFileSync(join(run, f), 'utf8')).backend;
    expect(meta('meta.json')).toBe('cpu');
    expect(meta('teacher/meta.json')).toBe('cpu');
    expect(JSON.parse(readFileSync(join(run, 'recipe.json'), 'utf8'))).toMatchObject({ backend: 'cpu', overrides: { backend: 'cpu', budget: 300 } });
    const b = capture();
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', run, '--backend', 'wasm', '--budget', '300', '--resume'], b.io)).toBe(1);
    expect(b.err.join('\n')).toContain(`${run} was run on the 'cpu' backend; resuming it on 'wasm' would mix two engines' numbers\nresume with the --backend the run started with`);
  });
});
