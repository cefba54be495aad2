/**
 * `npm run bench:compare`: the same training step (ResNet-20 at 32×32×3, LeNet-5 at 28×28×1;
 * batch 64 and 128) and an AutoReP search step, in polynas on every available backend and in
 * PyTorch (Debian's python3-torch, installed by this script when missing and apt is usable),
 * interleaved round by round (the order alternating), each measurement in its own process. Prints the
 * median ms/step, images/s and the ratio polynas/PyTorch of the pooled medians, and the paired ratio:
 * per round, polynas' median over PyTorch's of the same round, their median and range (robust to a
 * machine whose speed drifts between rounds); `--json FILE` also writes every raw measurement.
 *
 * Engines (`--backends`): `torch` (when built; `--threads` threads), `torch-auto` (threads that follow
 * the free cores, `POLYNAS_TORCH_THREADS=auto`), `wasm` (`--threads` threads), `wasm-1t` (one
 * thread) and `wasm-stock` (tfjs-wasm 4.22 as shipped: one thread, its own convolution gradients
 * plus the filter-gradient kernel it lacks, see `stock-wasm.ts`; training steps only, with
 * `--stock-steps` steps after one warm-up because each takes seconds).
 *
 *   npm run bench:compare -- [--nets resnet20,lenet5] [--batches 64,128] [--kinds train,autorep]
 *                            [--backends torch,wasm,wasm-1t,wasm-stock] [--rounds 2] [--steps 10]
 *                            [--warmup 3] [--stock-steps 3] [--threads 2] [--load 1]
 *
 * `--load N` keeps N single-threaded busy processes running through every measurement (polynas and
 * PyTorch alike), as on a shared machine or a laptop.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    nets: { type: 'string', default: 'resnet20,lenet5' }, batches: { type: 'string', default: '64,128' }, kinds: { type: 'string', default: 'train,autorep' },
    backends: { type: 'string' }, 'stock-steps': { type: 'string', default: '3' }, rounds: { type: 'string', default: '2' }, steps: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(cpus().length) }, python: { type: 'string', default: '/usr/bin/python3' }, json: { type: 'string' },
    load: { type: 'string', default: '0' },
  },
});

function hasTorchPython(py: string): boolean {
  return spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}
const python = values.python!;
if (!hasTorchPython(python)) {
  console.error('PyTorch not found; installing Debian\'s python3-torch …');
  const r = spawnSync('apt-get', ['install', '-y', '-qq', 'python3-torch'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0 || !hasTorchPython(python)) {
    console.error('could not install python3-torch (apt-get install -y python3-torch as root); comparing polynas backends only');
  }
}
const withPytorch = hasTorchPython(python);
const threads = values.threads!;
const backends = values.backends?.split(',') ?? [...(existsSync(join(root, 'native/torch/build/Release/polynas_torch.node')) ? ['torch'] : []), 'wasm', 'wasm-1t', 'wasm-stock'];
const KNOWN = ['torch', 'torch-auto', 'wasm', 'wasm-1t', 'wasm-stock', 'cpu', 'tensorflow'];
for (const b of backends) if (!KNOWN.includes(b)) throw new Error(`--backends: unknown engine '${b}'; known: ${KNOWN.join(', ')}`);
const engineName = (b: string): string =>
  b === 'wasm' ? `polynas wasm ${threads}t` : b === 'wasm-1t' ? 'polynas wasm 1t' : b === 'wasm-stock' ? 'tfjs-wasm stock 1t' : b === 'torch-auto' ? 'polynas torch auto' : `polynas ${b}`;

interface Measurement { engine: string; net: string; batch: number; kind: string; ms: number[]; error?: string; round?: number }
const results: Measurement[] = [];

/** Runs one measurement; a crash (e.g. the wasm heap running out) is recorded, not fatal. */
function attempt(engine: string, net: string, batch: number, kind: string, f: () => Measurement): Measurement {
  try {
    return f();
  } catch (e) {
    const text = String((e as { stderr?: string }).stderr ?? '') + String((e as Error).message);
    const reason = text.includes('Aborted(') || /out of memory|memory access out of bounds/i.test(text) ? 'crashed (WebAssembly abort: heap exhausted)' : 'failed (see stderr)';
    console.error(text.slice(-2000));
    console.error(`${engine} ${net} ${kind} batch ${batch}: ${reason}`);
    return { engine, net, batch, kind, ms: [], error: reason };
  }
}

function runPolynas(engine: string, net: string, batch: number, kind: string): Measurement {
  const stock = engine === 'wasm-stock';
  const backend = engine === 'wasm-1t' ? 'wasm' : engine === 'torch-auto' ? 'torch' : engine;
  const args = ['--backend', backend, '--net', net, '--batch', String(batch), '--kind', kind, '--steps', stock ? values['stock-steps']! : values.steps!, '--warmup', stock ? '1' : values.warmup!];
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/step-json.ts'), ...args], {
    cwd: root,
    env: { ...process.env, POLYNAS_TORCH_THREADS: engine === 'torch-auto' ? 'auto' : threads, POLYNAS_WASM_THREADS: engine === 'wasm' ? threads : '1' },
    encoding: 'utf8',
    // stderr is captured so that a crash can be told from other failures (see `attempt`).
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 2 ** 20,
  });
  return { ...(JSON.parse(out.trim().split('\n').pop()!) as Measurement), engine: engineName(engine) };
}

function runPytorch(net: string, batch: number, kind: string): Measurement {
  const out = execFileSync(python, [join(root, 'bench/reference/pytorch_step.py'), '--nets', net, '--batch', String(batch), '--kind', kind, '--steps', values.steps!, '--warmup', values.warmup!, '--threads', threads], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Measurement;
}

// --load N: N competing single-threaded processes (busy loops) run through every measurement, as on a shared machine.
const load = Array.from({ length: Number(values.load) }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
const stopLoad = () => load.forEach((p) => p.kill('SIGKILL'));
process.on('exit', stopLoad);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const configs = values.nets!.split(',').flatMap((net) => values.batches!.split(',').map(Number).flatMap((batch) => values.kinds!.split(',').map((kind) => ({ net, batch, kind }))));
console.log(`polynas backends: ${backends.join(', ')}; PyTorch: ${withPytorch ? python : 'not available'}; ${threads} threads; ${values.rounds} rounds of ${values.steps} steps after ${values.warmup} warm-up${load.length ? `; ${load.length} competing busy process${load.length > 1 ? 'es' : ''}` : ''}`);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const { net, batch, kind } of configs) {
    const polynas = () => {
      for (const b of backends) {
        if (b === 'wasm-stock' && kind !== 'train') continue;
        // A configuration that crashed once is not retried.
        if (results.some((r) => r.engine === engineName(b) && r.net === net && r.batch === batch && r.kind === kind && r.error)) continue;
        results.push({ ...attempt(engineName(b), net, batch, kind, () => runPolynas(b, net, batch, kind)), round });
      }
    };
    const pytorch = () => {
      if (withPytorch) results.push({ ...attempt('pytorch', net, batch, kind, () => runPytorch(net, batch, kind)), round });
    };
    // The order alternates by round, so a machine whose speed drifts favours neither side.
    if (round % 2 === 0) {
      polynas();
      pytorch();
    } else {
      pytorch();
      polynas();
    }
    console.error(`round ${round + 1}: ${net} ${kind} batch ${batch} done`);
  }
}

stopLoad();
const rows: string[][] = [['network', 'step', 'batch', 'engine', 'ms/step', 'min–max', 'img/s', '× PyTorch', 'paired × (range)', 'stock/this']];
/** Per round, this engine's median over PyTorch's median of the same round (measured minutes apart at most): their median and range. */
function paired(engine: string, net: string, batch: number, kind: string): string {
  const of = (e: string, round: number) => results.find((r) => r.engine === e && r.net === net && r.batch === batch && r.kind === kind && r.round === round && r.ms.length);
  const ratios = Array.from({ length: Number(values.rounds) }, (_, round) => [of(engine, round), of('pytorch', round)] as const)
    .filter(([a, b]) => a && b)
    .map(([a, b]) => median(a!.ms) / median(b!.ms));
  if (!ratios.length) return '–';
  return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}
for (const { net, batch, kind } of configs) {
  const pick = (engine: string) => results.filter((r) => r.engine === engine && r.net === net && r.batch === batch && r.kind === kind).flatMap((r) => r.ms);
  const ref = withPytorch ? median(pick('pytorch')) : undefined;
  const stockMs = pick(engineName('wasm-stock'));
  const stockRef = stockMs.length ? median(stockMs) : undefined;
  for (const engine of [...backends.map(engineName), ...(withPytorch ? ['pytorch'] : [])]) {
    const ms = pick(engine);
    if (!ms.length) {
      const err = results.find((r) => r.engine === engine && r.net === net && r.batch === batch && r.kind === kind && r.error)?.error;
      if (err) rows.push([net, kind, String(batch), engine, err, '', '', '', '', '']);
      continue;
    }
    const m = median(ms);
    rows.push([net, kind, String(batch), engine, m.toFixed(1), `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}`, ((batch * 1000) / m).toFixed(0), ref ? (m / ref).toFixed(2) : '–', ref && engine !== 'pytorch' ? paired(engine, net, batch, kind) : '–', stockRef ? (stockRef / m).toFixed(1) : '–']);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.filter((r) => r[6] !== '').map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => (i < 4 || !r[6] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
