/**
 * Convolutions with gradients composed from forward convolutions.
 *
 * The WebAssembly backend has fast (XNNPACK) forward convolutions but no fast gradient kernels
 * (`Conv2DBackpropFilter` is missing, `Conv2DBackpropInput` and the depthwise gradients are scalar
 * loops), and the cpu backend's filter gradient is slower still. polynas therefore defines the
 * backward pass of a convolution with `tf.customGrad` in terms of forward convolutions:
 *
 * - filter gradient: one convolution of the transposed input `xᵀ [Ci,H,W,B]` with the transposed
 *   output gradient `dyᵀ [OH,OW,B,Co]` as filter, dilated by the stride;
 * - input gradient: a stride-1 convolution of the zero-upsampled output gradient with the spatially
 *   flipped, in/out-transposed filter;
 * - depthwise filter gradient: one strided slice, product and reduction per filter tap.
 *
 * Padding is PyTorch-style explicit symmetric padding (`pad` pixels on each side), which is what the
 * backbones use. On the native `tensorflow` backend the stock kernels are used instead.
 */
import { tf, type Tensor4D } from './tf.js';

/** Geometry of a 2-D convolution (square kernel strides and symmetric padding). */
export interface ConvGeometry {
  stride: number;
  pad: number;
}

/** Backends whose own gradient kernels are fast and correct (native TensorFlow, LibTorch). */
export const NATIVE_BACKENDS: ReadonlySet<string> = new Set(['tensorflow', 'torch']);

let gradients: 'composed' | 'stock' = 'composed';

/**
 * How convolution gradients run on the non-native backends (wasm, cpu): `composed` (the default)
 * builds them from forward convolutions as described above; `stock` uses the backend's own kernels,
 * for comparisons (tfjs-backend-wasm 4.22 registers no `Conv2DBackpropFilter`, so training a CNN on
 * stock wasm needs one registered by the caller). Native backends always use their own kernels.
 *
 * @example
 * ```ts
 * setConvGradients('stock'); // benchmark the engine as shipped
 * ```
 */
export function setConvGradients(mode: 'composed' | 'stock'): void {
  if (mode !== 'composed' && mode !== 'stock') throw new Error(`setConvGradients: expected 'composed' or 'stock', got '${String(mode)}'`);
  gradients = mode;
}

function useStockKernels(): boolean {
  return gradients === 'stock' || NATIVE_BACKENDS.has(tf.getBackend());
}

function checkGeometry(name: string, k: number, g: ConvGeometry): void {
  if (!Number.isInteger(g.stride) || g.stride < 1) throw new Error(`${name}: stride must be a positive integer, got ${g.stride}`);
  if (!Number.isInteger(g.pad) || g.pad < 0 || g.pad > k - 1) {
    throw new Error(`${name}: pad must be an integer in [0, kernel-1=${k - 1}], got ${g.pad}`);
  }
}

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
const padSpec = (t: number, b: number, l: number, r: number): Pad4 => [[0, 0], [t, b], [l, r], [0, 0]];

/** Crops rows/cols from the bottom/right when a padding amount is negative; returns the non-negative pads. */
function cropNegative(x: Tensor4D, padBottom: number, padRight: number): [Tensor4D, number, number] {
  if (padBottom >= 0 && padRight >= 0) return [x, padBottom, padRight];
  const [n, h, w, c] = x.shape;
  const y = tf.slice(x, [0, 0, 0, 0], [n, h + Math.min(0, padBottom), w + Math.min(0, padRight), c]);
  return [y, Math.max(0, padBottom), Math.max(0, padRight)];
}

/** Inserts `stride-1` zeros after every row and column of `dy` (the transposed-convolution upsampling). */
function zeroUpsample(dy: Tensor4D, stride: number): Tensor4D {
  if (stride === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const six = tf.reshape(dy, [n, oh, 1, ow, 1, c]);
  const padded = tf.pad(six, [[0, 0], [0, 0], [0, stride - 1], [0, 0], [0, stride - 1], [0, 0]]);
  return tf.reshape(padded, [n, oh * stride, ow * stride, c]);
}

/**
 * Input gradient of a (depthwise or dense) convolution as a stride-1 convolution of the upsampled
 * output gradient with an already flipped filter.
 */
function inputGrad(
  dy: Tensor4D,
  inH: number,
  inW: number,
  kh: number,
  kw: number,
  g: ConvGeometry,
  conv: (x: Tensor4D, pads: Pad4) => Tensor4D,
): Tensor4D {
  const [, oh, ow] = dy.shape;
  const up = zeroUpsample(dy, g.stride);
  // Rows of `up` beyond s·(OH−1)+1 are zeros; fold them into the bottom padding.
  const padTop = kh - 1 - g.pad;
  const padLeft = kw - 1 - g.pad;
  const padBottom = inH - g.stride * (oh - 1) + g.pad - 1 - (g.stride - 1);
  const padRight = inW - g.stride * (ow - 1) + g.pad - 1 - (g.stride - 1);
  const [src, pb, pr] = cropNegative(up, padBottom, padRight);
  return conv(src, padSpec(padTop, pb, padLeft, pr));
}

/**
 * 2-D convolution, NHWC input `[B,H,W,Ci]`, filter `[KH,KW,Ci,Co]`, with composed gradients.
 *
 * @example
 * ```ts
 * const y = conv2d(tf.ones([1, 8, 8, 3]), tf.ones([3, 3, 3, 4]), { stride: 1, pad: 1 }); // [1,8,8,4]
 * ```
 */
export function conv2d(x: Tensor4D, w: Tensor4D, g: ConvGeometry): Tensor4D {
  const [kh, kw] = w.shape;
  checkGeometry('conv2d', Math.min(kh, kw), g);
  if (x.shape[3] !== w.shape[2]) {
    throw new Error(`conv2d: input has ${x.shape[3]} channels but the filter expects ${w.shape[2]}`);
  }
  const pads = padSpec(g.pad, g.pad, g.pad, g.pad);
  if (useStockKernels()) return tf.conv2d(x, w, g.stride, pads);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x4, w4, save] = args as [Tensor4D, Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tf.conv2d(x4, w4, g.stride, pads),
      gradFunc: (dy: Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [Tensor4D, Tensor4D];
        return [conv2dInputGrad(dy, xs.shape, ws, g), conv2dFilterGrad(xs, dy, ws.shape, g)];
      },
    };
  });
  return f(x, w) as Tensor4D;
}

/** Gradient of {@link conv2d} with respect to its input. */
export function conv2dInputGrad(
  dy: Tensor4D,
  xShape: [number, number, number, number],
  w: Tensor4D,
  g: ConvGeometry,
): Tensor4D {
  const [kh, kw] = w.shape;
  const flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
  return inputGrad(dy, xShape[1], xShape[2], kh, kw, g, (src, pads) => tf.conv2d(src, flipped, 1, pads));
}

/** Gradient of {@link conv2d} with respect to its filter. */
export function conv2dFilterGrad(
  x: Tensor4D,
  dy: Tensor4D,
  wShape: [number, number, number, number],
  g: ConvGeometry,
): Tensor4D {
  const [kh, kw] = wShape;
  const [, h, w] = x.shape;
  const [, oh, ow] = dy.shape;
  const padBottom = g.stride * (oh - 1) + kh - g.pad - h;
  const padRight = g.stride * (ow - 1) + kw - g.pad - w;
  const xt = tf.transpose(x, [3, 1, 2, 0]) as Tensor4D; // [Ci,H,W,B]: batch ← channels, channels ← batch
  const [src, pb, pr] = cropNegative(xt, padBottom, padRight);
  const dyt = tf.transpose(dy, [1, 2, 0, 3]) as Tensor4D; // [OH,OW,B,Co] used as the filter
  const out = tf.conv2d(src, dyt, 1, padSpec(g.pad, pb, g.pad, pr), 'NHWC', g.stride); // [Ci,KH,KW,Co]
  return tf.transpose(out, [1, 2, 0, 3]) as Tensor4D;
}

/**
 * Depthwise 2-D convolution, input `[B,H,W,C]`, filter `[KH,KW,C,1]`, with composed gradients.
 *
 * @example
 * ```ts
 * const y = depthwiseConv2d(tf.ones([1, 8, 8, 3]), tf.ones([3, 3, 3, 1]), { stride: 2, pad: 1 }); // [1,4,4,3]
 * ```
 */
export function depthwiseConv2d(x: Tensor4D, w: Tensor4D, g: ConvGeometry): Tensor4D {
  const [kh, kw, c, mult] = w.shape;
  checkGeometry('depthwiseConv2d', Math.min(kh, kw), g);
  if (mult !== 1) throw new Error(`depthwiseConv2d: channel multiplier must be 1, got ${mult}`);
  if (x.shape[3] !== c) throw new Error(`depthwiseConv2d: input has ${x.shape[3]} channels but the filter expects ${c}`);
  const pads = padSpec(g.pad, g.pad, g.pad, g.pad);
  if (useStockKernels()) return tf.depthwiseConv2d(x, w, g.stride, pads);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x4, w4, save] = args as [Tensor4D, Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tf.depthwiseConv2d(x4, w4, g.stride, pads),
      gradFunc: (dy: Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [Tensor4D, Tensor4D];
        const flipped = tf.reverse(ws, [0, 1]) as Tensor4D;
        const dx = inputGrad(dy, xs.shape[1], xs.shape[2], kh, kw, g, (src, p) => tf.depthwiseConv2d(src, flipped, 1, p));
        return [dx, depthwiseFilterGrad(xs, dy, ws.shape, g)];
      },
    };
  });
  return f(x, w) as Tensor4D;
}

function depthwiseFilterGrad(
  x: Tensor4D,
  dy: Tensor4D,
  wShape: [number, number, number, number],
  g: ConvGeometry,
): Tensor4D {
  const [kh, kw, c] = wShape;
  const [b, , , ] = x.shape;
  const [, oh, ow] = dy.shape;
  const xp = tf.pad(x, padSpec(g.pad, g.pad, g.pad, g.pad));
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const win = tf.stridedSlice(
        xp,
        [0, i, j, 0],
        [b, i + g.stride * (oh - 1) + 1, j + g.stride * (ow - 1) + 1, c],
        [1, g.stride, g.stride, 1],
      );
      taps.push(tf.sum(tf.mul(win, dy), [0, 1, 2]));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, 1]);
}
