import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { tempDir } from '../helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), print: (l: string) => err.push(l), tty: false } };
}

describe('polynas latency', () => {
  it('prints a per-layer table and the total for a backbone under one table', async () => {
    const c = capture();
    expect(await runCli(['latency', '--backbone', 'resnet20', '--table', 'crypten-2pc-dealer', '--network', 'WAN'], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(text).toContain('resnet20 32x32x3: 188,416 ReLUs per sample (stem included)');
    expect(text).toMatch(/stem_act\s+relu\s+16384/);
    expect(text).toMatch(/^total\s+/m);
    expect(c.err.join('\n')).toContain("note: linear layers (conv2d ×21, fc ×1) are not priced by 'crypten-2pc-dealer': the total covers the nonlinear layers only");
  });

  it('--compare lists every table under each of its networks; --json gives the full result', async () => {
    const c = capture();
    expect(await runCli(['latency', '--backbone', 'resnet20', '--all', 'x2act', '--compare', '--table', 'crypten-2pc-dealer,delphi-gc-epyc7502'], c.io)).toBe(0);
    expect(c.out.filter((l) => /^(crypten|delphi)/.test(l))).toHaveLength(5);
    const j = capture();
    await runCli(['latency', '--backbone', 'resnet20', '--table', 'pasnet-dac2023-code', '--json'], j.io);
    const r = JSON.parse(j.out.join('\n'));
    expect(r.relus).toBe(188_416);
    expect(r.results[0].unit).toBe('relative');
  });

  it('reads an architecture file and reports a bad one clearly', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ backbone: 'resnet20', sites: { 'stages.0.0.act1': { op: 'x2act' } } }));
    const c = capture();
    expect(await runCli(['latency', join(dir, 'a.json'), '--table', 'pasnet-dac2023-code'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('172,032 ReLUs');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ backbone: 'resnet20', sites: { 'stages.0.0.act1': { op: 'tanh' } } }));
    const b = capture();
    expect(await runCli(['latency', join(dir, 'b.json')], b.io)).toBe(1);
    expect(b.err.join('\n')).toMatch(/sites\.stages\.0\.0\.act1\.op: .*\(got "tanh"\)/);
  });
});

describe('polynas latency --compare and network overrides', () => {
  it('--compare without --table compares every shipped table under each of its network profiles', async () => {
    const c = capture();
    expect(await runCli(['latency', '--backbone', 'resnet18', '--compare'], c.io)).toBe(0);
    const rows = c.out.filter((l) => /^(cheetah|crypten|delphi|pasnet|polynas|sci)/.test(l));
    // One row per (table, profile): tables without profiles give one row.
    const { shippedTableIds, loadLatencyTable } = await import('../../src/latency/tables.js');
    const expected = shippedTableIds().reduce((n, id) => n + Math.max(1, loadLatencyTable(id).networks?.length ?? 0), 0);
    expect(rows).toHaveLength(expected);
    expect(new Set(rows.map((r) => r.split(/\s+/)[0]))).toEqual(new Set(shippedTableIds()));
  });

  it('a zero or negative --bandwidth or --rtt is a usage error', async () => {
    for (const [flag, v] of [['--bandwidth', '0'], ['--rtt', '-5']] as const) {
      const c = capture();
      expect(await runCli(['latency', '--backbone', 'resnet20', '--table', 'delphi-gc-epyc7502', flag, v], c.io)).toBe(2);
      expect(c.err.join('\n')).toContain(`${flag} must be a positive number`);
    }
  });
});
