/**
 * The kernel table of the torch backend: every TensorFlow.js kernel it implements, each a call into
 * the LibTorch addon (`native/torch`), grouped by family as the addon is.
 */
import { tf } from './tf.js';
import { FUSED, type AdamStepAttrs, type SgdStepAttrs } from './fused.js';
import { dtypeCode } from './torch-dtypes.js';
import type { Geometry, TorchBackend } from './torch.js';


type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };
const be = (a: KernelArgs) => a.backend as TorchBackend;
const h = (a: KernelArgs, name: string) => be(a).handle(a.inputs[name] as tf.TensorInfo);
const list = (a: KernelArgs) => Object.values(a.inputs) as tf.TensorInfo[];

const UNARY: Record<string, number> = {
  Abs: 0, Neg: 1, Exp: 2, Log: 3, Sqrt: 4, Rsqrt: 5, Square: 6, Relu: 7, Relu6: 8, Sigmoid: 9, Tanh: 10, Softplus: 11, Sign: 12,
  Floor: 13, Ceil: 14, Round: 15, Reciprocal: 16, Log1p: 17, Expm1: 18, Sin: 19, Cos: 20, Erf: 21, IsNan: 22, LogicalNot: 23,
  Step: 24, Elu: 25, LeakyRelu: 26,
};
const BINARY: Record<string, number> = {
  Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Pow: 4, Maximum: 5, Minimum: 6, SquaredDifference: 7, FloorDiv: 8, Mod: 9, Equal: 10,
  NotEqual: 11, Greater: 12, GreaterEqual: 13, Less: 14, LessEqual: 15, LogicalAnd: 16, LogicalOr: 17, Atan2: 18, Prelu: 19,
};
const REDUCE: Record<string, number> = { Sum: 0, Mean: 1, Max: 2, Min: 3, Prod: 4, All: 5, Any: 6 };

/** Explicit [sh, sw, top, bottom, left, right, dh, dw] from tfjs' own geometry helpers. */
function geometry(info: { strideHeight: number; strideWidth: number; padInfo: { top: number; bottom: number; left: number; right: number }; dilationHeight: number; dilationWidth: number }): Geometry {
  const p = info.padInfo;
  return [info.strideHeight, info.strideWidth, p.top, p.bottom, p.left, p.right, info.dilationHeight, info.dilationWidth];
}

type ConvAttrs = { strides: [number, number] | number; pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dilations?: [number, number] | number; dimRoundingMode?: 'floor' | 'round' | 'ceil'; dataFormat?: 'NHWC' | 'NCHW' };

function checkNhwc(attrs: ConvAttrs, kernel: string): void {
  if (attrs.dataFormat === 'NCHW') throw new Error(`torch backend: ${kernel} supports NHWC only`);
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs, depthwise: boolean) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise,
  );
}

function poolInfo(xShape: number[], attrs: { filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' }) {
  return tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** Kernel functions by tfjs kernel name. */
export function kernels(): Record<string, (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> {
  const k: Record<string, (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {};
  for (const [name, code] of Object.entries(UNARY)) {
    k[name] = (a) => {
      const alpha = name === 'Step' || name === 'LeakyRelu' ? Number((a.attrs as { alpha?: number }).alpha ?? 0) : 0;
      return be(a).wrap(be(a).native.unary(code, h(a, 'x'), alpha));
    };
  }
  for (const [name, code] of Object.entries(BINARY)) {
    k[name] = (a) => (name === 'Prelu' ? be(a).wrap(be(a).native.binary(code, h(a, 'x'), h(a, 'alpha'))) : be(a).wrap(be(a).native.binary(code, h(a, 'a'), h(a, 'b'))));
  }
  for (const [name, code] of Object.entries(REDUCE)) {
    k[name] = (a) => {
      const x = a.inputs.x as tf.TensorInfo;
      // Max names its axes `reductionIndices`; the other reductions `axis`.
      const { axis, reductionIndices, keepDims } = a.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam((axis ?? reductionIndices)!, x.shape);
      return be(a).wrap(be(a).native.reduce(code, h(a, 'x'), axes, !!keepDims));
    };
  }
  k.ZerosLike = (a) => be(a).wrap(be(a).native.fill((a.inputs.x as tf.TensorInfo).shape, 0, dtypeCode((a.inputs.x as tf.TensorInfo).dtype)));
  k.OnesLike = (a) => be(a).wrap(be(a).native.fill((a.inputs.x as tf.TensorInfo).shape, 1, dtypeCode((a.inputs.x as tf.TensorInfo).dtype)));
  k.Fill = (a) => {
    const { shape, value, dtype } = a.attrs as { shape: number[]; value: number; dtype: tf.DataType };
    return be(a).wrap(be(a).native.fill(shape, Number(value), dtypeCode(dtype ?? 'float32')));
  };
  // Tensors are immutable: an identity (tfjs clones every tensor a gradient saves) or a cast to the
  // same dtype shares the input's native tensor instead of a native call.
  k.Identity = (a) => be(a).share(a.inputs.x as tf.TensorInfo);
  k.Cast = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    const dtype = (a.attrs as { dtype: tf.DataType }).dtype;
    return dtype === x.dtype ? be(a).share(x) : be(a).wrap(be(a).native.cast(be(a).handle(x), dtypeCode(dtype)));
  };
  k.ClipByValue = (a) => {
    const { clipValueMin, clipValueMax } = a.attrs as { clipValueMin: number; clipValueMax: number };
    return be(a).wrap(be(a).native.clip(h(a, 'x'), clipValueMin, clipValueMax));
  };
  k.Select = (a) => be(a).wrap(be(a).native.select(h(a, 'condition'), h(a, 't'), h(a, 'e')));
  k.AddN = (a) => be(a).wrap(be(a).native.addN(list(a).map((t) => be(a).handle(t))));
  k.ArgMax = (a) => be(a).wrap(be(a).native.argMinMax(1, h(a, 'x'), tf.util.parseAxisParam((a.attrs as { axis: number }).axis, (a.inputs.x as tf.TensorInfo).shape)[0]!));
  k.ArgMin = (a) => be(a).wrap(be(a).native.argMinMax(0, h(a, 'x'), tf.util.parseAxisParam((a.attrs as { axis: number }).axis, (a.inputs.x as tf.TensorInfo).shape)[0]!));
  k.Softmax = (a) => be(a).wrap(be(a).native.softmax(h(a, 'logits'), (a.attrs as { dim: number }).dim));
  k.LogSoftmax = (a) => be(a).wrap(be(a).native.logSoftmax(h(a, 'logits'), (a.attrs as { axis: number }).axis));
  k.TopK = (a) => {
    const { k: kk, sorted } = a.attrs as { k: number; sorted: boolean };
    return be(a).native.topk(h(a, 'x'), kk, sorted !== false).map((r) => be(a).wrap(r));
  };
  k.Reshape = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    const shape = tf.util.inferFromImplicitShape((a.attrs as { shape: number[] }).shape, tf.util.sizeFromShape(x.shape));
    return be(a).wrap(be(a).native.reshape(h(a, 'x'), shape));
  };
  k.ExpandDims = (a) => {
    const x = a.inputs.input as tf.TensorInfo;
    let dim = (a.attrs as { dim: number }).dim;
    if (dim < 0) dim = x.shape.length + dim + 1;
    const shape = [...x.shape];
    shape.splice(dim, 0, 1);
    return be(a).wrap(be(a).native.reshape(be(a).handle(x), shape));
  };
  k.Squeeze = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    const { newShape } = tf.util.squeezeShape(x.shape, (a.attrs as { axis?: number[] }).axis);
    return be(a).wrap(be(a).native.reshape(be(a).handle(x), newShape));
  };
  k.Transpose = (a) => be(a).wrap(be(a).native.transpose(h(a, 'x'), (a.attrs as { perm: number[] }).perm));
  k.Slice = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    const { begin, size } = a.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return be(a).wrap(be(a).native.slice(be(a).handle(x), b, s));
  };
  k.PadV2 = (a) => {
    const { paddings, constantValue } = a.attrs as { paddings: [number, number][]; constantValue: number };
    return be(a).wrap(be(a).native.pad(h(a, 'x'), paddings.flat(), constantValue));
  };
  k.Concat = (a) => {
    const ts = list(a);
    const axis = tf.util.parseAxisParam((a.attrs as { axis: number }).axis, ts[0]!.shape)[0]!;
    return be(a).wrap(be(a).native.concat(ts.map((t) => be(a).handle(t)), axis));
  };
  k.Pack = (a) => {
    const ts = list(a);
    let axis = (a.attrs as { axis: number }).axis;
    if (axis < 0) axis += ts[0]!.shape.length + 1;
    return be(a).wrap(be(a).native.stack(ts.map((t) => be(a).handle(t)), axis));
  };
  k.Unpack = (a) => {
    const x = a.inputs.value as tf.TensorInfo;
    let axis = (a.attrs as { axis: number }).axis;
    if (axis < 0) axis += x.shape.length;
    return be(a).native.unstack(be(a).handle(x), axis).map((r) => be(a).wrap(r));
  };
  k.Tile = (a) => be(a).wrap(be(a).native.tile(h(a, 'x'), (a.attrs as { reps: number[] }).reps));
  k.Reverse = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    return be(a).wrap(be(a).native.reverse(be(a).handle(x), tf.util.parseAxisParam((a.attrs as { dims: number | number[] }).dims, x.shape)));
  };
  k.GatherV2 = (a) => {
    const x = a.inputs.x as tf.TensorInfo;
    const { axis, batchDims } = a.attrs as { axis: number; batchDims: number };
    if (batchDims) throw new Error('torch backend: GatherV2 with batchDims is not supported');
    return be(a).wrap(be(a).native.gather(be(a).handle(x), h(a, 'indices'), tf.util.parseAxisParam(axis, x.shape)[0]!));
  };
  k.OneHot = (a) => {
    const { depth, onValue, offValue, dtype } = a.attrs as { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
    return be(a).wrap(be(a).native.oneHot(h(a, 'indices'), depth, onValue, offValue, dtypeCode(dtype ?? 'int32')));
  };
  k.BatchMatMul = (a) => {
    const { transposeA, transposeB } = a.attrs as { transposeA: boolean; transposeB: boolean };
    return be(a).wrap(be(a).native.matmul(h(a, 'a'), h(a, 'b'), !!transposeA, !!transposeB));
  };
  k.FusedBatchNorm = (a) => {
    const eps = (a.attrs as { varianceEpsilon: number }).varianceEpsilon;
    const opt = (n: string) => (a.inputs[n] ? h(a, n) : 0);
    return be(a).wrap(be(a).native.batchNorm(h(a, 'x'), h(a, 'mean'), h(a, 'variance'), opt('offset'), opt('scale'), eps));
  };
  const conv = (depthwise: boolean) => (a: KernelArgs) => {
    const x = a.inputs.x as tf.TensorInfo;
    const w = a.inputs.filter as tf.TensorInfo;
    checkNhwc(a.attrs as ConvAttrs, 'conv2d');
    const info = convInfo(x.shape, w.shape, a.attrs as ConvAttrs, depthwise);
    return be(a).wrap(be(a).native.conv2d(be(a).handle(x), be(a).handle(w), geometry(info), depthwise));
  };
  k.Conv2D = conv(false);
  k.DepthwiseConv2dNative = conv(true);
  const convInput = (depthwise: boolean) => (a: KernelArgs) => {
    const attrs = a.attrs as ConvAttrs & { inputShape: number[] };
    checkNhwc(attrs, 'conv2d gradient');
    const w = a.inputs.filter as tf.TensorInfo;
    const info = convInfo(attrs.inputShape, w.shape, attrs, depthwise);
    return be(a).wrap(be(a).native.conv2dInputGrad(h(a, 'dy'), be(a).handle(w), attrs.inputShape, geometry(info), depthwise));
  };
  k.Conv2DBackpropInput = convInput(false);
  k.DepthwiseConv2dNativeBackpropInput = convInput(true);
  const convFilter = (depthwise: boolean) => (a: KernelArgs) => {
    const attrs = a.attrs as ConvAttrs & { filterShape: number[] };
    checkNhwc(attrs, 'conv2d gradient');
    const x = a.inputs.x as tf.TensorInfo;
    const info = convInfo(x.shape, attrs.filterShape, attrs, depthwise);
    return be(a).wrap(be(a).native.conv2dFilterGrad(be(a).handle(x), h(a, 'dy'), attrs.filterShape, geometry(info), depthwise));
  };
  k.Conv2DBackpropFilter = convFilter(false);
  k.DepthwiseConv2dNativeBackpropFilter = convFilter(true);
  type PoolAttrs = Parameters<typeof poolInfo>[1];
  const pool = (isMax: boolean) => (a: KernelArgs) => {
    const x = a.inputs.x as tf.TensorInfo;
    const info = poolInfo(x.shape, a.attrs as PoolAttrs);
    return be(a).wrap(be(a).native.pool(isMax, be(a).handle(x), [info.filterHeight, info.filterWidth], geometry(info)));
  };
  k.MaxPool = pool(true);
  k.AvgPool = pool(false);
  const poolGrad = (isMax: boolean) => (a: KernelArgs) => {
    const x = a.inputs.input as tf.TensorInfo;
    const info = poolInfo(x.shape, a.attrs as PoolAttrs);
    return be(a).wrap(be(a).native.poolGrad(isMax, h(a, 'dy'), be(a).handle(x), [info.filterHeight, info.filterWidth], geometry(info)));
  };
  k.MaxPoolGrad = poolGrad(true);
  k.AvgPoolGrad = poolGrad(false);
  // Fused kernels polynas' layers call on this backend (see src/engine/fused.ts).
  // A training norm's eps and, where given, its running statistics and momentum (the native arguments' tail).
  const norm = (a: KernelArgs) => {
    const { eps, momentum } = a.attrs as { eps: number; momentum: number };
    return { eps, running: a.inputs.runningMean ? ([h(a, 'runningMean'), h(a, 'runningVar'), momentum] as const) : ([] as const) };
  };
  k[FUSED.bnTrain] = (a) => {
    const { eps, running } = norm(a);
    return be(a).native.batchNormTrain(h(a, 'x'), h(a, 'gamma'), h(a, 'beta'), eps, ...running).map((r) => be(a).wrap(r));
  };
  k[FUSED.bnReluTrain] = (a) => {
    const { eps, running } = norm(a);
    return be(a).native.batchNormRelu(h(a, 'x'), h(a, 'gamma'), h(a, 'beta'), eps, a.inputs.residual ? h(a, 'residual') : 0, ...running).map((r) => be(a).wrap(r));
  };
  k[FUSED.bnReluTrainGrad] = (a) =>
    be(a).native
      .batchNormReluGrad(h(a, 'dy'), h(a, 'x'), a.inputs.y ? h(a, 'y') : 0, h(a, 'gamma'), h(a, 'beta'), h(a, 'mean'), h(a, 'invstd'))
      .map((r) => be(a).wrap(r));
  k[FUSED.maskedPoly] = (a) => {
    const { scale, clip } = a.attrs as { scale: number; clip: number };
    return be(a).wrap(be(a).native.maskedPoly(h(a, 'x'), a.inputs.mask ? h(a, 'mask') : 0, h(a, 'coeffs'), scale, clip));
  };
  k[FUSED.hysteresisMask] = (a) => {
    const { keepShift, restoreShift } = a.attrs as { keepShift: number; restoreShift: number };
    return be(a).wrap(be(a).native.hysteresisMask(h(a, 'mask'), h(a, 'alpha'), keepShift, restoreShift));
  };
  k[FUSED.maskedPolyGrad] = (a) => {
    const { scale, clip } = a.attrs as { scale: number; clip: number };
    return be(a).native.maskedPolyGrad(h(a, 'dy'), h(a, 'x'), a.inputs.mask ? h(a, 'mask') : 0, h(a, 'coeffs'), scale, clip).map((r) => be(a).wrap(r));
  };
  k[FUSED.bnTrainGrad] = (a) =>
    be(a).native.batchNormTrainGrad(h(a, 'dy'), h(a, 'x'), h(a, 'gamma'), h(a, 'mean'), h(a, 'invstd'), (a.attrs as { eps: number }).eps).map((r) => be(a).wrap(r));
  k[FUSED.reluGrad] = (a) => be(a).wrap(be(a).native.reluGrad(h(a, 'dy'), h(a, 'x')));
  // Multi-parameter updates: inputs `p0…`, `g0…` and the slots `b0…` (SGD) or `m0…`, `v0…` (Adam).
  const handles = (a: KernelArgs, name: string) => Array.from({ length: (a.attrs as { n: number }).n }, (_, i) => h(a, `${name}${i}`));
  k[FUSED.sgdSteps] = (a) => {
    const t = a.attrs as unknown as SgdStepAttrs;
    return be(a).native.sgdSteps(handles(a, 'p'), handles(a, 'g'), handles(a, 'b'), t.lr, t.momentum, t.weightDecay, t.nesterov).map((r) => be(a).wrap(r));
  };
  k[FUSED.adamSteps] = (a) => {
    const t = a.attrs as unknown as AdamStepAttrs;
    return be(a).native
      .adamSteps(handles(a, 'p'), handles(a, 'g'), handles(a, 'm'), handles(a, 'v'), t.lr, t.beta1, t.beta2, t.eps, t.weightDecay, t.decoupled, t.c1, t.c2)
      .map((r) => be(a).wrap(r));
  };
  return k;
}

