import type * as Ort from 'onnxruntime-web';

/**
 * Runs an ONNX model in ONNX Runtime (its WebAssembly build, `onnxruntime-web`, which runs in Node
 * without an install step) on NCHW float32 images; returns the `logits`, one row per image.
 * `onnxruntime-web` is an optional peer dependency: without it, a clear error says how to install it.
 */
export async function runOnnx(bytes: Uint8Array, images: Float32Array, dims: [number, number, number, number]): Promise<number[][]> {
  let ort: typeof Ort;
  try {
    ort = await import('onnxruntime-web');
  } catch {
    throw new Error("checking an ONNX export needs ONNX Runtime: npm install onnxruntime-web");
  }
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', images, dims) });
    const logits = out.logits!;
    const [n, k] = logits.dims as [number, number];
    const data = logits.data as Float32Array;
    return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * k, (i + 1) * k)));
  } finally {
    await session.release();
  }
}

/** NHWC float32 images (`[n,h,w,c]`) in NCHW order. */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++) out[((i * c + ch) * h + y) * w + xx] = x[((i * h + y) * w + xx) * c + ch]!;
  return out;
}
