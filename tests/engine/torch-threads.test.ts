import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadTorchAddon } from '../../src/engine/torch.js';
import { skipTorch } from './torch-build.js';
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { othersBusyCores, threadsFor, ThreadGovernor } from '../../src/engine/torch-threads.js';

describe('LibTorch threads that follow the free cores', () => {
  it('counts the cores other processes kept busy (the machine less this process) and keeps at least one thread', () => {
    // 2 cores, 200 jiffies elapsed in all: 150 busy, 50 of them this process's → 1 core busy elsewhere.
    expect(othersBusyCores({ busy: 1000, total: 5000, self: 300 }, { busy: 1150, total: 5200, self: 350 }, 2)).toBeCloseTo(1, 10);
    expect(othersBusyCores({ busy: 0, total: 0, self: 0 }, { busy: 10, total: 100, self: 20 }, 4)).toBe(0);
    expect([threadsFor(2, 0.1), threadsFor(2, 0.9), threadsFor(2, 1.8), threadsFor(8, 2.4)]).toEqual([2, 1, 1, 6]);
  });

  it('sets the threads from its first reading at once, and later only when two readings agree', () => {
    // A 2-core machine where another process keeps one core busy: 10 jiffies of every 20 (100 ms),
    // this process taking the rest; the clock and the counters are the test's.
    let t = 0;
    let c = { busy: 0, total: 0, self: 0 };
    const advance = (ms: number, othersCores: number) => {
      t += ms;
      const total = ms / 5; // 2 cores × 100 jiffies/s
      const others = (total / 2) * othersCores;
      c = { busy: c.busy + total, total: c.total + total, self: c.self + total - others };
    };
    const set: number[] = [];
    const g = new ThreadGovernor((n) => set.push(n), 2, { now: () => t, read: () => c });
    advance(50, 1);
    g.tick();
    expect(set).toEqual([]); // not yet 100 ms
    advance(60, 1);
    g.tick();
    expect(set).toEqual([1]); // the first reading decides alone
    advance(500, 0);
    g.tick();
    expect(set).toEqual([1]); // one quiet reading is not enough
    advance(500, 1);
    g.tick();
    advance(500, 0);
    g.tick();
    expect(set).toEqual([1]); // quiet, busy, quiet: never two in a row
    advance(500, 0);
    g.tick();
    expect(set).toEqual([1, 2]);
    expect(g.current).toBe(2);
  });

  // Needs /proc (Linux) and a second core to leave free; CI's machine has both.
  it.skipIf(process.platform !== 'linux' || cpus().length < 2)('drops to the free cores while another process keeps a core busy', async () => {
    const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    try {
      const set: number[] = [];
      const g = new ThreadGovernor((n) => set.push(n), cpus().length, { intervalMs: 100 });
      const until = performance.now() + 3000;
      while (performance.now() < until && !set.length) {
        g.tick();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(set.length).toBeGreaterThan(0);
      expect(set[0]).toBeLessThanOrEqual(cpus().length - 1);
    } finally {
      busy.kill('SIGKILL');
    }
  });
});

// Skipped only where the LibTorch engine is neither built nor required (see torch-build.ts).
describe.skipIf(skipTorch)('the LibTorch engine', () => {
  describe('the threads of the hand-written kernels', () => {
    // The fused norm, gate and optimizer kernels split their loops with at::parallel_for, which is
    // OpenMP inlined into the addon: built without -fopenmp it ran every loop on one thread, and the
    // fused norm took as long at 2 threads as at 1 (12.0 vs 12.7 ms of a ResNet-20 step).
    it('run their parallel loops on as many threads as LibTorch is set to', () => {
      const addon = loadTorchAddon();
      const before = addon.info().threads;
      try {
        addon.setThreads(2);
        expect(addon.rowThreads()).toBe(2);
        addon.setThreads(1);
        expect(addon.rowThreads()).toBe(1);
      } finally {
        addon.setThreads(before);
      }
    });
  });

  describe('the thread policy a run records', () => {
    // The policy is read when the addon loads, so each case runs in a process of its own.
    const meta = (threads: string) => {
      const code = "const { selectBackend } = await import('./src/engine/backend.ts'); const { runMetadata } = await import('./src/run/run-dir.ts'); console.log(JSON.stringify(runMetadata(await selectBackend('torch'), 0)));";
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: join(__dirname, '..', '..'), env: { ...process.env, POLYNAS_TORCH_THREADS: threads }, encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').pop()!) as { backendThreads?: number; backendThreadPolicy?: string };
    };

    it('is adaptive under POLYNAS_TORCH_THREADS=auto and fixed under a count', () => {
      expect(meta('1')).toMatchObject({ backendThreads: 1, backendThreadPolicy: 'fixed' });
      // With one core there is nothing to adapt, and the engine keeps a fixed count.
      const auto = meta('auto');
      expect(auto.backendThreadPolicy).toBe(cpus().length > 1 ? 'adaptive' : 'fixed');
      // The count at the start: all cores, or fewer if the first reading already found some busy.
      expect(auto.backendThreads).toBeGreaterThanOrEqual(1);
      expect(auto.backendThreads).toBeLessThanOrEqual(cpus().length);
    }, 60_000);
  });

  describe('the per-step profile of the torch engine', () => {
    it('times every native call of a step: fewer native milliseconds than wall milliseconds, and the same calls every step', () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bench', 'step-json.ts'), '--backend', 'torch', '--net', 'lenet5', '--batch', '16', '--kind', 'train', '--steps', '3', '--warmup', '1', '--profile'], {
        env: { ...process.env, POLYNAS_TORCH_THREADS: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
      });
      const r = JSON.parse(out.trim().split('\n').pop()!) as { ms: number[]; native: { ms: number; calls: number; byOp: Record<string, { calls: number }> }[] };
      expect(r.native).toHaveLength(3);
      r.native.forEach((n, i) => {
        expect(n.ms).toBeGreaterThan(0);
        expect(n.ms).toBeLessThan(r.ms[i]!);
        expect(Object.values(n.byOp).reduce((a, o) => a + o.calls, 0)).toBe(n.calls);
      });
      // A training step of LeNet-5 makes the same native calls each time (two convolutions forward among them).
      expect(new Set(r.native.map((n) => n.calls)).size).toBe(1);
      expect(r.native[0]!.byOp.conv2d!.calls).toBe(2);
    }, 60_000);
  });
});
