import { spawn } from 'node:child_process';
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
