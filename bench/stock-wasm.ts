/**
 * The baseline "stock tfjs-wasm 4.22" for `npm run bench:compare`: polynas' networks with the
 * backend's own convolution gradients (`setConvGradients('stock')`), one thread.
 *
 * tfjs-backend-wasm 4.22 registers no `Conv2DBackpropFilter`, so a CNN cannot train on it as
 * shipped. This file registers the straightforward one a user would have to add: the filter
 * gradient as a loop over output pixels accumulating outer products, the same algorithm as the
 * tfjs cpu backend's kernel, run in JavaScript on the values read from the wasm heap.
 */
import { setConvGradients, tf } from '../src/engine/index.js';

interface WasmBackendApi {
  readSync(dataId: unknown): Float32Array;
  makeOutput(shape: number[], dtype: 'float32', memoryOffset: undefined, values: Float32Array): tf.TensorInfo;
}

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

function conv2dBackpropFilter({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number; pad: 'same' | 'valid' | number | ExplicitPad; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number];
  };
  if (dataFormat !== 'NHWC') throw new Error('stock Conv2DBackpropFilter: NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const wasm = backend as WasmBackendApi;
  const xv = wasm.readSync(x.dataId);
  const dyv = wasm.readSync(dy.dataId);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const dw = new Float32Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyOff = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight - top + kh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth - left + kw;
            if (iw < 0 || iw >= inWidth) continue;
            const xOff = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wOff = (kh * filterWidth + kw) * inChannels * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const xval = xv[xOff + ci]!;
              const row = wOff + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dw[row + co]! += xval * dyv[dyOff + co]!;
            }
          }
        }
      }
    }
  }
  return wasm.makeOutput(filterShape, 'float32', undefined, dw);
}

/** Switches polynas to the stock convolution gradients and registers the missing filter gradient. */
export function useStockWasm(): void {
  setConvGradients('stock');
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc });
  }
}
