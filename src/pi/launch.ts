import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../io/atomic.js';
import type { PiProgram, PiSecrets } from '../export/program.js';
import { Relay, type LinkShape } from './relay.js';
import type { RolePlacement } from './netns.js';
import type { RoleConfig, RoleReport, TlsFiles } from './roles.js';

/** A session run on this machine: the three roles' reports. */
export interface PiSession {
  dealer: RoleReport;
  server: RoleReport;
  client: RoleReport;
  /** Wall time of the whole session (process start to last exit), ms. */
  wallMs: number;
}

/** A TCP port nobody listens on now (the system's choice). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The command that runs one role in a fresh process (the compiled file, or the source under tsx). */
function roleCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? ['--import', 'tsx', join(dirname(here), 'party-main.ts')] : [join(dirname(here), 'party-main.js')];
}

/**
 * Runs a 2PC session on this machine: writes the public part (read by all three), the server's
 * secret part and the client's images into `dir`, starts the dealer, the server and the client as
 * three processes talking over loopback TCP, and returns their reports. With `link`, the client
 * reaches the server through a {@link Relay} that delays and rate-limits the real traffic. A role
 * that fails ends the session on every side; the error names the role and its message.
 */
export async function runLocalSession(opts: { program: PiProgram; secrets: PiSecrets; images: Float32Array; samples: number; batch: number; dir: string; timeoutMs?: number; host?: string; link?: LinkShape; tls?: TlsFiles; placement?: (role: RoleConfig['role']) => RolePlacement; onStart?: (pids: Record<RoleConfig['role'], number>) => void }): Promise<PiSession> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.placement && opts.link) throw new Error('a shaped relay link and a placement of the roles on other hosts do not go together');
  mkdirSync(opts.dir, { recursive: true });
  const files = { program: join(opts.dir, 'public.json'), secrets: join(opts.dir, 'secret.json'), inputs: join(opts.dir, 'inputs.f32') };
  writeJsonAtomic(files.program, opts.program);
  writeJsonAtomic(files.secrets, opts.secrets);
  writeFileSync(files.inputs, new Uint8Array(opts.images.buffer, opts.images.byteOffset, opts.images.byteLength));
  // Placed roles (e.g. in network namespaces) listen at their own address on fixed ports there.
  const dealer = opts.placement ? { host: opts.placement('dealer').host, port: 7001 } : { host, port: await freePort(host) };
  const server = opts.placement ? { host: opts.placement('server').host, port: 7000 } : { host, port: await freePort(host) };
  // A shaped link sits between the client and the server (the online traffic); dealer traffic is offline.
  const relay = opts.link ? await Relay.start(host, server, opts.link) : undefined;
  const serverForClient = relay ? { host, port: relay.port } : server;
  const base = { program: files.program, samples: opts.samples, batch: opts.batch, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.tls ? { tls: opts.tls } : {}) };
  const configs: RoleConfig[] = [
    { ...base, role: 'dealer', listen: dealer },
    { ...base, role: 'server', secrets: files.secrets, listen: server, dealer },
    { ...base, role: 'client', inputs: files.inputs, dealer, server: serverForClient, spool: join(opts.dir, 'client.spool') },
  ];
  const t0 = performance.now();
  const children = configs.map((cfg) => {
    const cfgFile = join(opts.dir, `${cfg.role}.config.json`);
    writeJsonAtomic(cfgFile, cfg);
    const [cmd, ...prefix] = [...(opts.placement?.(cfg.role).prefix ?? []), process.execPath];
    const child = spawn(cmd!, [...prefix, ...roleCommand(), cfgFile, join(opts.dir, `${cfg.role}.report.json`)], { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { cfg, child, done: new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, err }))) };
  });
  opts.onStart?.(Object.fromEntries(children.map((c) => [c.cfg.role, c.child.pid!])) as Record<RoleConfig['role'], number>);
  const results = await Promise.all(children.map((c) => c.done));
  await relay?.close();
  const wallMs = performance.now() - t0;
  const failed = results.map((r, i) => ({ ...r, role: configs[i]!.role })).filter((r) => r.code !== 0);
  const why = (f: (typeof failed)[number]): string => (f.signal ? `the ${f.role} was killed (${f.signal})` : f.err.trim().split('\n').pop() || `the ${f.role} exited with code ${f.code}`);
  if (failed.length) throw new Error(`polynas pi: ${failed.map(why).join('; ')}`);
  const read = (role: string): RoleReport => JSON.parse(readFileSync(join(opts.dir, `${role}.report.json`), 'utf8')) as RoleReport;
  return { dealer: read('dealer'), server: read('server'), client: read('client'), wallMs };
}
