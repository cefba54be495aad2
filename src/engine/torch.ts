/**
 * The `torch` TensorFlow.js backend: tfjs-core's ops and autodiff, with every kernel run by
 * LibTorch (oneDNN convolutions, native BLAS, OpenMP threads) through the Node-API addon in
 * `native/torch`. Tensors live in native memory; data crosses into JavaScript only on
 * `read`/`dataSync`. The addon is optional: build it with `npm run build:torch` on a machine with
 * LibTorch (`apt-get install -y libtorch-dev`, or `LIBTORCH=/path/to/libtorch`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { torchThreadsFromEnv } from '../io/env.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.js';
import { kernels } from './torch-kernels.js';
import { DTYPES, dtypeCode, type TorchDtype } from './torch-dtypes.js';
import { ThreadGovernor } from './torch-threads.js';

export type Handle = number;
/** What every native op returns: `[handle, dtypeCode, ...shape]`. */
export type NativeResult = number[];
export type Geometry = [number, number, number, number, number, number, number, number];

interface TorchAddon {
  write(values: ArrayBufferView, shape: number[], dtype: number): NativeResult;
  read(h: Handle): Float32Array | Int32Array | Uint8Array;
  dispose(h: Handle): void;
  stats(): { tensors: number; bytes: number };
  setThreads(n: number): void;
  info(): { threads: number; config: string; version: string };
  /** The threads a parallel loop of the hand-written kernels (norm, gate, optimizer) runs on. */
  rowThreads(): number;
  unary(op: number, x: Handle, alpha?: number): NativeResult;
  binary(op: number, a: Handle, b: Handle): NativeResult;
  addN(xs: Handle[]): NativeResult;
  select(c: Handle, t: Handle, e: Handle): NativeResult;
  clip(x: Handle, lo: number, hi: number): NativeResult;
  cast(x: Handle, dtype: number): NativeResult;
  reduce(op: number, x: Handle, axes: number[], keepDims: boolean): NativeResult;
  argMinMax(max: number, x: Handle, axis: number): NativeResult;
  softmax(x: Handle, dim: number): NativeResult;
  logSoftmax(x: Handle, dim: number): NativeResult;
  topk(x: Handle, k: number, sorted: boolean): NativeResult[];
  reshape(x: Handle, shape: number[]): NativeResult;
  transpose(x: Handle, perm: number[]): NativeResult;
  slice(x: Handle, begin: number[], size: number[]): NativeResult;
  pad(x: Handle, pads: number[], value: number): NativeResult;
  concat(xs: Handle[], axis: number): NativeResult;
  stack(xs: Handle[], axis: number): NativeResult;
  unstack(x: Handle, axis: number): NativeResult[];
  tile(x: Handle, reps: number[]): NativeResult;
  reverse(x: Handle, dims: number[]): NativeResult;
  fill(shape: number[], value: number, dtype: number): NativeResult;
  gather(x: Handle, indices: Handle, axis: number): NativeResult;
  oneHot(indices: Handle, depth: number, on: number, off: number, dtype: number): NativeResult;
  matmul(a: Handle, b: Handle, ta: boolean, tb: boolean): NativeResult;
  conv2d(x: Handle, w: Handle, g: Geometry, depthwise: boolean): NativeResult;
  conv2dInputGrad(dy: Handle, w: Handle, inShape: number[], g: Geometry, depthwise: boolean): NativeResult;
  conv2dFilterGrad(x: Handle, dy: Handle, filterShape: number[], g: Geometry, depthwise: boolean): NativeResult;
  pool(isMax: boolean, x: Handle, k: number[], g: Geometry): NativeResult;
  poolGrad(isMax: boolean, dy: Handle, x: Handle, k: number[], g: Geometry): NativeResult;
  batchNorm(x: Handle, mean: Handle, variance: Handle, offset: Handle, scale: Handle, eps: number): NativeResult;
  batchNormTrain(x: Handle, gamma: Handle, beta: Handle, eps: number, runningMean?: Handle, runningVar?: Handle, momentum?: number): NativeResult[];
  batchNormTrainGrad(dy: Handle, x: Handle, gamma: Handle, mean: Handle, invstd: Handle, eps: number): NativeResult[];
  batchNormRelu(x: Handle, gamma: Handle, beta: Handle, eps: number, residual: Handle | 0, runningMean?: Handle, runningVar?: Handle, momentum?: number): NativeResult[];
  batchNormReluGrad(dy: Handle, x: Handle, y: Handle | 0, gamma: Handle, beta: Handle, mean: Handle, invstd: Handle): NativeResult[];
  reluGrad(dy: Handle, x: Handle): NativeResult;
  maskedPoly(x: Handle, mask: Handle | 0, coeffs: Handle, scale: number, clip: number): NativeResult;
  hysteresisMask(mask: Handle, alpha: Handle, keepShift: number, restoreShift: number): NativeResult;
  maskedPolyGrad(dy: Handle, x: Handle, mask: Handle | 0, coeffs: Handle, scale: number, clip: number): NativeResult[];
  sgdSteps(params: Handle[], grads: Handle[], bufs: Handle[], lr: number, momentum: number, weightDecay: number, nesterov: boolean): NativeResult[];
  adamSteps(params: Handle[], grads: Handle[], m: Handle[], v: Handle[], lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, c1: number, c2: number): NativeResult[];
}


/** Path of the compiled addon inside the package. */
export const TORCH_ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'torch', 'build', 'Release', 'polynas_torch.node');

let addon: TorchAddon | undefined;

/** The addon's function signatures this code calls (`apiVersion` in native/torch/src/addon.cc). */
export const TORCH_ADDON_API = 3;

/** Loads the addon (throws with build instructions when it has not been built). */
export function loadTorchAddon(): TorchAddon {
  if (addon) return addon;
  if (!existsSync(TORCH_ADDON_PATH)) {
    throw new Error(`the LibTorch engine is not built (${TORCH_ADDON_PATH} is missing); run \`npm run build:torch\` after \`apt-get install -y libtorch-dev\` (or with LIBTORCH=/path/to/libtorch)`);
  }
  const loaded = createRequire(import.meta.url)(TORCH_ADDON_PATH) as TorchAddon & { apiVersion?: number };
  if (loaded.apiVersion !== TORCH_ADDON_API) {
    throw new Error(`the LibTorch engine at ${TORCH_ADDON_PATH} was built from another polynas (its API is ${loaded.apiVersion ?? 1}, this code needs ${TORCH_ADDON_API}); rebuild it with \`npm run build:torch\``);
  }
  addon = loaded;
  if (process.env.POLYNAS_TORCH_PROFILE === '1') addon = profiled(addon);
  const asked = torchThreadsFromEnv();
  addon.setThreads(typeof asked === 'number' ? asked : cpus().length);
  // `auto`: the threads follow the cores other processes leave free (see ThreadGovernor). Not the
  // default: thread counts change floating-point reductions, so a run's numbers would depend on the load.
  const native = addon;
  if (asked === 'auto' && cpus().length > 1) governor = new ThreadGovernor((n) => native.setThreads(n), cpus().length);
  return addon;
}

let governor: ThreadGovernor | undefined;

/** Native calls and their wall time per addon function, since the last {@link resetTorchProfile}. */
export interface TorchProfile {
  calls: number;
  nativeMs: number;
  byOp: Record<string, { calls: number; ms: number }>;
}

let profile: TorchProfile = { calls: 0, nativeMs: 0, byOp: {} };

/**
 * The addon with every function timed (`POLYNAS_TORCH_PROFILE=1` at load): the time inside native
 * code (LibTorch kernels, result allocation, the Node-API crossing) against the step's wall time
 * gives the JavaScript side (tfjs engine bookkeeping, kernel wrappers, shape handling).
 */
function profiled(raw: TorchAddon): TorchAddon {
  return new Proxy(raw, {
    get(target, key: string) {
      const f = (target as unknown as Record<string, unknown>)[key];
      if (typeof f !== 'function') return f;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return (f as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          const dt = performance.now() - t0;
          profile.calls++;
          profile.nativeMs += dt;
          const e = (profile.byOp[key] ??= { calls: 0, ms: 0 });
          e.calls++;
          e.ms += dt;
        }
      };
    },
  });
}

/** What the profiled addon recorded since the last reset (zeros unless `POLYNAS_TORCH_PROFILE=1`). */
export function takeTorchProfile(): TorchProfile {
  const p = profile;
  profile = { calls: 0, nativeMs: 0, byOp: {} };
  return p;
}

interface Entry {
  handle: Handle;
  refCount: number;
}

/** A TensorFlow.js backend whose tensors are LibTorch tensors. */
export class TorchBackend extends tf.KernelBackend {
  readonly data: tf.DataStorage<Entry>;
  private nextId = 0;

  constructor(readonly native: TorchAddon) {
    super();
    this.data = new tf.DataStorage<Entry>(this, tf.engine());
  }

  /** The handle behind a tensor. */
  handle(t: tf.TensorInfo): Handle {
    const e = this.data.get(t.dataId);
    if (!e) throw new Error('torch backend: tensor data not found (disposed, or created on another backend)');
    return e.handle;
  }

  /** Wraps a native result as a TensorInfo owned by this backend. */
  wrap(r: NativeResult): tf.TensorInfo {
    governor?.tick();
    const [handle, code, ...shape] = r as [number, number, ...number[]];
    const dataId = { id: this.nextId++ };
    this.data.set(dataId, { handle, refCount: 1 });
    return { dataId, shape, dtype: DTYPES[code] as TorchDtype };
  }

  /** The same native tensor under the input's data id (one more reference): for identities. */
  share(x: tf.TensorInfo): tf.TensorInfo {
    this.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    return this.wrap(this.native.write(toTyped(values, dtype), shape, dtypeCode(dtype))).dataId;
  }

  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    const [handle] = this.native.write(toTyped(values, dtype), shape, dtypeCode(dtype)) as [number];
    this.data.set(dataId, { handle, refCount });
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const e = this.data.get(dataId);
    if (!e) throw new Error('torch backend: reading a disposed tensor');
    return this.native.read(e.handle);
  }

  override async read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const e = this.data.get(dataId);
    if (!e) return true;
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    this.native.dispose(e.handle);
    this.data.delete(dataId);
    return true;
  }

  override incRef(dataId: tf.DataId): void {
    const e = this.data.get(dataId);
    if (e) e.refCount++;
  }

  override refCount(dataId: tf.DataId): number {
    return this.data.get(dataId)?.refCount ?? 0;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): { unreliable: boolean; numBytesInNative: number; numNativeTensors: number } {
    const s = this.native.stats();
    return { unreliable: false, numBytesInNative: s.bytes, numNativeTensors: s.tensors };
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const t0 = performance.now();
    f();
    return { kernelMs: performance.now() - t0 };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  /** Native tensors are freed as tfjs disposes them; nothing else is held. */
  override dispose(): void {}
}

function toTyped(values: tf.backend_util.BackendValues, dtype: tf.DataType): ArrayBufferView {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  if (dtype === 'int32') return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  if (dtype === 'bool') return values instanceof Uint8Array || values instanceof Int32Array ? values : Uint8Array.from(values as ArrayLike<number>);
  throw new Error(`torch backend: dtype '${dtype}' is not supported`);
}

let registered = false;

/**
 * Registers the `torch` backend with TensorFlow.js (once). Throws with build instructions when the
 * addon has not been built.
 *
 * @example
 * ```ts
 * registerTorchBackend();
 * await tf.setBackend('torch');
 * ```
 */
export function registerTorchBackend(): void {
  if (registered) return;
  const native = loadTorchAddon();
  tf.registerBackend('torch', () => new TorchBackend(native), 0);
  for (const [kernelName, kernelFunc] of Object.entries(kernels())) {
    tf.registerKernel({ kernelName, backendName: 'torch', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  registered = true;
}

/** Kernel names the torch backend implements. */
export function torchKernelNames(): string[] {
  return Object.keys(kernels()).sort();
}

/** LibTorch version and threads of the loaded addon. */
export function torchInfo(): { threads: number; version: string } {
  const i = loadTorchAddon().info();
  return { threads: i.threads, version: i.version };
}

/** Sets LibTorch's intra-op threads (default: all cores, or `POLYNAS_TORCH_THREADS`); a fixed count ends the adaptation. */
export function setTorchThreads(n: number): void {
  loadTorchAddon().setThreads(n);
  governor = undefined;
}

/** How the threads are chosen: a fixed count, or adapted to the free cores (with the count now). */
export function torchThreadPolicy(): { policy: 'fixed' | 'adaptive'; threads: number } {
  const a = loadTorchAddon();
  return { policy: governor ? 'adaptive' : 'fixed', threads: a.info().threads };
}
