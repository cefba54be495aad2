/**
 * `npm run bench:profile`: where a torch-engine step's time goes. Runs the four steps of
 * `bench:compare` (ResNet-20 and LeNet-5, a training step and an AutoReP step, batch 64) with every
 * native call timed (`POLYNAS_TORCH_PROFILE=1`) and prints per step, as medians over the steps:
 * the wall time, the time inside native calls (LibTorch kernels, result allocation and the
 * Node-API crossing), the rest (tfjs engine bookkeeping, kernel wrappers, autodiff, shape handling,
 * garbage collection), the native calls per step and the rest per call; then the native functions
 * that took most of the time.
 *
 *   npm run bench:profile -- [--nets resnet20,lenet5] [--kinds train,autorep] [--batch 64] [--steps 10] [--threads 2]
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    nets: { type: 'string', default: 'resnet20,lenet5' }, kinds: { type: 'string', default: 'train,autorep' }, batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' }, threads: { type: 'string', default: String(cpus().length) },
  },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| step | wall ms | native ms | rest ms (share) | native calls | rest per call (µs) | most native time |');
console.log('|---|---:|---:|---:|---:|---:|---|');
for (const net of values.nets!.split(','))
  for (const kind of values.kinds!.split(',')) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/step-json.ts'), '--backend', 'torch', '--net', net, '--batch', values.batch!, '--kind', kind, '--steps', values.steps!, '--warmup', '3', '--profile'], {
      cwd: root, env: { ...process.env, POLYNAS_TORCH_THREADS: values.threads }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 2 ** 20,
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ms: number[]; native: { ms: number; calls: number; byOp: Record<string, { calls: number; ms: number }> }[] };
    const wall = median(r.ms);
    const nat = median(r.native.map((n) => n.ms));
    const calls = median(r.native.map((n) => n.calls));
    const rest = wall - nat;
    const byOp: Record<string, number> = {};
    for (const n of r.native) for (const [k, v] of Object.entries(n.byOp)) byOp[k] = (byOp[k] ?? 0) + v.ms / r.native.length;
    const top = Object.entries(byOp).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    console.log(`| ${net} ${kind} ${values.batch} | ${wall.toFixed(1)} | ${nat.toFixed(1)} | ${rest.toFixed(1)} (${((rest / wall) * 100).toFixed(0)} %) | ${calls} | ${((rest * 1000) / calls).toFixed(1)} | ${top} |`);
  }
