import { execFileSync, spawn } from 'node:child_process';
import type { RoleConfig } from './roles.js';

type Role = RoleConfig['role'];
const ROLES: readonly Role[] = ['server', 'client', 'dealer'];
let labs = 0;
/** Names made unique per process and lab (fixed-width fields, a random part): interface names hold 15 characters. */
function labTag(): string {
  return `pn${(process.pid % 46656).toString(36).padStart(3, '0')}${(labs++ % 36).toString(36)}${Math.floor(Math.random() * 1296).toString(36).padStart(2, '0')}`;
}

/** Where one role of a session runs: the command prefix that enters its host and the address others reach it at. */
export interface RolePlacement {
  prefix: string[];
  host: string;
}

/** Runs a command; a failure names the command line and what it printed. */
function run(cmd: string, args: string[], timeout = 30_000): string {
  try {
    return execFileSync(cmd, args, { stdio: 'pipe', timeout }).toString();
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${err || (e as Error).message}`);
  }
}

function ip(...args: string[]): void {
  run('ip', args);
}

/**
 * Three hosts on one machine: the dealer, the server and the client each in its own Linux network
 * namespace (own interface, address, routes and TCP stack), joined by a bridge, every interface's
 * egress rate-limited in the kernel by a token bucket (`tbf`) when `rateMbps` is given. Needs root
 * and iproute2. This kernel has no `netem`, so the links add no delay: their RTT is the veth's own
 * (tens of microseconds), measured by {@link NamespaceLab.rttMs}.
 *
 * @example
 * ```ts
 * const lab = NamespaceLab.create({ rateMbps: 3000 });
 * try { await runLocalSession({ ..., placement: lab.placement }); } finally { lab.destroy(); }
 * ```
 */
export class NamespaceLab {
  private constructor(
    readonly tag: string,
    readonly subnet: string,
    readonly rateMbps: number | undefined,
  ) {}

  /** Whether this process can create namespaces (root, iproute2, a kernel with netns, veth and bridges). */
  static available(): boolean {
    if (process.getuid?.() !== 0) return false;
    const probe = `pnprobe${process.pid % 100000}`;
    try {
      ip('netns', 'add', probe);
      ip('netns', 'del', probe);
      return true;
    } catch {
      return false;
    }
  }

  /** Creates the namespaces, the bridge and the links; a failure removes what was made and names the step. */
  static create(opts: { rateMbps?: number; subnet?: number } = {}): NamespaceLab {
    if (!NamespaceLab.available()) throw new Error('network namespaces need root and iproute2 (`ip netns add` failed or is missing)');
    if (opts.rateMbps !== undefined && !(opts.rateMbps > 0)) throw new Error(`rateMbps: expected a positive rate, got ${opts.rateMbps}`);
    const lab = new NamespaceLab(labTag(), `10.231.${opts.subnet ?? 7}`, opts.rateMbps);
    try {
      lab.build();
    } catch (e) {
      lab.destroy();
      throw new Error(`network namespaces: ${(e as Error).message}`);
    }
    return lab;
  }

  ns(role: Role): string {
    return `${this.tag}${role[0]}`;
  }

  address(role: Role): string {
    return `${this.subnet}.${ROLES.indexOf(role) + 1}`;
  }

  /** The command prefix and address of each role (for `runLocalSession`'s `placement`). */
  placement = (role: Role): RolePlacement => ({ prefix: ['ip', 'netns', 'exec', this.ns(role)], host: this.address(role) });

  /** Runs a command in a role's namespace and returns its stdout. */
  exec(role: Role, ...cmd: string[]): string {
    return run('ip', ['netns', 'exec', this.ns(role), ...cmd]);
  }

  /** Median round trip of a 1-byte TCP message from the client to the server, ms (the link's own latency; no netem here). */
  async rttMs(): Promise<number> {
    const port = 7999;
    const echo = spawn('ip', ['netns', 'exec', this.ns('server'), process.execPath, '-e', `require('net').createServer((s) => s.pipe(s)).listen(${port}, '${this.address('server')}', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the echo server in ${this.ns('server')} did not start within 10 s`)), 10_000);
        echo.stdout!.once('data', () => (clearTimeout(timer), resolve()));
        echo.once('error', (e) => (clearTimeout(timer), reject(e)));
        echo.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the echo server in ${this.ns('server')} exited (${code})`))));
      });
      const probe = `const s = require('net').connect(${port}, '${this.address('server')}', async () => { s.setNoDelay(true); const t = []; for (let i = 0; i < 101; i++) { const t0 = performance.now(); await new Promise((r) => { s.once('data', r); s.write('x'); }); t.push(performance.now() - t0); } t.sort((a, b) => a - b); console.log(t[50]); s.destroy(); })`;
      // Bridged traffic filtered by the host (br_netfilter) would stall here: 15 s at most.
      const out = run('ip', ['netns', 'exec', this.ns('client'), process.execPath, '-e', probe], 15_000).trim();
      const ms = Number(out);
      if (!(ms > 0)) throw new Error(`the round-trip probe printed '${out}'`);
      return ms;
    } finally {
      echo.kill('SIGKILL');
    }
  }

  private readonly made = new Set<string>();

  private build(): void {
    ip('link', 'add', `${this.tag}br`, 'type', 'bridge');
    this.made.add('bridge');
    ip('link', 'set', `${this.tag}br`, 'up');
    for (const r of ROLES) {
      ip('netns', 'add', this.ns(r));
      this.made.add(r);
      ip('link', 'add', `${this.ns(r)}v`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns(r));
      ip('link', 'set', `${this.ns(r)}v`, 'master', `${this.tag}br`, 'up');
      this.exec(r, 'ip', 'addr', 'add', `${this.address(r)}/24`, 'dev', 'eth0');
      this.exec(r, 'ip', 'link', 'set', 'eth0', 'up');
      this.exec(r, 'ip', 'link', 'set', 'lo', 'up');
      // A token bucket of about 1 ms at the rate (at least 32 kB), and a queue of up to 400 ms.
      if (this.rateMbps) this.exec(r, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', `${this.rateMbps}mbit`, 'burst', `${Math.max(32, Math.ceil(this.rateMbps / 8))}kb`, 'latency', '400ms');
    }
  }

  /** Removes the namespaces (their veth ends go with them) and the bridge; safe to call twice. */
  destroy(): void {
    for (const r of ROLES) {
      if (!this.made.delete(r)) continue;
      try {
        ip('netns', 'del', this.ns(r));
      } catch {}
    }
    if (this.made.delete('bridge')) {
      try {
        ip('link', 'del', `${this.tag}br`);
      } catch {}
    }
  }
}
