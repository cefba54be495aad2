import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface ChildResult {
  backend: string;
  threads: number;
  tried: { package: string; error: string }[];
  losses: number[];
  stem: number[];
}

/** Runs the child script with POLYNAS_WASM_THREADS=n; it must exit on its own within the timeout. */
function runChild(threads: number): Promise<ChildResult> {
  const script = join(__dirname, 'wasm-threads-child.ts');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script],
      { env: { ...process.env, POLYNAS_WASM_THREADS: String(threads) }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`child with ${threads} threads: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
      },
    );
  });
}

describe('multithreaded wasm backend', () => {
  it('starts two threads under Node, trains ResNet-20 exactly as one thread does, and lets the process exit', async () => {
    const one = await runChild(1);
    const two = await runChild(2);
    expect(one).toMatchObject({ backend: 'wasm', threads: 1, tried: [] });
    expect(two).toMatchObject({ backend: 'wasm', threads: 2, tried: [] });
    // XNNPACK splits output tiles between threads; each value is computed by the same code, so
    // losses and weights after three SGD steps agree to float32 rounding.
    expect(two.losses.every(Number.isFinite)).toBe(true);
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i]!) / one.losses[i]!).toBeLessThan(1e-6));
    two.stem.forEach((w, i) => expect(Math.abs(w - one.stem[i]!)).toBeLessThan(1e-6));
  });

  it('rejects a bad POLYNAS_WASM_THREADS naming the variable and value', async () => {
    const { defaultWasmThreads } = await import('../../src/engine/wasm-threads.js');
    const saved = process.env.POLYNAS_WASM_THREADS;
    process.env.POLYNAS_WASM_THREADS = 'two';
    try {
      expect(() => defaultWasmThreads()).toThrow("POLYNAS_WASM_THREADS: expected an integer in [1, 64], got 'two'");
    } finally {
      if (saved === undefined) delete process.env.POLYNAS_WASM_THREADS;
      else process.env.POLYNAS_WASM_THREADS = saved;
    }
  });
});
