import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from '../io/json.js';
import type { SiteChoice } from '../latency/network.js';
import { parseTrainRecipe, type TrainRecipe } from '../spec/recipe.js';
import type { Backbone } from '../backbones/backbone.js';
import { makeBatch, type Normalization } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { tf } from '../engine/tf.js';
import { loadArchitecture } from '../export/architecture.js';
import { withDeployedForm } from '../export/deploy.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { writeFigure } from '../report/plot.js';
import type * as vl from 'vega-lite';
import { networkCost, resolveNetwork, type NetworkCost } from '../latency/cost.js';
import { costLayers } from '../latency/network.js';
import { loadLatencyTable } from '../latency/tables.js';
import type { LatencyTable } from '../latency/schema.js';
import { NamespaceLab } from '../pi/netns.js';
import { runLocalSession, type PiSession } from '../pi/launch.js';
import { DEFAULT_FIXED_POINT, lowerNetwork, type PiProgram } from '../export/program.js';
import { referenceLogits } from '../pi/reference.js';
import { bucketName } from '../pi/evaluate.js';
import { emptyTraffic, type Traffic } from '../pi/channel.js';
import { costChoices } from '../supernet/gate.js';
import { embeddedRecipe } from './finetune.js';
import { loadRecipeData, loadTrainedModel } from './train.js';

/** One layer of a private-inference run: what it cost, next to what the latency table predicts. */
export interface PiLayerRow {
  path: string;
  op: string;
  /** Online wall time per image on the server's clock (it receives every one-way message, so it never runs ahead), ms. */
  ms: number;
  /** Bytes per image, server → client and client → server. */
  bytesServerToClient: number;
  bytesClientToServer: number;
  rounds: number;
  /** Dealer → client material per image, bytes. */
  offlineBytes: number;
  predicted?: { ms: number | null; bytes: number; rounds: number; modelled: boolean };
}

/** What `polynas pi run` measured. */
export interface PiRunReport {
  architecture: string;
  backbone: string;
  samples: number;
  batch: number;
  fixedPoint: PiProgram['fixedPoint'];
  precision: PrecisionCheck;
  table: string;
  network?: string;
  /** The client–server link the times were measured on: loopback, or a relay shaped like `network`. */
  link: 'loopback' | { rttMs: number; bandwidthMbps?: number; kind?: 'relay' | 'netns' };
  layers: PiLayerRow[];
  total: { onlineMs: number; bytes: number; rounds: number; offlineBytes: number; setupBytes: number; setupMs: number; predictedMs: number | null; predictedBytes: number; predictedRounds: number };
  /** Other tables' predictions asked for (`predict`). */
  predictions?: PiPrediction[];
  agreement: { referenceTop1: number; floatTop1: number; labelTop1Secure: number; labelTop1Float: number; maxReferenceUlps: number; maxFloatError: number };
}

/** How close the fixed point comes to failing, from the float network's largest activation on the run's images. */
export interface PrecisionCheck {
  /** Largest |value| of any site's output or the logits, in float. */
  maxAbs: number;
  /** Bits a value needs at the widest scale (f + fw) before a truncation, sign included. */
  bitsUsed: number;
  /** Upper bound on the expected number of failed truncations per image (each one is ≈ 2^{-f} wrong, or wraps). */
  failuresPerImage: number;
}

/** `logits`: the float network's logits on the run's images (computed once, also for the agreement). */
function precisionCheck(program: PiProgram, net: Backbone, x: tf.Tensor, logits: readonly number[][]): PrecisionCheck {
  const { frac: f, weightFrac: fw } = program.fixedPoint;
  const ranges = withDeployedForm(net, () => net.activationRanges(x));
  const maxAbs = Math.max(...logits.flat().map(Math.abs), ...ranges.map((r) => r.absMax));
  // A truncation's input holds a value at scale f + fw; conv sums may reach a few times the largest
  // output, so the check allows 4× headroom.
  const bitsUsed = Math.ceil(Math.log2(4 * maxAbs + 1)) + f + fw + 1;
  const truncated = program.nodes.reduce((a, n) => a + (['conv', 'linear', 'poly', 'mask', 'avgpool', 'gap'].includes(n.op) ? n.shape.reduce((p, q) => p * q, 1) : 0), 0);
  const failuresPerImage = truncated * 2 ** (bitsUsed - 64);
  if (!Number.isFinite(maxAbs) || bitsUsed > 62) throw new Error(`fixed point: the network's largest activation (${maxAbs}) needs ${bitsUsed} bits at ${f + fw} fractional bits, more than the 64-bit ring holds safely; lower --frac or --weight-frac`);
  return { maxAbs, bitsUsed, failuresPerImage };
}

/** The index of a row's largest value (a predicted class). */
export const argmax = (v: readonly number[]): number => v.indexOf(Math.max(...v));

/**
 * The first `samples` test images of an exported model's dataset (from `dataDir` when given), with
 * the normalized batch the float network takes (the model's normalization, or none).
 */
export async function firstTestImages(model: Pick<Awaited<ReturnType<typeof loadModel>>, 'normalization' | 'dataset'>, samples: number, dataDir?: string) {
  if (dataDir) model.dataset.dir = dataDir;
  const { test } = await loadRecipeData({ seed: 0, dataset: model.dataset });
  const n = Math.min(samples, test.labels.length);
  const norm: Normalization = model.normalization ?? { mean: new Array<number>(test.shape[2]).fill(0), std: new Array<number>(test.shape[2]).fill(1) };
  return { test, n, norm, batch: makeBatch(test, Int32Array.from({ length: n }, (_, i) => i), norm) };
}

/** A bucket's traffic (zero when the role never used it). */
function traffic(buckets: Record<string, Traffic>, name: string): Traffic {
  return buckets[name] ?? emptyTraffic();
}

/** Measured rows per node, joined with the table's prediction by layer path. */
function layerRows(program: PiProgram, s: PiSession, samples: number, batches: number, predicted: NetworkCost): PiLayerRow[] {
  const byPath = new Map<string, { ms: number | null; bytes: number; rounds: number; modelled: boolean }>();
  for (const l of predicted.perLayer) {
    const p = byPath.get(l.path) ?? { ms: predicted.unit === 'ms' ? 0 : null, bytes: 0, rounds: 0, modelled: true };
    if (p.ms !== null) p.ms += l.time;
    p.bytes += l.bytes;
    p.rounds += l.rounds;
    p.modelled &&= l.modelled;
    byPath.set(l.path, p);
  }
  const rows: PiLayerRow[] = [];
  program.nodes.forEach((node, i) => {
    if (node.op === 'input' || node.op === 'flatten' || node.op === 'add') return;
    const b = bucketName(i, node);
    const server = traffic(s.server.buckets, b), client = traffic(s.client.buckets, b), offline = traffic(s.client.offline ?? {}, b);
    const pred = byPath.get(node.path);
    rows.push({
      // The server's clock attributes time to the layer that spends it (see calibrationPoints).
      path: node.path, op: node.op, ms: s.server.nodeMs[i]! / samples,
      bytesServerToClient: server.sent / samples, bytesClientToServer: client.sent / samples, rounds: client.rounds / batches,
      offlineBytes: offline.received / samples, ...(pred ? { predicted: pred } : {}),
    });
  });
  return rows;
}

/** Options of {@link privateInference}. */
export interface PrivateInferenceOptions {
  /** An exported `architecture.json` (its weights file beside it), or a training run's folder. */
  architecture: string;
  /** Test images to run (the first N of the test split). */
  samples: number;
  batch?: number;
  dataDir?: string;
  /** Where `pi/` goes: public and secret parts, role reports, `pi-run.json`, `pi-layers.csv`. */
  out: string;
  /** Latency table to compare with (default: the one the architecture was exported with, else crypten-2pc-dealer). */
  table?: string;
  network?: string;
  /** Fractional bits of activations (default 12) and of weights and coefficients (default 16). */
  frac?: number;
  weightFrac?: number;
  /** Shape the client–server link like the table's `network` profile (a delaying relay; see `Relay`). */
  shape?: boolean;
  /**
   * Run the three roles in three network namespaces joined by a bridge, each interface rate-limited by
   * the kernel at the profile's bandwidth (root only; see `NamespaceLab`). The prediction then uses
   * that bandwidth and the links' measured RTT, since this kernel cannot add delay.
   */
  netns?: boolean;
  /** Override the profile's bandwidth (Mbit/s) or RTT (ms) in the prediction (and the shaped link). */
  bandwidthMbps?: number;
  rttMs?: number;
  timeoutMs?: number;
  /** More (table, network) predictions to put in the report beside the main one. */
  predict?: { table: string; network?: string }[];
}

/** One latency table's prediction of the whole network. */
export interface PiPrediction {
  table: string;
  network?: string;
  totalMs: number | null;
  bytes: number;
  rounds: number;
  caveats: string[];
}

/** An exported architecture (searched decisions), or a training run's folder (the all-ReLU network). */
export async function loadModel(path: string): Promise<{ net: Backbone; choices: Record<string, SiteChoice>; normalization?: Normalization; dataset: TrainRecipe['dataset']; table?: string }> {
  if (path.endsWith('.json')) {
    const { arch, net, gates } = await loadArchitecture(path);
    const recipe = embeddedRecipe(arch, path);
    return { net, choices: costChoices(gates), ...(arch.normalization ? { normalization: arch.normalization } : {}), dataset: recipe.dataset, ...(arch.latency ? { table: arch.latency.table } : {}) };
  }
  const { model, meta } = loadTrainedModel(path);
  const recorded = join(path, 'recipe.json');
  if (!existsSync(recorded)) throw new Error(`${path}: no recipe.json beside the weights, so the dataset is unknown`);
  const recipe = parseTrainRecipe(readJsonFile(recorded, 'recipe'), recorded);
  return { net: model, choices: {}, ...(meta.normalization ? { normalization: meta.normalization } : {}), dataset: recipe.dataset };
}

export function testImages(ds: ImageDataset, n: number): Float32Array {
  return Float32Array.from(ds.images.subarray(0, n * ds.shape.reduce((a, b) => a * b, 1)), (v) => v / 255);
}

type SessionOptions = Parameters<typeof runLocalSession>[0];

/** Runs the session on loopback, through a shaped relay, or in rate-limited namespaces; and the network the prediction should use. */
async function runPlaced(opts: PrivateInferenceOptions, table: LatencyTable, base: SessionOptions): Promise<{ session: PiSession; link?: PiRunReport['link'] & object; predictOn: Parameters<typeof networkCost>[2] }> {
  const overrides = { ...(opts.bandwidthMbps !== undefined ? { bandwidthMbps: opts.bandwidthMbps } : {}), ...(opts.rttMs !== undefined ? { rttMs: opts.rttMs } : {}) };
  const profile = opts.network || opts.bandwidthMbps !== undefined || opts.rttMs !== undefined ? resolveNetwork(table, { ...(opts.network ? { network: opts.network } : {}), ...overrides }) : undefined;
  const predictOn = { ...(opts.network ? { network: opts.network } : {}), ...overrides };
  if (opts.netns && opts.rttMs !== undefined) throw new Error('--netns measures the links\' RTT (this kernel cannot add delay); --rtt does not go with it');
  if ((opts.shape || opts.netns) && !profile) throw new Error(opts.netns ? '--netns needs a bandwidth: --network (a profile of the table) or --bandwidth' : '--shape needs a network profile (--network, or --bandwidth and --rtt)');
  if (opts.shape && opts.netns) throw new Error('--shape and --netns do not go together');
  if (opts.netns) {
    const lab = NamespaceLab.create(profile!.bandwidthMbps ? { rateMbps: profile!.bandwidthMbps } : {});
    // A stopped run removes its namespaces too (the roles inside lose their links and end on their timeout).
    const onSignal = (sig: NodeJS.Signals) => (lab.destroy(), process.kill(process.pid, sig));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const rttMs = await lab.rttMs();
      const session = await runLocalSession({ ...base, placement: lab.placement });
      return { session, link: { kind: 'netns', rttMs, ...(profile!.bandwidthMbps ? { bandwidthMbps: profile!.bandwidthMbps } : {}) }, predictOn: { ...predictOn, rttMs } };
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      lab.destroy();
    }
  }
  const link = opts.shape ? { rttMs: profile!.rttMs, ...(profile!.bandwidthMbps ? { bandwidthMbps: profile!.bandwidthMbps } : {}) } : undefined;
  const session = await runLocalSession({ ...base, ...(link ? { link } : {}) });
  return { session, ...(link ? { link: { kind: 'relay' as const, ...link } } : {}), predictOn };
}

/**
 * Runs an exported network under 2PC on this machine (dealer, server and client as three processes
 * over loopback TCP) on the first `samples` test images, and reports per layer the measured online
 * time, bytes each way, rounds and offline material next to the latency table's prediction, with
 * the agreement of the secure logits with an independent fixed-point reference and with the float
 * network.
 */
export async function privateInference(opts: PrivateInferenceOptions): Promise<PiRunReport> {
  const model = await loadModel(opts.architecture);
  const { net, choices, table: exportedTable } = model;
  const { test, n: samples, norm, batch } = await firstTestImages(model, opts.samples, opts.dataDir);
  net.eval();
  const fixedPoint = { ...DEFAULT_FIXED_POINT, ...(opts.frac !== undefined ? { frac: opts.frac } : {}), ...(opts.weightFrac !== undefined ? { weightFrac: opts.weightFrac } : {}) };
  const { program, secrets } = withDeployedForm(net, () => lowerNetwork(net, { normalization: norm, fixedPoint }));
  const x = tf.tensor(batch.x, [samples, ...test.shape]);
  const floatLogits = tf.tidy(() => withDeployedForm(net, () => net.forward(x).arraySync() as number[][]));
  const precision = precisionCheck(program, net, x, floatLogits);
  x.dispose();
  const images = testImages(test, samples);
  const table = loadLatencyTable(opts.table ?? exportedTable ?? 'crypten-2pc-dealer');
  const { session, link, predictOn } = await runPlaced(opts, table, { program, secrets, images, samples, batch: opts.batch ?? 1, dir: join(opts.out, 'pi'), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  const ref = referenceLogits(program, secrets, images, samples);
  const layers = costLayers(net, choices);
  const predicted = networkCost(layers, table, predictOn);
  const predictions: PiPrediction[] = (opts.predict ?? []).map((p) => {
    const c = networkCost(layers, loadLatencyTable(p.table), p.network ? { network: p.network } : {});
    return { table: c.table, ...(c.network ? { network: c.network.name } : {}), totalMs: c.totalMs, bytes: c.commBytes, rounds: c.rounds, caveats: c.caveats };
  });
  net.dispose();
  const report = summarize(opts, program, session, { ...(link ? { link } : {}), ref, floatLogits, labels: test.labels, samples, precision, predicted });
  if (predictions.length) report.predictions = predictions;
  writeJsonAtomic(join(opts.out, 'pi-run.json'), report);
  writeFileAtomic(join(opts.out, 'pi-layers.csv'), layersCsv(report.layers));
  await writeFigure(join(opts.out, 'pi-layers'), piLayersSpec(report));
  return report;
}

function summarize(opts: PrivateInferenceOptions, program: PiProgram, s: PiSession, r: { link?: { rttMs: number; bandwidthMbps?: number }; ref: number[][]; floatLogits: number[][]; labels: Int32Array; samples: number; precision: PrecisionCheck; predicted: NetworkCost }): PiRunReport {
  const secure = s.client.logits!;
  const n = r.samples;
  let refAgree = 0, floatAgree = 0, labelSecure = 0, labelFloat = 0, maxUlps = 0, maxFloat = 0;
  for (let i = 0; i < n; i++) {
    const top = argmax(secure[i]!);
    refAgree += top === argmax(r.ref[i]!) ? 1 : 0;
    floatAgree += top === argmax(r.floatLogits[i]!) ? 1 : 0;
    labelSecure += top === r.labels[i] ? 1 : 0;
    labelFloat += argmax(r.floatLogits[i]!) === r.labels[i] ? 1 : 0;
    secure[i]!.forEach((v, j) => {
      maxUlps = Math.max(maxUlps, Math.abs(v - r.ref[i]![j]!) * 2 ** program.fixedPoint.frac);
      maxFloat = Math.max(maxFloat, Math.abs(v - r.floatLogits[i]![j]!));
    });
  }
  const layers = layerRows(program, s, n, Math.ceil(n / (opts.batch ?? 1)), r.predicted);
  const sum = (f: (l: PiLayerRow) => number): number => layers.reduce((a, l) => a + f(l), 0);
  const setup = traffic(s.server.buckets, 'setup');
  return {
    architecture: opts.architecture, backbone: program.backbone, samples: n, batch: opts.batch ?? 1, fixedPoint: program.fixedPoint, precision: r.precision,
    table: r.predicted.table, ...(r.predicted.network ? { network: r.predicted.network.name } : {}), link: r.link ?? 'loopback', layers,
    total: {
      onlineMs: Math.max(s.client.onlineMs, s.server.onlineMs) / n, bytes: sum((l) => l.bytesClientToServer + l.bytesServerToClient), rounds: sum((l) => l.rounds),
      offlineBytes: sum((l) => l.offlineBytes), setupBytes: setup.sent, setupMs: Math.max(s.client.setupMs, s.server.setupMs),
      predictedMs: r.predicted.totalMs, predictedBytes: r.predicted.commBytes, predictedRounds: r.predicted.rounds,
    },
    agreement: { referenceTop1: refAgree / n, floatTop1: floatAgree / n, labelTop1Secure: labelSecure / n, labelTop1Float: labelFloat / n, maxReferenceUlps: maxUlps, maxFloatError: maxFloat },
  };
}

/** Measured next to predicted, per layer in network order: time (when the table gives one) and bytes. */
export function piLayersSpec(r: PiRunReport): vl.TopLevelSpec {
  const values: Record<string, unknown>[] = [];
  r.layers.forEach((l, i) => {
    const layer = `${String(i).padStart(2, '0')} ${l.path}`;
    values.push({ layer, what: 'measured', ms: l.ms, kB: (l.bytesClientToServer + l.bytesServerToClient) / 1e3 });
    if (l.predicted?.modelled) values.push({ layer, what: `predicted (${r.table}${r.network ? `, ${r.network}` : ''})`, ...(l.predicted.ms !== null ? { ms: l.predicted.ms } : {}), kB: l.predicted.bytes / 1e3 });
  });
  const link = r.link === 'loopback' ? 'loopback' : `${r.link.kind === 'netns' ? 'namespaces' : 'relay'}, RTT ${r.link.rttMs.toFixed(2)} ms`;
  const panel = (field: string, title: string) => ({
    width: Math.max(360, 16 * r.layers.length), height: 180, transform: [{ filter: `isValid(datum.${field})` }],
    mark: { type: 'bar' }, encoding: {
      x: { field: 'layer', type: 'nominal', sort: null, title: null, axis: { labelAngle: -60 } }, xOffset: { field: 'what' },
      y: { field, type: 'quantitative', title }, color: { field: 'what', type: 'nominal', title: null },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${r.backbone} under 2PC (${r.samples} images, ${link}): ${r.total.onlineMs.toFixed(1)} ms, ${(r.total.bytes / 1e6).toFixed(2)} MB, ${r.total.rounds} rounds per image`,
    data: { values }, vconcat: [panel('ms', 'online time per image (ms)'), panel('kB', 'traffic per image (kB)')],
  } as vl.TopLevelSpec;
}

function layersCsv(rows: readonly PiLayerRow[]): string {
  const head = ['path', 'op', 'ms', 'bytes_server_to_client', 'bytes_client_to_server', 'rounds', 'offline_bytes', 'predicted_ms', 'predicted_bytes', 'predicted_rounds', 'predicted_modelled'];
  const lines = rows.map((r) => [r.path, r.op, r.ms.toFixed(4), r.bytesServerToClient, r.bytesClientToServer, r.rounds, r.offlineBytes, r.predicted?.ms?.toFixed(4) ?? '', r.predicted?.bytes ?? '', r.predicted?.rounds ?? '', r.predicted ? String(r.predicted.modelled) : ''].join(','));
  return [head.join(','), ...lines].join('\n') + '\n';
}
