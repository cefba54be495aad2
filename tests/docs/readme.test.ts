import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');

describe("README's library example", () => {
  it('runs as written (imports redirected to the source tree, outputs to a temp folder) and meets its budget', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'a ts block under ## Library').toBeDefined();
    const out = tempDir();
    const logs: unknown[][] = [];
    const program = code!
      .replace("from 'polynas'", `from '${join(root, 'src', 'index.js')}'`)
      .replaceAll("'runs/", `'${out}/`)
      .replaceAll('console.log(', '__log(');
    // The example is a module with top-level await: run it as one.
    const dir = join(root, 'tests', '.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `readme-example-${process.pid}.ts`);
    writeFileSync(file, `const __log = (...a: unknown[]) => (globalThis as any).__readmeLogs.push(a);\n${program}`);
    (globalThis as { __readmeLogs?: unknown[][] }).__readmeLogs = logs;
    try {
      await import(file);
    } finally {
      rmSync(file, { force: true });
    }
    expect(logs[0]).toEqual([6508]);
    const [before, arrow, after] = logs[1]!;
    expect(arrow).toBe('→');
    expect(after).toBe(300); // pixel decisions fill the budget exactly
    expect(Number.isInteger(before) && (before as number) >= 0 && (before as number) <= 6508).toBe(true);
    expect(logs[2]![0]).toBeGreaterThan(0.5); // one epoch each on real digits
    const arch = JSON.parse(readFileSync(join(out, 'lenet-300', 'architecture.json'), 'utf8'));
    expect(arch.relus.total).toBe(after);
    expect(arch.latency.table).toBe('crypten-2pc-dealer');
    expect(existsSync(join(out, 'lenet-300', 'architecture.weights.bin'))).toBe(true);
  });
});
