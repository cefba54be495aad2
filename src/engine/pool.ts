/**
 * Max pooling with a composed gradient. The WebAssembly backend's `MaxPoolGrad` kernel of tfjs
 * 4.22 routes some gradients to the wrong input (on a [2,4,4,3] input with a 2×2 window, 22 of the
 * 24 maxima receive gradient), so polynas builds the backward pass from slices instead: for each
 * window tap, the positions that equal the window maximum (the first such tap on ties, as the
 * stock kernels do) receive `dy`, scattered back by zero-upsampling and padding.
 */
import { NATIVE_BACKENDS } from './conv.js';
import { tf, type Tensor4D } from './tf.js';

const NEG = -3.4e38;

/**
 * `tf.maxPool` with square window `k`, stride `s` and symmetric padding `pad` (padded positions
 * never win), differentiable on every backend.
 *
 * @example
 * ```ts
 * maxPool2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, 2, 2, 0).shape; // [1, 2, 2, 2]
 * ```
 */
export function maxPool2d(x: Tensor4D, k: number, s: number, pad: number): Tensor4D {
  if (NATIVE_BACKENDS.has(tf.getBackend())) return tf.maxPool(x, k, s, pad);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, save] = args as [Tensor4D, tf.GradSaveFunc];
    const y = tf.maxPool(xi, k, s, pad);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [Tensor4D, Tensor4D];
        return maxPoolInputGrad(xs, ys, dy, k, s, pad);
      },
    };
  });
  return f(x) as Tensor4D;
}

function maxPoolInputGrad(x: Tensor4D, y: Tensor4D, dy: Tensor4D, k: number, s: number, pad: number): Tensor4D {
  const [b, h, w, c] = x.shape;
  if (k === s && pad === 0 && h % k === 0 && w % k === 0) return tiledMaxPoolInputGrad(x, y, dy, k);
  const [, oh, ow] = y.shape;
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  const xp = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], NEG) : x;
  let claimed: tf.Tensor = tf.zerosLike(y);
  let dxp: tf.Tensor = tf.zeros([b, hp, wp, c]);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const tap = tf.stridedSlice(xp, [0, i, j, 0], [b, i + s * (oh - 1) + 1, j + s * (ow - 1) + 1, c], [1, s, s, 1]);
      const hit = tf.mul(tf.cast(tf.equal(tap, y), 'float32'), tf.sub(1, claimed));
      claimed = tf.add(claimed, hit);
      dxp = tf.add(dxp, scatterTap(tf.mul(hit, dy) as Tensor4D, s, i, j, hp, wp));
    }
  }
  return (pad > 0 ? tf.slice(dxp, [0, pad, pad, 0], [b, h, w, c]) : dxp) as Tensor4D;
}

/**
 * Non-overlapping windows that tile the input (k = s, no padding, sizes divisible by k), with
 * whole-tensor kernels only: the window maxima and `dy` are upsampled by nearest-neighbour resizing;
 * among the positions equal to their window's maximum, the one with the lowest in-window rank
 * (row-major, as the stock kernels choose) is found by a max-pool over negated ranks.
 */
function tiledMaxPoolInputGrad(x: Tensor4D, y: Tensor4D, dy: Tensor4D, k: number): Tensor4D {
  const [, h, w] = x.shape;
  const up = (t: Tensor4D) => tf.image.resizeNearestNeighbor(t, [h, w]);
  const isMax = tf.cast(tf.equal(x, up(y)), 'float32');
  const rank = tf.tensor4d(Float32Array.from({ length: h * w }, (_, p) => (Math.floor(p / w) % k) * k + ((p % w) % k)), [1, h, w, 1]);
  const big = k * k;
  const score = tf.add(tf.mul(isMax, tf.sub(rank, big)), big) as Tensor4D; // rank where max, k² elsewhere
  const first = tf.neg(tf.maxPool(tf.neg(score) as Tensor4D, k, k, 0)) as Tensor4D;
  const hit = tf.cast(tf.equal(score, up(first)), 'float32');
  return tf.mul(hit, up(dy)) as Tensor4D;
}

/** Transpose of the strided slice starting at (i, j): places `v[oy,ox]` at `(i + s·oy, j + s·ox)`. */
function scatterTap(v: Tensor4D, s: number, i: number, j: number, hp: number, wp: number): tf.Tensor {
  const [b, oh, ow, c] = v.shape;
  let up: tf.Tensor = v;
  if (s > 1) {
    up = tf.reshape(tf.pad(tf.reshape(v, [b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, s - 1], [0, 0], [0, s - 1], [0, 0]]), [b, oh * s, ow * s, c]);
  }
  const uh = up.shape[1]!;
  const uw = up.shape[2]!;
  // Crop or pad the upsampled block so that it spans exactly [i, hp) × [j, wp).
  const keepH = Math.min(uh, hp - i);
  const keepW = Math.min(uw, wp - j);
  const cropped = keepH < uh || keepW < uw ? tf.slice(up, [0, 0, 0, 0], [b, keepH, keepW, c]) : up;
  return tf.pad(cropped, [[0, 0], [i, hp - i - keepH], [j, wp - j - keepW], [0, 0]]);
}
