import { basename } from 'node:path';
import { tf } from '../engine/tf.js';
import { withDeployedForm } from '../export/deploy.js';
import { exportOnnx, type OnnxExport, type OnnxExportOptions } from '../export/onnx/index.js';
import { nhwcToNchw, runOnnx } from '../export/onnx/runtime.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { argmax, firstTestImages, loadModel, testImages } from './pi.js';

/** What ONNX Runtime computed next to polynas, on the first test images. */
export interface OnnxCheck {
  images: number;
  /** Largest |ONNX Runtime − polynas| over all logits, and that divided by the largest |logit|. */
  maxAbsDiff: number;
  relDiff: number;
  top1Agreement: number;
  /** Whether the logits differ between images at all (a collapsed network gives one row for every input, and the check then proves little). */
  inputDependent: boolean;
}

/** The file written, its facts, and the check. */
export interface OnnxFileReport extends Omit<OnnxExport, 'bytes'> {
  file: string;
  source: string;
  sizeBytes: number;
  check?: OnnxCheck;
}

async function check(model: Awaited<ReturnType<typeof loadModel>>, bytes: Uint8Array, images: number, dataDir?: string): Promise<OnnxCheck> {
  const { net } = model;
  const { test, n, batch } = await firstTestImages(model, images, dataDir);
  const [h, w, c] = test.shape as [number, number, number];
  const ours = tf.tidy(() => withDeployedForm(net, () => net.forward(tf.tensor(batch.x, [n, h, w, c])).arraySync() as number[][]));
  const theirs = await runOnnx(bytes, nhwcToNchw(testImages(test, n), n, h, w, c), [n, c, h, w]);
  let maxAbsDiff = 0, scale = 0, agree = 0;
  ours.forEach((row, i) => {
    agree += argmax(row) === argmax(theirs[i]!) ? 1 : 0;
    row.forEach((v, j) => {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - theirs[i]![j]!));
      scale = Math.max(scale, Math.abs(v));
    });
  });
  const inputDependent = ours.some((row) => row.some((v, j) => Math.abs(v - ours[0]![j]!) > 1e-6 * scale));
  return { images: n, maxAbsDiff, relDiff: maxAbsDiff / scale, top1Agreement: agree / n, inputDependent };
}

/**
 * Writes an architecture (or a training run's all-ReLU network) as ONNX for an importer profile,
 * with `<file>.json` beside it (op histogram, ReLU count, masks, warnings, the check), and, with
 * `verify > 0`, runs it in ONNX Runtime on that many test images against polynas' own forward pass.
 * A check whose relative difference exceeds 1e-4 fails the export (the file is not written).
 */
export async function writeOnnx(opts: OnnxExportOptions & { model: string; file: string; verify?: number; dataDir?: string }): Promise<OnnxFileReport> {
  const model = await loadModel(opts.model);
  try {
    const out = exportOnnx(model.net, { profile: opts.profile, ...(opts.publicCoefficients ? { publicCoefficients: true } : {}), ...(model.normalization ? { normalization: model.normalization } : {}) });
    const verified = opts.verify ? await check(model, out.bytes, opts.verify, opts.dataDir) : undefined;
    if (verified && !(verified.relDiff <= 1e-4)) throw new Error(`ONNX Runtime's logits differ from polynas' by ${verified.maxAbsDiff.toExponential(2)} (${verified.relDiff.toExponential(2)} of their scale) on ${verified.images} images; ${opts.file} not written`);
    const { bytes, ...facts } = out;
    const report: OnnxFileReport = { file: basename(opts.file), source: opts.model, sizeBytes: bytes.length, ...facts, ...(verified ? { check: verified } : {}) };
    writeFileAtomic(opts.file, bytes);
    writeJsonAtomic(`${opts.file}.json`, report);
    return report;
  } finally {
    model.net.dispose();
  }
}
