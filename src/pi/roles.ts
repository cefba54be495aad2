import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Channel, emptyTraffic, PiPeerError, type Traffic } from './channel.js';
import { endOfBatch, PiContext, Spool } from './context.js';
import { bucketName, encodeSecrets, runProgram, setupPhase } from './evaluate.js';
import { freshSeed, Prg } from './prg.js';
import { programHash, type PiProgram, type PiSecrets } from '../export/program.js';
import { decode, encode, ring } from './ring.js';

/** Where a role listens or connects. */
export interface Endpoint {
  host: string;
  port: number;
}

/** What one role process is told to do (written as JSON by `polynas pi run`, or by hand on three hosts). */
export interface RoleConfig {
  role: 'dealer' | 'server' | 'client';
  /** The public part (every role). */
  program: string;
  /** The server's secret part. */
  secrets?: string;
  /** The client's inputs: float32 NHWC images, `samples` of them, not yet normalized. */
  inputs?: string;
  samples: number;
  batch: number;
  /** The dealer's and the server's listening address. */
  listen?: Endpoint;
  /** Where the dealer listens (server, client). */
  dealer?: Endpoint;
  /** Where the server listens (client). */
  server?: Endpoint;
  /** How long any wait for the other side may take, ms. */
  timeoutMs?: number;
  /** The client's file for one batch's dealer material (default: in the system's temporary folder). */
  spool?: string;
  /** Mutual TLS on every link (key, certificate, trusted certificates), for roles on different hosts. */
  tls?: TlsFiles;
}

/** What a role measured. */
export interface RoleReport {
  role: RoleConfig['role'];
  programHash: string;
  /** Traffic per bucket with the other party (server, client) or with the client (dealer). */
  buckets: Record<string, Traffic>;
  /** Offline material received from the dealer per bucket (client). */
  offline?: Record<string, Traffic>;
  /** Wall time per node, summed over batches, ms. */
  nodeMs: number[];
  setupMs: number;
  /** Online phase, input sharing to reconstructed output, all batches, ms. */
  onlineMs: number;
  /** Receiving the dealer's material before each batch (client), ms. */
  offlineMs?: number;
  /** Reconstructed logits, `samples × classes` (client). */
  logits?: number[][];
}

const PROTOCOL = 'polynas-pi/1';

/** A configuration's file paths made absolute against the folder it was read from. */
export function resolveConfigPaths(cfg: RoleConfig, base: string): RoleConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  return {
    ...cfg, program: abs(cfg.program), ...(cfg.secrets ? { secrets: abs(cfg.secrets) } : {}), ...(cfg.inputs ? { inputs: abs(cfg.inputs) } : {}), ...(cfg.spool ? { spool: abs(cfg.spool) } : {}),
    ...(cfg.tls ? { tls: { key: abs(cfg.tls.key), cert: abs(cfg.tls.cert), ca: abs(cfg.tls.ca) } } : {}),
  };
}

async function hello(ch: Channel, mine: Record<string, unknown>): Promise<Record<string, unknown>> {
  await ch.send(Buffer.from(JSON.stringify({ protocol: PROTOCOL, ...mine })));
  const theirs = JSON.parse((await ch.recv()).toString()) as Record<string, unknown>;
  if (theirs.error) throw new PiPeerError(`${ch.peer}: ${String(theirs.error)}`);
  if (theirs.protocol !== PROTOCOL) throw new PiPeerError(`${ch.peer}: speaks '${String(theirs.protocol)}', not ${PROTOCOL}`);
  if (theirs.programHash !== mine.programHash) {
    const msg = `architecture differs: this side has ${String(mine.programHash).slice(0, 16)}…, ${ch.peer} has ${String(theirs.programHash).slice(0, 16)}…`;
    await ch.send(Buffer.from(JSON.stringify({ protocol: PROTOCOL, error: msg }))).catch(() => undefined);
    throw new PiPeerError(msg);
  }
  for (const k of ['samples', 'batch'] as const) {
    if (mine[k] !== undefined && theirs[k] !== undefined && mine[k] !== theirs[k]) throw new PiPeerError(`${ch.peer}: ${k} ${String(theirs[k])}, this side ${String(mine[k])}`);
  }
  return theirs;
}

/** TLS material of a role: its key and certificate, and the certificates (or CA) it trusts for its peers. */
export interface TlsFiles {
  key: string;
  cert: string;
  ca: string;
}

function tlsOptions(t: TlsFiles): { key: Buffer; cert: Buffer; ca: Buffer } {
  const read = (what: string, f: string): Buffer => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new Error(`tls.${what}: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  return { key: read('key', t.key), cert: read('cert', t.cert), ca: read('ca', t.ca) };
}

function dial(e: Endpoint, peer: string, timeoutMs: number, tls?: TlsFiles): Promise<Socket> {
  const opts = tls ? tlsOptions(tls) : undefined;
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const attempt = (): void => {
      // With TLS both sides present certificates and check the other's against `ca`.
      const s: Socket = opts ? tlsConnect({ host: e.host, port: e.port, ...opts, rejectUnauthorized: true }) : connect(e.port, e.host);
      s.once(opts ? 'secureConnect' : 'connect', () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) => {
        s.destroy();
        if ((err.code === 'ECONNREFUSED' || err.code === 'ENOENT') && Date.now() < deadline) setTimeout(attempt, 100);
        else if (opts && !err.code?.startsWith('ECONN')) reject(new PiPeerError(`TLS with the ${peer} at ${e.host}:${e.port} failed (${err.message})`));
        else reject(new PiPeerError(`cannot reach the ${peer} at ${e.host}:${e.port} (${err.code ?? err.message})`));
      });
    };
    attempt();
  });
}

function listen(e: Endpoint, what: string, tls?: TlsFiles): Promise<Server> {
  const opts = tls ? tlsOptions(tls) : undefined;
  return new Promise((resolve, reject) => {
    const server: Server = opts ? createTlsServer({ ...opts, requestCert: true, rejectUnauthorized: true }) : createServer();
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`${what}: cannot listen on ${e.host}:${e.port} (${err.code === 'EADDRINUSE' ? 'port in use' : err.code ?? err.message})`)));
    server.listen(e.port, e.host, () => resolve(server));
  });
}

function accept(server: Server, count: number, timeoutMs: number, what: string): Promise<Socket[]> {
  return new Promise((resolve, reject) => {
    const got: Socket[] = [];
    let refused = '';
    const timer = setTimeout(() => reject(new PiPeerError(`${what}: ${got.length} of ${count} parties connected within ${timeoutMs / 1000} s${refused}`)), timeoutMs);
    server.on('tlsClientError', (err: Error) => (refused = ` (a connection was refused: ${err.message})`));
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (s: Socket) => {
      got.push(s);
      if (got.length === count) {
        clearTimeout(timer);
        server.close();
        resolve(got);
      }
    });
  });
}

const toJson = (m: Map<string, Traffic>): Record<string, Traffic> => Object.fromEntries(m);

function readProgram(cfg: RoleConfig): { program: PiProgram; hash: string } {
  const program = JSON.parse(readFileSync(cfg.program, 'utf8')) as PiProgram;
  if (program.format !== 'polynas-pi-program') throw new Error(`${cfg.program}: not a polynas pi program (format '${String(program.format)}')`);
  return { program, hash: programHash(program) };
}

/** Sizes of the batches a session runs. */
function batches(cfg: RoleConfig): number[] {
  return Array.from({ length: Math.ceil(cfg.samples / cfg.batch) }, (_, b) => Math.min(cfg.batch, cfg.samples - b * cfg.batch));
}

/** The dealer: hands each party its seed, then streams party 1's corrections node by node. */
export async function runDealer(cfg: RoleConfig): Promise<RoleReport> {
  const { program, hash } = readProgram(cfg);
  const timeout = cfg.timeoutMs ?? 60_000;
  const server = await listen(cfg.listen!, 'dealer', cfg.tls);
  const socks = await accept(server, 2, timeout, 'dealer');
  const seeds = [freshSeed(), freshSeed()];
  const chans: Partial<Record<'server' | 'client', Channel>> = {};
  await Promise.all(socks.map(async (s) => {
    const ch = new Channel(s, 'a party', timeout);
    const theirs = JSON.parse((await ch.recv()).toString()) as { role: string; programHash: string; samples?: number; batch?: number };
    const role = theirs.role;
    // Each seed goes to one party: a second server or client, or another role, is refused.
    let error: string | undefined;
    if (role !== 'server' && role !== 'client') error = `unknown role '${role}'`;
    else if (chans[role]) error = `a second ${role} connected`;
    else if (theirs.programHash !== hash) error = `architecture differs: the dealer has ${hash.slice(0, 16)}…, the ${role} ${theirs.programHash.slice(0, 16)}…`;
    else if (theirs.samples !== cfg.samples || theirs.batch !== cfg.batch) error = `the ${role} runs ${theirs.samples} images in batches of ${theirs.batch}, the dealer ${cfg.samples} in batches of ${cfg.batch}`;
    await ch.send(Buffer.from(JSON.stringify(error ? { protocol: PROTOCOL, error } : { protocol: PROTOCOL, programHash: hash, seed: Buffer.from(seeds[role === 'server' ? 0 : 1]!).toString('hex') })));
    if (error) throw new PiPeerError(error);
    ch.peer = role;
    chans[role as 'server' | 'client'] = ch;
  }));
  const cx = new PiContext('dealer', seeds, program.fixedPoint, undefined, chans.client!);
  const nodeMs = new Array<number>(program.nodes.length).fill(0);
  const t0 = performance.now();
  const inputSize = program.inputShape.reduce((a, b) => a * b, 1);
  // Each batch's material goes out when the client asks for it, before that batch's online phase,
  // so that the dealer's work never competes with the parties' online computation.
  for (const [b, n] of batches(cfg).entries()) {
    await chans.client!.recv();
    await runProgram(cx, program, new Map(), new BigUint64Array(n * inputSize), n, b, (i, ms) => (nodeMs[i]! += ms));
    await chans.client!.send(endOfBatch());
  }
  const onlineMs = performance.now() - t0;
  await new Promise<void>((r) => chans.client!.recv().then(() => r(), () => r()));
  for (const ch of Object.values(chans)) ch.close();
  return { role: 'dealer', programHash: hash, buckets: toJson(chans.client!.buckets), nodeMs, setupMs: 0, onlineMs };
}

/** Normalizes and fixed-point encodes a batch of NHWC images (the client's first step). */
function encodeInputs(program: PiProgram, images: Float32Array): BigUint64Array {
  const norm = program.normalization;
  const c = program.inputShape[2]!;
  const x = norm ? Float64Array.from(images, (v, i) => (v - norm.mean[i % c]!) / norm.std[i % c]!) : Float64Array.from(images);
  return encode(x, program.fixedPoint.frac);
}

/** A party's connections: the dealer (its seed; party 1's material stream) and the other party. */
async function connectParty(cfg: RoleConfig, hash: string): Promise<{ dealerCh: Channel; peer: Channel; seed: Uint8Array }> {
  const timeout = cfg.timeoutMs ?? 60_000;
  const server = cfg.role === 'server';
  const mine = { role: cfg.role, programHash: hash, samples: cfg.samples, batch: cfg.batch };
  const listening = server ? await listen(cfg.listen!, 'server', cfg.tls) : undefined;
  const incoming = listening ? accept(listening, 1, timeout, 'server') : undefined;
  incoming?.catch(() => undefined);
  const dealerCh = new Channel(await dial(cfg.dealer!, 'dealer', timeout, cfg.tls), 'dealer', timeout);
  const seed = Uint8Array.from(Buffer.from(String((await hello(dealerCh, mine)).seed), 'hex'));
  const peerSock = server ? (await incoming!)[0]! : await dial(cfg.server!, 'server', timeout, cfg.tls);
  const peer = new Channel(peerSock, server ? 'client' : 'server', timeout);
  await hello(peer, mine);
  return { dealerCh, peer, seed };
}

/** The server's secret part, checked against the public part. */
function readSecrets(cfg: RoleConfig, hash: string): PiSecrets {
  const secrets = JSON.parse(readFileSync(cfg.secrets!, 'utf8')) as PiSecrets;
  if (secrets.programHash !== hash) throw new Error(`${cfg.secrets}: secret part of another architecture (${secrets.programHash.slice(0, 16)}…, the public part is ${hash.slice(0, 16)}…)`);
  return secrets;
}

/** The client's images (float32 NHWC). */
function readImages(cfg: RoleConfig, inputSize: number): Float32Array {
  const raw = readFileSync(cfg.inputs!);
  // A small file's Buffer is a view into Node's shared pool: copy exactly its bytes.
  const images = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  if (images.length < cfg.samples * inputSize) throw new Error(`${cfg.inputs}: ${images.length / inputSize} images, ${cfg.samples} asked for`);
  return images;
}

/** Party 1's offline step for a batch: asks the dealer for its material and spools it, counting bytes per node. */
async function receiveMaterial(dealerCh: Channel, spool: Spool, program: PiProgram, offline: Map<string, Traffic>): Promise<void> {
  await dealerCh.send(Buffer.from('batch'));
  await spool.fill(dealerCh, (node, bytes) => {
    const name = bucketName(node, program.nodes[node]!);
    const tr = offline.get(name) ?? emptyTraffic();
    tr.received += bytes;
    offline.set(name, tr);
  });
}

/** A party (server = party 0, the model's owner; client = party 1, the input's owner). */
export async function runParty(cfg: RoleConfig): Promise<RoleReport> {
  const { program, hash } = readProgram(cfg);
  const party = cfg.role === 'server' ? 0 : 1;
  const secrets = party === 0 ? readSecrets(cfg, hash) : undefined;
  const { dealerCh, peer, seed } = await connectParty(cfg, hash);
  const spool = party === 1 ? new Spool(cfg.spool ?? join(tmpdir(), `polynas-pi-${process.pid}.spool`)) : undefined;
  const cx = new PiContext(party, party === 0 ? [seed, undefined] : [undefined, seed], program.fixedPoint, peer, party === 1 ? dealerCh : undefined, spool);
  const enc = party === 0 ? encodeSecrets(program, secrets!) : new Map();
  let t = performance.now();
  peer.bucket = 'setup';
  await setupPhase(cx, program, enc);
  const setupMs = performance.now() - t;
  const nodeMs = new Array<number>(program.nodes.length).fill(0);
  const inputSize = program.inputShape.reduce((a, b) => a * b, 1);
  const images = party === 1 ? readImages(cfg, inputSize) : undefined;
  const logits: number[][] = [];
  const offline = new Map<string, Traffic>();
  let onlineMs = 0, offlineMs = 0, done = 0;
  for (const [b, n] of batches(cfg).entries()) {
    peer.bucket = 'input';
    let share: BigUint64Array;
    if (party === 1) {
      t = performance.now();
      await receiveMaterial(dealerCh, spool!, program, offline);
      offlineMs += performance.now() - t;
      t = performance.now();
      const x = encodeInputs(program, images!.subarray(done * inputSize, (done + n) * inputSize));
      const other = new Prg(freshSeed(), 'input').next(x.length);
      await peer.send(other);
      share = ring.sub(x, other);
    } else {
      share = await peer.recvRing();
      t = performance.now();
    }
    const y = await runProgram(cx, program, enc, share, n, b, (i, ms) => (nodeMs[i]! += ms));
    peer.bucket = 'output';
    if (party === 0) await peer.send(y);
    else {
      const out = decode(ring.add(y, await peer.recvRing()), program.fixedPoint.frac);
      for (let s = 0; s < n; s++) logits.push(Array.from(out.subarray(s * program.numClasses, (s + 1) * program.numClasses)));
    }
    onlineMs += performance.now() - t;
    done += n;
  }
  if (party === 1) await dealerCh.send(Buffer.from('done'));
  spool?.close();
  peer.close();
  dealerCh.close();
  return { role: cfg.role, programHash: hash, buckets: toJson(peer.buckets), ...(party === 1 ? { offline: toJson(offline), offlineMs, logits } : {}), nodeMs, setupMs, onlineMs };
}
