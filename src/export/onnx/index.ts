import type { Backbone } from '../../backbones/backbone.js';
import { POLYNAS_VERSION } from '../../io/version.js';
import { withDeployedForm } from '../deploy.js';
import { lowerNetwork, PiUnsupportedError, programHash, type PiProgram, type PiSecrets } from '../program.js';
import { channelKeep, onnxEncoding, pathOf, type EncodeContext } from './encodings.js';
import { decodeModel, OnnxGraph } from './graph.js';
import { checkOnnxProfile, onnxProfile, opHistogram, type OnnxProfile } from './profiles.js';

export { registerOnnxEncoding, type EncodeContext } from './encodings.js';
export { ONNX_PROFILES, checkOnnxProfile, onnxProfile, opHistogram, type OnnxProfile } from './profiles.js';
export { decodeModel } from './graph.js';

/** Options of {@link programToOnnx} and {@link exportOnnx}. */
export interface OnnxExportOptions {
  profile: OnnxProfile['id'];
  /** Write polynomial coefficients as `Constant`s: cheaper in CrypTen, but revealed to the client. */
  publicCoefficients?: boolean;
}

/** An exported model and what a user should know about it. */
export interface OnnxExport {
  bytes: Uint8Array;
  profile: OnnxProfile['id'];
  opset: number;
  histogram: Record<string, number>;
  /** ReLUs the network evaluates in polynas' runtime (kept mask elements included), and the masks. */
  relus: number;
  /** ReLUs the importer evaluates: a pixel mask's ReLU runs on its whole tensor there. */
  relusInImporter: number;
  masks: { site: string; kept: number; total: number; granularity: 'channel' | 'pixel' }[];
  warnings: string[];
  metadata: Record<string, string>;
}

function maskSummary(program: PiProgram): OnnxExport['masks'] {
  return program.nodes.flatMap((n) => (n.op === 'mask' ? [{ site: n.path, kept: n.kept, total: n.shape.reduce((a, b) => a * b, 1), granularity: channelKeep(n) ? ('channel' as const) : ('pixel' as const) }] : []));
}

function reluCount(program: PiProgram): number {
  return program.nodes.reduce((a, n) => a + (n.op === 'relu' ? n.shape.reduce((p, q) => p * q, 1) : n.op === 'mask' ? n.kept : 0), 0);
}

/** Encodes every node; a node whose encoding needs an op outside the profile is refused, naming the site. */
function encodeNodes(cx: EncodeContext): string {
  cx.program.nodes.forEach((node, i) => {
    const encode = onnxEncoding(node.op);
    if (!encode) throw new PiUnsupportedError(`ONNX export (${cx.profile.id} profile): no encoding for '${pathOf(node, i)}' (operator '${node.op}')`);
    const before = cx.g.nodes.length;
    cx.values.push(encode(node, i, cx));
    const bad = cx.g.nodes.slice(before).find((n) => !cx.profile.ops.has(n.opType!));
    if (bad) throw new PiUnsupportedError(`ONNX export: '${pathOf(node, i)}' (operator '${node.op}') has no encoding in the ${cx.profile.id} profile: it needs ${bad.opType}, which that importer lacks (${cx.profile.source})`);
  });
  return cx.values[cx.values.length - 1]!;
}

/**
 * Writes a lowered network (the 2PC runtime's program and its parameters) as an ONNX `ModelProto`
 * that the profile's importer accepts: one NCHW float input `input` with a symbolic batch (pixels in
 * [0, 1]; the normalization is the first nodes), one output `logits`, BatchNorm folded, weights as
 * little-endian float32 initializers. The model is checked against the profile before it is returned.
 */
export function programToOnnx(program: PiProgram, secrets: PiSecrets, opts: OnnxExportOptions): OnnxExport {
  const profile = onnxProfile(opts.profile);
  if (secrets.programHash !== programHash(program)) throw new Error(`ONNX export: the parameters (secret part, for ${secrets.programHash.slice(0, 16)}…) do not belong to this program (${programHash(program).slice(0, 16)}…)`);
  program.nodes.forEach((n, i) => {
    const needs = n.op === 'conv' || n.op === 'linear' ? 'weight' : n.op === 'poly' || n.op === 'mask' ? 'coeffs' : undefined;
    if (needs && !secrets.params[String(i)]?.[needs]) throw new Error(`ONNX export: '${pathOf(n, i)}' (${n.op}) has no ${needs} in the parameters`);
  });
  const cx: EncodeContext = { g: new OnnxGraph(), profile, program, values: [], params: secrets.params, publicCoefficients: opts.publicCoefficients ?? false };
  cx.g.name('input');
  cx.g.name('logits');
  const last = encodeNodes(cx);
  // The last value becomes the graph's one output, `logits` (a name no encoding can take).
  const producer = cx.g.nodes.find((n) => n.output?.includes(last));
  if (!producer || cx.g.nodes.some((n) => n !== producer && n.input?.includes(last))) throw new PiUnsupportedError(`ONNX export: the network's last value ('${last}') is not the output of a node of its own`);
  producer.output = producer.output!.map((o) => (o === last ? 'logits' : o));
  const [h, w, c] = program.inputShape as [number, number, number];
  const masks = maskSummary(program);
  const relus = reluCount(program);
  const pixel = masks.filter((m) => m.granularity === 'pixel');
  const relusInImporter = relus + pixel.reduce((a, m) => a + m.total - m.kept, 0);
  const warnings = pixel.length
    ? [`${pixel.length} pixel mask${pixel.length > 1 ? 's' : ''} (${pixel.map((m) => m.site).join(', ')}) written exactly as m⊙ReLU(x) + (1−m)⊙p(x): the ${profile.id} importer evaluates ReLU on every element, ${relusInImporter} ReLUs instead of ${relus}; only polynas' own runtime (polynas pi) realizes a pixel mask's saving`]
    : [];
  const metadata: Record<string, string> = {
    'polynas.version': POLYNAS_VERSION, 'polynas.backbone': program.backbone, 'polynas.profile': profile.id,
    'polynas.relus': String(relus), 'polynas.relus_in_importer': String(relusInImporter), 'polynas.masks': JSON.stringify(masks),
    'polynas.coefficients': cx.publicCoefficients ? 'public (Constant nodes)' : 'secret (initializers)',
    'polynas.input': program.normalization ? 'NCHW float32 pixels in [0, 1]; the normalization is in the graph' : 'NCHW float32 pixels in [0, 1]',
  };
  const bytes = cx.g.encode({
    input: 'input', inputDims: ['N', c, h, w], output: 'logits', outputDims: ['N', program.numClasses], opset: profile.opset, graphName: `polynas_${program.backbone}`,
    metadata, producerVersion: POLYNAS_VERSION, docString: `polynas ${program.backbone}, ${relus} ReLUs, ${profile.id} profile`,
  });
  const model = decodeModel(bytes);
  const problems = checkOnnxProfile(model, profile);
  if (problems.length) throw new Error(`ONNX export produced a model the ${profile.id} profile rejects:\n  ${problems.join('\n  ')}`);
  return { bytes, profile: profile.id, opset: profile.opset, histogram: opHistogram(model), relus, relusInImporter, masks, warnings, metadata };
}

/**
 * Exports a network in its deployed form (searched decisions applied) as ONNX for a profile.
 *
 * @example
 * ```ts
 * const { net } = await loadArchitecture('runs/s/architecture.json');
 * const onnx = exportOnnx(net, { profile: 'crypten', normalization: arch.normalization });
 * writeFileSync('model.onnx', onnx.bytes);
 * ```
 */
export function exportOnnx(net: Backbone, opts: OnnxExportOptions & { normalization?: { mean: number[]; std: number[] } }): OnnxExport {
  net.eval();
  const { program, secrets } = withDeployedForm(net, () => lowerNetwork(net, { maxDegree: Infinity, ...(opts.normalization ? { normalization: opts.normalization } : {}) }));
  return programToOnnx(program, secrets, opts);
}
