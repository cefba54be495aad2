import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paretoFront, readCurveCsv, renderCurvePlots } from '../../src/report/plot.js';
import { tempDir } from '../helpers.js';

describe('Pareto front', () => {
  it('keeps the points no other point beats in both cost and accuracy', () => {
    expect(paretoFront([{ x: 1, y: 0.5 }, { x: 2, y: 0.4 }, { x: 3, y: 0.7 }, { x: 3, y: 0.6 }, { x: 4, y: 0.7 }])).toEqual([true, false, true, false, false]);
    // Equal points do not dominate each other.
    expect(paretoFront([{ x: 1, y: 1 }, { x: 1, y: 1 }])).toEqual([true, true]);
  });
});

describe('curve CSVs', () => {
  it('reads reference curves in percent with K suffixes, and sweep CSVs as fractions', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ref.csv'), '# SNL, CIFAR-10 (paper)\nseries,relus,top1\nSNL,12.9K,88.23\nSNL,25.0K,90.88\n');
    const ref = readCurveCsv(join(dir, 'ref.csv'));
    expect(ref.map((p) => [p.series, p.relus])).toEqual([['SNL', 12900], ['SNL', 25000]]);
    expect(ref[0]!.top1).toBeCloseTo(0.8823, 12);
    expect(ref[1]!.top1).toBeCloseTo(0.9088, 12);
    writeFileSync(join(dir, 's.csv'), 'budget,relus,top1,latency_ms,strategy\n100,100,0.61,1500.5,autorep\n');
    expect(readCurveCsv(join(dir, 's.csv'))).toEqual([{ series: 'polynas autorep', relus: 100, top1: 0.61, latency: 1500.5, label: 'budget 100' }]);
  });

  it('reads each accuracy by one rule: a % suffix, a declared column unit, else ≤ 1 a fraction and above a percentage', () => {
    const dir = tempDir();
    // One file mixing a fraction, a percentage and a suffixed percentage (read file-wide before: 0.969 became 0.97 %).
    writeFileSync(join(dir, 'mixed.csv'), 'series,relus,top1\na,100,0.969\na,200,93.2\na,300,97.1%\n');
    expect(readCurveCsv(join(dir, 'mixed.csv')).map((p) => p.top1)).toEqual([0.969, expect.closeTo(0.932, 12), expect.closeTo(0.971, 12)]);
    writeFileSync(join(dir, 'pct.csv'), 'relus,top1_pct\n100,0.5\n');
    expect(readCurveCsv(join(dir, 'pct.csv'))[0]!.top1).toBeCloseTo(0.005, 12);
    // Comment lines count: the error names the file's own line.
    writeFileSync(join(dir, 'big.csv'), '# published\nrelus,top1\n100,0.9\n\n200,130\n');
    expect(() => readCurveCsv(join(dir, 'big.csv'))).toThrow(/big\.csv: line 5: column 'top1': accuracy "130" is above 100 %/);
  });

  it('names the file, line and column of a bad value, and a missing column', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.csv'), 'relus,top1\n100,0.5\n200,abc\n');
    expect(() => readCurveCsv(join(dir, 'bad.csv'))).toThrow(/bad\.csv: line 3: column 'top1': not an accuracy \(got "abc"\)/);
    writeFileSync(join(dir, 'nocol.csv'), 'relus,acc_top\n1,2\n');
    expect(() => readCurveCsv(join(dir, 'nocol.csv'))).toThrow(/needs an accuracy column 'top1'.*columns are relus, acc_top/);
  });
});

describe('plots', () => {
  it('renders ReLU and latency charts to SVG and PNG with one mark per point and the front marked', async () => {
    const dir = tempDir();
    const points = [
      { series: 'polynas', relus: 1000, latency: 900, top1: 0.6 },
      { series: 'polynas', relus: 5000, latency: 1100, top1: 0.55 }, // dominated
      { series: 'polynas', relus: 20000, latency: 1500, top1: 0.66 },
      { series: 'paper', relus: 12900, top1: 0.88 },
    ];
    const { files } = await renderCurvePlots(points, { outDir: dir, title: 'test' });
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['relus-vs-accuracy.svg', 'relus-vs-accuracy.png', 'latency-vs-accuracy.svg', 'latency-vs-accuracy.png']);
    const svg = readFileSync(join(dir, 'relus-vs-accuracy.svg'), 'utf8');
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(4);
    expect(svg.match(/pareto: dominated/g)).toHaveLength(1);
    expect(svg.match(/pareto: Pareto front/g)).toHaveLength(3);
    expect(svg).toContain('ReLU count (log scale)');
    // The latency chart only has the three points that carry a latency.
    expect(readFileSync(join(dir, 'latency-vs-accuracy.svg'), 'utf8').match(/aria-roledescription="point"/g)).toHaveLength(3);
    const png = readFileSync(join(dir, 'relus-vs-accuracy.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(600); // width at 2× of a 460-px-wide chart plus axes and legend
  });

  it('refuses to plot nothing', async () => {
    await expect(renderCurvePlots([{ series: 's', top1: 0.5 }], { outDir: tempDir() })).rejects.toThrow('nothing to plot');
  });
});
