import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRecipe } from '../../src/run/compile.js';
import { runCli } from '../../src/cli/main.js';

const root = join(__dirname, '..', '..');
const files = readdirSync(join(root, 'experiments')).filter((f) => f.endsWith('.json'));

describe('every shipped recipe compiles (validated and built, without training)', () => {
  it('ships the published full-scale setups and small local ones', () => {
    for (const f of ['autorep-resnet18-cifar10-12.9k.json', 'snl-resnet18-cifar10.json', 'snl-resnet18-cifar100.json', 'pasnet-resnet18-cifar10.json', 'quickstart.json', 'sweep-resnet20-cifar10-subset.json', 'search-lenet5-fashion-mnist.json']) {
      expect(files).toContain(f);
    }
  });

  for (const f of files) {
    it(f, () => {
      const c = compileRecipe(join(root, 'experiments', f));
      expect(c.name).toBe(f.replace(/\.json$/, ''));
      expect(c.relus).toBeGreaterThan(0);
      if (c.kind === 'search') {
        expect(c.gates).toBeGreaterThan(0);
        for (const b of c.budgets!) if (b !== null) expect(b).toBeLessThanOrEqual(c.searchable!);
      }
    });
  }

  it('resolves the published budgets exactly', () => {
    const autorep = compileRecipe(join(root, 'experiments', 'autorep-resnet18-cifar10-12.9k.json'));
    expect(autorep.searchable).toBe(491_520); // SNL's CIFAR ResNet-18 without the stem ReLU
    expect(autorep.budgets).toEqual([12_900, 1_800, 12_900, 24_900, 51_200]);
    expect(autorep.parameters).toBe(11_173_962);
    const snl100 = compileRecipe(join(root, 'experiments', 'snl-resnet18-cifar100.json'));
    expect(snl100.parameters).toBe(11_173_962 + 90 * 513); // a 100-way head instead of 10
    const sweep = compileRecipe(join(root, 'experiments', 'sweep-resnet20-cifar10-subset.json'));
    expect(sweep.budgets).toEqual([8_601, 1_720, 8_601, 34_406, 86_016]); // ⌊f · 172,032⌋
  });

  it('polynas search --dry-run prints the compiled recipe without training', async () => {
    const out: string[] = [];
    expect(await runCli(['search', '--recipe', join(root, 'experiments', 'pasnet-resnet18-cifar10.json'), '--dry-run'], { out: (l) => out.push(l), print: () => {}, tty: false })).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ kind: 'search', backbone: 'resnet18', gates: 16, table: 'pasnet-dac2023-code' });
  });
});
