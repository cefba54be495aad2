import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseLatencyTable } from '../latency/tables.js';
import type { LatencyTable } from '../latency/schema.js';
import { Channel, socketPair } from './channel.js';
import { bucketName } from './evaluate.js';
import { runLocalSession, type PiSession } from './launch.js';
import { DEFAULT_FIXED_POINT, programHash, type PiNode, type PiProgram, type PiSecrets } from '../export/program.js';

/** A measured layer of the calibration network. */
export interface CalibrationPoint {
  op: string;
  /** The size its compute scales with (elements, or multiply-accumulates for linear layers). */
  n: number;
  /** Online wall time per call on the server's clock, ms. */
  ms: number;
  /** The part of it the link explains (flights × one-way delay + the busier direction's bytes / bandwidth), ms. */
  commMs: number;
  bytes: number;
  /** Sequential message flights (the runtime's rounds). */
  flights: number;
}

/** The loopback link the calibration ran on. */
export interface LinkMeasurement {
  /** Median round-trip time of a small message, ms. */
  rttMs: number;
  /** Throughput of large messages, Mbit/s. */
  mbps: number;
}

/** A seeded uniform stream in [−1, 1) for the calibration network's weights. */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/**
 * The network polynas calibrates on: every operator the runtime evaluates at several sizes, in
 * chains as real networks have them, none of them a layer size of CIFAR ResNet-20 or LeNet-5 (so a
 * table calibrated here is checked on networks it has not seen). Weights are small and seeded; only
 * times and sizes matter.
 */
export function calibrationNetwork(): { program: PiProgram; secrets: PiSecrets } {
  const nodes: PiNode[] = [{ op: 'input', shape: [24, 24, 12] }];
  const params: PiSecrets['params'] = {};
  const rand = uniform(17);
  const last = (): number => nodes.length - 1;
  const shape = (): number[] => nodes[last()]!.shape;
  const conv = (k: number, stride: number, cout: number): void => {
    const [h, w, cin] = shape() as [number, number, number];
    const pad = Math.floor(k / 2);
    const out = [Math.floor((h + 2 * pad - k) / stride) + 1, Math.floor((w + 2 * pad - k) / stride) + 1, cout];
    params[String(nodes.length)] = { weight: Array.from({ length: k * k * cin * cout }, () => rand() / Math.sqrt(k * k * cin)), bias: Array.from({ length: cout }, () => rand() * 0.1) };
    nodes.push({ op: 'conv', path: `conv${nodes.length}`, in: last(), k, stride, pad, cin, cout, inShape: shape(), shape: out });
  };
  const act = (op: 'relu' | 'poly', degree = 2, coeffs: 'site' | 'channel' = 'channel'): void => {
    const s = shape();
    if (op === 'relu') nodes.push({ op, path: `act${nodes.length}`, in: last(), shape: s });
    else {
      const m = coeffs === 'site' ? 1 : s[s.length - 1]!;
      params[String(nodes.length)] = { coeffs: Array.from({ length: degree + 1 }, (_, k) => Array.from({ length: m }, () => (k === 1 ? 0.5 : k === 2 ? 0.05 : 0.1) * (1 + 0.1 * rand()))) };
      nodes.push({ op: 'poly', path: `act${nodes.length}`, in: last(), degree, coeffs, shape: s });
    }
  };
  const pool = (op: 'maxpool' | 'avgpool'): void => {
    const [h, w, c] = shape() as [number, number, number];
    nodes.push({ op, path: `pool${nodes.length}`, in: last(), k: 2, stride: 2, pad: 0, inShape: [h, w, c], shape: [h / 2, w / 2, c] });
  };
  const linear = (outF: number): void => {
    const inF = shape().reduce((a, b) => a * b, 1);
    if (shape().length > 1) nodes.push({ op: 'flatten', in: last(), shape: [inF] });
    params[String(nodes.length)] = { weight: Array.from({ length: inF * outF }, () => rand() / Math.sqrt(inF)), bias: new Array<number>(outF).fill(0) };
    nodes.push({ op: 'linear', path: `fc${nodes.length}`, in: last(), inF, outF, shape: [outF] });
  };
  // Chains of convolution → activation as real networks have them (an operator's time depends on
  // what runs around it), at 32,256, 16,128, 8,064, 3,600, 300 and 60 elements.
  conv(1, 1, 56); act('relu'); act('poly');
  conv(3, 1, 28); act('relu'); conv(3, 1, 28); act('relu'); conv(3, 1, 28); act('poly'); conv(3, 1, 28); act('poly');
  conv(3, 2, 56); act('relu'); conv(3, 1, 56); act('relu'); act('poly'); conv(3, 1, 56); act('poly', 2, 'site');
  pool('maxpool');
  conv(3, 1, 100); act('relu'); act('poly', 1);
  pool('avgpool');
  linear(300); act('relu'); act('poly'); act('poly', 1);
  // Small comparison layers, as a mask site keeping a few dozen ReLUs has them.
  linear(60); act('relu'); act('poly');
  linear(10);
  const program: PiProgram = { format: 'polynas-pi-program', version: 1, backbone: 'polynas-calibration', inputShape: [24, 24, 12], numClasses: 10, fixedPoint: DEFAULT_FIXED_POINT, nodes };
  return { program, secrets: { format: 'polynas-pi-secrets', version: 1, programHash: programHash(program), params } };
}

/** The cost-model operator a calibration node measures, and the size its compute scales with. */
function measuredAs(node: PiNode): { op: string; n: number } | undefined {
  const size = node.shape.reduce((a, b) => a * b, 1);
  switch (node.op) {
    case 'conv':
      return { op: 'conv-mac', n: size * node.k * node.k * node.cin };
    case 'linear':
      return { op: 'fc-mac', n: node.inF * node.outF };
    case 'relu':
      return { op: 'relu', n: size };
    case 'poly':
      return { op: `poly${node.degree}`, n: size };
    case 'avgpool':
      return { op: 'avgpool', n: size };
    case 'maxpool':
      return { op: 'maxpool', n: size };
    default:
      return undefined;
  }
}

/** Per-layer points of a calibration session, with the link's share of each layer's time taken out. */
export function calibrationPoints(program: PiProgram, s: PiSession, samples: number, link: LinkMeasurement): CalibrationPoint[] {
  const points: CalibrationPoint[] = [];
  program.nodes.forEach((node, i) => {
    const m = measuredAs(node);
    if (!m) return;
    const b = bucketName(i, node);
    const client = s.client.buckets[b], server = s.server.buckets[b];
    const bytes = ((client?.sent ?? 0) + (server?.sent ?? 0)) / samples;
    const flights = (client?.rounds ?? 0) / samples;
    // Full duplex: both directions move at once; the larger one takes the time.
    const busiest = Math.max(client?.sent ?? 0, server?.sent ?? 0) / samples;
    const commMs = flights * (link.rttMs / 2) + (busiest * 8) / (link.mbps * 1e3);
    // The server's clock: it receives every one-way message, so it never runs ahead, and a layer's
    // time on it is that layer's (the client's next layer would include waiting for the server).
    points.push({ ...m, ms: s.server.nodeMs[i]! / samples, commMs, bytes, flights });
  });
  return points;
}

/**
 * `y = a·n + b` with a, b ≥ 0, fitted on relative errors (weights 1/y²), so that small layers are
 * predicted as well as large ones (one point: through the origin).
 */
export function fitLine(points: readonly { n: number; y: number }[]): { a: number; b: number } {
  if (points.length === 1) return { a: Math.max(0, points[0]!.y / points[0]!.n), b: 0 };
  const w = points.map((p) => 1 / Math.max(p.y, 1e-12) ** 2);
  const sw = w.reduce((s, v) => s + v, 0);
  const mn = points.reduce((s, p, i) => s + w[i]! * p.n, 0) / sw, my = points.reduce((s, p, i) => s + w[i]! * p.y, 0) / sw;
  const sxx = points.reduce((s, p, i) => s + w[i]! * (p.n - mn) ** 2, 0), sxy = points.reduce((s, p, i) => s + w[i]! * (p.n - mn) * (p.y - my), 0);
  let a = sxx > 0 ? sxy / sxx : 0;
  let b = my - a * mn;
  if (b < 0) {
    a = points.reduce((s, p, i) => s + w[i]! * p.n * p.y, 0) / points.reduce((s, p, i) => s + w[i]! * p.n * p.n, 0);
    b = 0;
  }
  if (a < 0) {
    a = 0;
    b = my;
  }
  return { a, b };
}

/**
 * Builds the runtime's latency table from calibration points: per operator the bytes and rounds of
 * polynas' protocols (rounds as round trips: one flight is half a round trip, since both parties
 * send at once) and the compute fitted on this machine (time − link share = a·n + b).
 */
export function calibratedTable(points: readonly CalibrationPoint[], link: LinkMeasurement, meta: { id: string; cpu: string; date: string; samples: number }): LatencyTable {
  const fit = (op: string): { computeSecondsPerUnit: number; fixedSecondsPerCall: number } => {
    const pts = points.filter((p) => p.op === op).map((p) => ({ n: p.n, y: Math.max(0, p.ms - p.commMs) / 1e3 }));
    if (!pts.length) throw new Error(`calibration: no measurement of '${op}'`);
    const { a, b } = fitLine(pts);
    return { computeSecondsPerUnit: a, fixedSecondsPerCall: b };
  };
  const measured = { method: 'measured' as const, verified: true, sources: [{ kind: 'measurement' as const, note: `polynas pi calibrate: ${meta.samples} images through a calibration network (${points.length} layers), ${meta.cpu}` }], date: meta.date };
  const an = (per: 'outElements' | 'inElements' | 'macs', c: Record<string, unknown>, notes: string) => ({ model: 'analytic' as const, per, ...c, provenance: { ...measured, notes } });
  const table = {
    schemaVersion: 1,
    id: meta.id,
    description: `polynas' own 2PC runtime (polynas pi: semi-honest, trusted dealer, Z_2^64, 12 fractional bits), measured on ${meta.cpu}, ${meta.date}. Bytes and rounds are the protocols' (exact, counted by the transport); compute is fitted per operator on a calibration network whose layer sizes differ from ResNet-20's and LeNet-5's. Rounds are round trips: one message flight (both parties sending at once) is half of one.`,
    protocol: { family: 'custom', variant: 'polynas-pi', securityModel: '2pc-with-dealer', ringBits: 64, fracBits: 12, phase: 'online', batch: 1, threads: 1, hardware: { cpu: meta.cpu }, maskPartsConcurrent: true },
    units: { time: 'ms', data: 'B' },
    networks: [
      { name: 'loopback', bandwidthMbps: Math.round(link.mbps), rttMs: Number(link.rttMs.toFixed(4)), fullDuplex: true, provenance: { ...measured, notes: 'median ping-pong of 8-byte frames and the throughput of 1 MB frames between two sockets of one process' } },
      { name: 'LAN', bandwidthMbps: 3000, rttMs: 0.3, fullDuplex: true, provenance: { method: 'code-constant', verified: true, sources: [{ kind: 'repo', repo: 'Alibaba-Gemini-Lab/OpenCheetah', commit: 'f71d4d49ffde81701fc3cc2d887fae62381fb472', path: 'scripts/throttle.sh', lines: '17-19' }] } },
      { name: 'WAN', bandwidthMbps: 400, rttMs: 40, fullDuplex: true, provenance: { method: 'code-constant', verified: true, sources: [{ kind: 'repo', repo: 'Alibaba-Gemini-Lab/OpenCheetah', commit: 'f71d4d49ffde81701fc3cc2d887fae62381fb472', path: 'scripts/throttle.sh', lines: '25-27' }] } },
    ],
    ops: {
      relu: an('outElements', { bytesUp: 232, bytesDown: 232, rounds: 4.5, ...fit('relu'), offline: { bytesDown: 120 } }, "CrypTen's A2B comparison: 9 flights, 232 B each way per element; dealer material 120 B per element"),
      poly2: an('outElements', { bytesUp: 16, bytesDown: 8, rounds: 1, ...fit('poly2'), offline: { bytesDown: 24 } }, 'secret coefficients: open x − r (8 B each way), then c₂·x² with the client sending one masked word: 2 flights'),
      x2act: { model: 'composed', terms: [{ op: 'poly2', multiplier: '1', per: 'outElements' }], provenance: { ...measured, notes: 'the runtime evaluates X2act as the polynomial b + w2·x + s·w1·x²' } },
      poly1: an('outElements', { bytesUp: 8, bytesDown: 8, rounds: 0.5, ...fit('poly1'), offline: { bytesDown: 8 } }, 'secret coefficients: open x − r, the rest local: 1 flight'),
      identity: { model: 'analytic', per: 'outElements', rounds: 0, provenance: { ...measured, notes: 'nothing to do' } },
      'ring-open': an('inElements', { bytesUp: 8, rounds: 0.5 }, 'the client sends its masked share of a linear layer\'s input once per image: 8 B per input element, 1 flight'),
      'conv-mac': an('macs', { ...fit('conv-mac'), offline: { computeSecondsPerUnit: 0 } }, 'a convolution\'s local products on both parties (int64 ring, one thread each) and the dealer\'s'),
      'fc-mac': an('macs', fit('fc-mac'), 'a linear layer\'s local products'),
      conv2d: { model: 'composed', terms: [{ op: 'ring-open', multiplier: '1', per: 'inElements' }, { op: 'conv-mac', multiplier: '1', per: 'macs' }], provenance: { ...measured, notes: 'one-sided Beaver product: the masked input, then local products' } },
      fc: { model: 'composed', terms: [{ op: 'ring-open', multiplier: '1', per: 'inElements' }, { op: 'fc-mac', multiplier: '1', per: 'macs' }], provenance: { ...measured, notes: 'one-sided Beaver product: the masked input, then local products' } },
      dwconv2d: { model: 'unavailable', reason: 'the runtime evaluates dense convolutions only (groups 1)' },
      maxpool: { model: 'composed', terms: [{ op: 'relu', multiplier: 'k*k - 1', per: 'outWindows', layers: 'ceil(log2(k*k))' }], provenance: { ...measured, notes: 'a tree of comparisons max(a, b) = b + ReLU(a − b): k² − 1 per window in ⌈log2 k²⌉ levels' } },
      avgpool: an('outElements', { rounds: 0, ...fit('avgpool') }, 'local sums and a public reciprocal'),
      bn: { model: 'analytic', per: 'outElements', rounds: 0, provenance: { ...measured, notes: 'folded into the convolution before it' } },
      trunc: { model: 'analytic', per: 'outElements', rounds: 0, provenance: { ...measured, notes: 'SecureML local truncation' } },
    },
    provenance: measured,
  };
  return parseLatencyTable(table, `calibrated table ${meta.id}`);
}

/** Measures the loopback link between two sockets of this process. */
export async function measureLoopback(): Promise<LinkMeasurement> {
  const pair = await socketPair();
  const [x, y] = [new Channel(pair[0], 'a'), new Channel(pair[1], 'b')];
  const small = new BigUint64Array(1);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    await Promise.all([x.send(small), y.recv()]);
    await Promise.all([y.send(small), x.recv()]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const big = new BigUint64Array(1 << 17);
  const t0 = performance.now();
  for (let i = 0; i < 64; i++) await Promise.all([x.send(big), y.recv()]);
  const mbps = (64 * big.byteLength * 8) / ((performance.now() - t0) / 1e3) / 1e6;
  x.close();
  y.close();
  return { rttMs: times[times.length >> 1]!, mbps };
}

/**
 * `polynas pi calibrate`: runs the calibration network through a real session on this machine and
 * returns the fitted table with its points (write it with `writeJsonAtomic`; a search recipe's
 * `latency.table` may name the file).
 */
export async function calibrate(opts: { dir: string; samples?: number; sessions?: number; id?: string; date?: string }): Promise<{ table: LatencyTable; points: CalibrationPoint[]; link: LinkMeasurement }> {
  const samples = opts.samples ?? 5;
  const link = await measureLoopback();
  const { program, secrets } = calibrationNetwork();
  const inSize = program.inputShape.reduce((a, b) => a * b, 1);
  const rand = uniform(5);
  const images = Float32Array.from({ length: samples * inSize }, () => rand());
  // Several sessions; per layer the median time (three processes share the cores, so one session's
  // times scatter by tens of percent).
  const runs: CalibrationPoint[][] = [];
  for (let r = 0; r < (opts.sessions ?? 5); r++) {
    const s = await runLocalSession({ program, secrets, images, samples, batch: 1, dir: join(opts.dir, 'calibration') });
    runs.push(calibrationPoints(program, s, samples, link));
  }
  const median = (v: number[]): number => v.sort((a, b) => a - b)[v.length >> 1]!;
  const points = runs[0]!.map((p, i) => ({ ...p, ms: median(runs.map((run) => run[i]!.ms)) }));
  const cpu = `${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} cores)`;
  const table = calibratedTable(points, link, { id: opts.id ?? 'polynas-pi-dealer', cpu, date: opts.date ?? new Date().toISOString().slice(0, 10), samples: samples * runs.length });
  return { table, points, link };
}
