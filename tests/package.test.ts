import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

/**
 * The package as users load it: built to a temporary folder (package.json, dist, the dependencies),
 * then required from CommonJS and imported by a TypeScript project compiled to CommonJS.
 */
const root = join(__dirname, '..');
const tmp = tempDir('polynas-package-');
const app = join(tmp, 'app');
const node = (args: string[], cwd: string) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(() => {
  const pkg = join(tmp, 'pkg');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], root);
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(pkg, join(app, 'node_modules', 'polynas'));
}, 120_000);

describe('the package', () => {
  it('packs its licence, guide, changelog and the sources its source maps point to', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'docs/guide.md', 'src/index.ts', 'src/cli/main.ts', 'native/torch/scripts/build.mjs']) expect(files, f).toContain(f);
    expect(files.some((f) => f.startsWith('tests/'))).toBe(false);
  });

  it('can be required from CommonJS (root and subpath exports)', () => {
    const out = node(['-e', "const p = require('polynas'); const nn = require('polynas/nn'); console.log(typeof p.createBackbone, p.opIds('pool').join(','), typeof nn.X2act)"], app);
    expect(out.trim()).toBe('function maxpool,avgpool function');
  });

  it('a TypeScript project compiled to CommonJS uses it', () => {
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'commonjs', moduleResolution: 'node10', target: 'es2022', strict: true, esModuleInterop: true, skipLibCheck: true, outDir: 'out' }, files: ['index.ts'] }));
    writeFileSync(join(app, 'index.ts'), "import { createBackbone, resolveBudget } from 'polynas';\nconsole.log(createBackbone('lenet5', { numClasses: 10 }).reluCount().total, resolveBudget(0.05, 6508));\n");
    node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
    expect(node([join(app, 'out', 'index.js')], app).trim()).toBe('6508 325');
  });
});
