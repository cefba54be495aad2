/**
 * `npm run bench:report`: the HTML report page of the CIFAR-10-subset sweeps of `bench:accuracy`
 * (ResNet-20: AutoReP, SNL and DARTS, seed 0), opened in headless chromium: prints what each chart
 * drew and writes a full-page screenshot. Where `polynas pi run` left a `pi-run.json` in a budget
 * folder, the page shows measured next to predicted.
 *
 *   npm run bench:report -- [--models bench/results/accuracy] [--out bench/results/report] [--reference published.csv]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { htmlReport } from '../src/run/report-html.js';
import { openReport } from '../scripts/browser.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { models: { type: 'string', default: join(root, 'bench/results/accuracy') }, out: { type: 'string', default: join(root, 'bench/results/report') }, reference: { type: 'string', multiple: true } } });
const models = resolve(values.models!);
const out = resolve(values.out!);
mkdirSync(out, { recursive: true });
const runs = ['resnet20-autorep-seed0', 'resnet20-snl-seed0', 'resnet20-darts-seed0'].map((r) => join(models, r)).filter((d) => existsSync(d));
if (!runs.length) throw new Error(`no bench:accuracy sweeps under ${models} (run npm run bench:accuracy first)`);
const page = await htmlReport(runs, { out: join(out, 'cifar10-subset.html'), title: 'ResNet-20 on the CIFAR-10 subset: AutoReP, SNL, DARTS (seed 0)', ...(values.reference ? { references: values.reference } : {}) });
const shot = join(out, 'cifar10-subset.png');
const { charts, errors } = await openReport(page.file, shot);
console.log(`${page.file}: ${Object.keys(charts).length} charts; console errors: ${errors.length ? errors.join('; ') : 'none'}; screenshot ${shot}`);
for (const [id, c] of Object.entries(charts)) console.log(`  ${id.padEnd(48)} rows ${String(c.rows).padStart(4)}  marks ${String(c.marks).padStart(4)}${c.rows === c.marks ? '' : '  MISMATCH'}`);
