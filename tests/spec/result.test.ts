import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSweepRow } from '../../src/run/sweep.js';
import { tempDir } from '../helpers.js';

const result = {
  outDir: '/runs/x', budget: 51609, countBeforeProjection: 172032, relus: 51609,
  teacher: { top1: 0.11, top5: 0.53, loss: 10.7, n: 1017 },
  // An SNL network whose logits overflowed right after projection: JSON.stringify wrote NaN as null.
  projected: { top1: 0.1013, top5: 0.4857, loss: null, n: 1017 },
  finetuned: { top1: 0.1308, top5: 0.6637, loss: 6.95, n: 1017 },
  searchSeconds: 18.4, finetuneSeconds: 5.3, strategy: 'snl', seed: 0,
  latency: { table: 'crypten-2pc-dealer', network: 'WAN', unit: 'ms', total: 8229.5104, totalMs: 8229.5104, commBytes: 33475520, rounds: 189 },
};

describe('result.json', () => {
  it('a non-finite loss (written as null) reads back, and the sweep row keeps every figure', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
    const row = readSweepRow(0.3, dir);
    expect(row).toMatchObject({ budget_spec: 0.3, budget: 51609, relus: 51609, relus_before_projection: 172032, projected_top1: 0.1013, top1: 0.1308, latency_ms: 8229.51, comm_mib: 31.925, rounds: 189, strategy: 'snl' });
  });

  it('a mistyped field is named with its value', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ ...result, relus: 'many' }));
    expect(() => readSweepRow(0.3, dir)).toThrow(/result\.json: 1 problem:\n {2}- relus: .*\(got "many"\)/);
  });
});
