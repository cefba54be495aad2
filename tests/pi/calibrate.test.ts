import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { parseLatencyTable } from '../../src/latency/tables.js';
import { fitLine } from '../../src/pi/calibrate.js';
import { skipPi } from './harness.js';
import { capture, quickstartRecipe, tempDir } from '../helpers.js';


describe('pi calibrate', () => {
  it('fits a line on relative errors, with non-negative slope and intercept', () => {
    // Exact data is fitted exactly.
    const f = fitLine([{ n: 1, y: 3 }, { n: 3, y: 7 }, { n: 10, y: 21 }]);
    expect(f.a).toBeCloseTo(2, 12);
    expect(f.b).toBeCloseTo(1, 12);
    // A negative intercept is refitted through the origin: minimizing Σ((a·n − y)/y)² gives a = Σ(n/y)/Σ(n/y)².
    const g = fitLine([{ n: 10, y: 1 }, { n: 20, y: 3 }]);
    expect(g.b).toBe(0);
    expect(g.a).toBeCloseTo((10 / 1 + 20 / 3) / ((10 / 1) ** 2 + (20 / 3) ** 2), 12);
    expect(fitLine([{ n: 4, y: 2 }])).toEqual({ a: 0.5, b: 0 });
  });

  it.skipIf(skipPi)('end to end: calibrate this machine → a search recipe prices with the table → the searched network runs under 2PC next to the calibrated prediction', async () => {
    const dir = tempDir();
    const tableFile = join(dir, 'my-machine.json');
    const cal = capture();
    expect(await runCli(['pi', 'calibrate', '--out', tableFile, '--samples', '1', '--sessions', '1', '--id', 'my-machine'], cal.io), cal.err.join('\n')).toBe(0);
    const table = parseLatencyTable(JSON.parse(readFileSync(tableFile, 'utf8')), tableFile);
    expect(table.provenance.method).toBe('measured');
    expect(table.description).toMatch(/measured on .+, \d{4}-\d{2}-\d{2}/);
    const relu = table.ops.relu!;
    expect(relu.model === 'analytic' && relu.bytesUp === 232 && relu.bytesDown === 232 && relu.rounds === 4.5).toBe(true);
    const mac = table.ops['conv-mac']!;
    expect(mac.model === 'analytic' && (mac.computeSecondsPerUnit ?? 0) > 0).toBe(true);
    expect(table.networks!.map((n) => n.name)).toEqual(['loopback', 'LAN', 'WAN']);

    const recipe = quickstartRecipe(256);
    recipe.latency = { table: tableFile, network: 'WAN' };
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const run = join(dir, 'search');
    const s = capture();
    expect(await runCli(['search', '--recipe', join(dir, 'r.json'), '--out', run, '--budget', '600'], s.io), s.err.join('\n')).toBe(0);
    const arch = JSON.parse(readFileSync(join(run, 'architecture.json'), 'utf8'));
    expect(arch.latency.table).toBe('my-machine');
    expect(arch.latency.caveats).toEqual([]);
    expect(arch.latency.totalMs).toBeGreaterThan(0);

    const pi = capture();
    expect(await runCli(['pi', 'run', join(run, 'architecture.json'), '--samples', '4', '--batch', '2', '--table', tableFile, '--network', 'loopback'], pi.io), pi.err.join('\n')).toBe(0);
    const report = JSON.parse(readFileSync(join(run, 'pi-run.json'), 'utf8'));
    expect(report.table).toBe('my-machine');
    expect(report.agreement.referenceTop1).toBe(1);
    expect(report.total.predictedMs).toBeGreaterThan(0);
    // Every layer the runtime evaluated is priced by the calibrated table.
    for (const l of report.layers) if (l.op !== 'gap') expect(l.predicted?.modelled, l.path).toBe(true);
    expect(readFileSync(join(run, 'pi-layers.csv'), 'utf8').split('\n')[0]).toBe('path,op,ms,bytes_server_to_client,bytes_client_to_server,rounds,offline_bytes,predicted_ms,predicted_bytes,predicted_rounds,predicted_modelled');
  }, 300_000);
});
