import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');

/** Runs the CLI from source in a fresh process; returns its output and the modules it loaded. */
function cli(args: string[]): { out: string; loaded: string[] } {
  const trace = join(tempDir(), 'loads.txt');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--import', join(root, 'tests', 'fixtures', 'trace-loads.mjs'), join(root, 'src', 'cli', 'main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, POLYNAS_TRACE_LOADS: trace }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { out, loaded: readFileSync(trace, 'utf8').trim().split('\n') };
}

describe('CLI start-up', () => {
  it('--help loads neither TensorFlow.js nor mathjs', () => {
    const { out, loaded } = cli(['--help']);
    expect(out).toContain('polynas search');
    expect(loaded.some((u) => u.includes('/src/cli/main.ts'))).toBe(true);
    expect(loaded.filter((u) => /@tensorflow|\/mathjs\//.test(u))).toEqual([]);
  });

  it('search --help (with its choices from the registries) loads neither', () => {
    const { out, loaded } = cli(['latency', '--help']);
    expect(out).toMatch(/--all .*\[choices: "relu", "x2act", "poly1"/s);
    expect(loaded.filter((u) => /@tensorflow|\/mathjs\//.test(u))).toEqual([]);
  });

  it("a --dry-run does not print TensorFlow.js' Node.js banner", () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'search', '--recipe', join(root, 'experiments', 'search-lenet5-mnist.json'), '--dry-run'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"kind": "search"');
    expect(r.stderr + r.stdout).not.toContain('looks like you are running TensorFlow.js in Node.js');
  });
});
