/**
 * `npm run bench:onnx`: the networks of `bench:accuracy` (CIFAR ResNet-20 on the CIFAR-10 subset: the
 * all-ReLU teacher, AutoReP 1 %, SNL 5 %, DARTS 5 %) exported as ONNX for each profile, each run in
 * ONNX Runtime on the first 100 test images against polynas' own forward pass. Prints the op
 * histogram, the size and the largest logit difference per model and profile; writes
 * `<out>/onnx.json` and keeps the models under `<out>/<id>.<profile>.onnx`.
 *
 *   npm run bench:onnx -- [--models bench/results/accuracy] [--cifar-dir DIR] [--out bench/results/onnx] [--images 100]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { writeOnnx, type OnnxFileReport } from '../src/run/onnx.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: join(root, 'bench/results/accuracy') }, out: { type: 'string', default: join(root, 'bench/results/onnx') },
    'cifar-dir': { type: 'string', default: process.env.POLYNAS_CIFAR10_DIR }, images: { type: 'string', default: '100' },
  },
});
const models = resolve(values.models!);
const out = resolve(values.out!);
mkdirSync(out, { recursive: true });
const MODELS: [string, string][] = [
  ['resnet20-relu', 'resnet20-autorep-seed0/teacher'],
  ['resnet20-autorep-1%', 'resnet20-autorep-seed0/budget-0.01/architecture.json'],
  ['resnet20-snl-5%', 'resnet20-snl-seed0/budget-0.05/architecture.json'],
  ['resnet20-darts-5%', 'resnet20-darts-seed0/budget-0.05/architecture.json'],
];

await selectBackend('auto');
const rows: (OnnxFileReport & { id: string })[] = [];
for (const [id, rel] of MODELS) {
  const model = join(models, rel);
  if (!existsSync(model)) {
    console.error(`${id}: ${model} is missing (run npm run bench:accuracy first); skipped`);
    continue;
  }
  for (const profile of ['crypten', 'ezpc', 'plain'] as const) {
    const r = await writeOnnx({ model, file: join(out, `${id}.${profile}.onnx`), profile, verify: Number(values.images), ...(values['cifar-dir'] ? { dataDir: values['cifar-dir'] } : {}) });
    rows.push({ id, ...r });
    writeJsonAtomic(join(out, 'onnx.json'), rows);
  }
}

console.log('| network | profile | opset | MB | ReLUs (polynas pi / importer) | ops | ORT vs polynas: max abs (rel) | top-1 agreement |');
console.log('|---|---|---:|---:|---:|---|---:|---:|');
for (const r of rows) {
  const ops = Object.entries(r.histogram).map(([op, n]) => `${op} ${n}`).join(', ');
  const c = r.check!;
  console.log(`| ${r.id} | ${r.profile} | ${r.opset} | ${(r.sizeBytes / 1e6).toFixed(2)} | ${r.relus} / ${r.relusInImporter} | ${ops} | ${c.maxAbsDiff.toExponential(2)} (${c.relDiff.toExponential(1)}) on ${c.images}${c.inputDependent ? '' : ' (logits the same for every image: a collapsed network)'} | ${(c.top1Agreement * 100).toFixed(0)} % |`);
}
