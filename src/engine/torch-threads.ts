import { readFileSync } from 'node:fs';

/** CPU time counters: the machine's busy and total jiffies (all cores), and this process's (all its threads). */
export interface Counters {
  busy: number;
  total: number;
  self: number;
}

function readCounters(): Counters | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const busy = total - cpu[3]! - cpu[4]!;
    // /proc/self/stat: the fields after the command name; utime and stime are the 12th and 13th of them.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { busy, total, self: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/**
 * The cores other processes kept busy between two readings: the machine's busy time less this
 * process's own (its OpenMP threads included), in cores. Linux only (`/proc`); elsewhere undefined.
 */
export function othersBusyCores(a: Counters, b: Counters, cores: number): number {
  const total = b.total - a.total;
  if (total <= 0) return 0;
  return Math.max(0, ((b.busy - a.busy - (b.self - a.self)) / total) * cores);
}

/** The thread count for `max` cores when others keep `busy` cores: the free cores, at least one. */
export function threadsFor(max: number, busy: number): number {
  return Math.max(1, Math.min(max, Math.round(max - busy)));
}

/** How a {@link ThreadGovernor} reads: its intervals, and (for tests) its clock and counters. */
export interface GovernorOptions {
  /** The first reading, this long after construction, sets the threads at once (default 100 ms). */
  firstMs?: number;
  /** Later readings come this far apart and change the threads when two agree (default 500 ms). */
  intervalMs?: number;
  onChange?: (n: number, busy: number) => void;
  now?: () => number;
  read?: () => Counters | undefined;
}

/**
 * Adapts LibTorch's intra-op threads to the cores other processes leave free. Call {@link
 * ThreadGovernor.tick} often (the engine calls it for every kernel result; it only reads the clock
 * until the next reading is due). The first reading, `firstMs` after construction, sets the threads
 * at once, so that a short run (a LeNet-5 benchmark is over in half a second) starts on the free
 * cores; later readings come every `intervalMs` and change the threads when the free count has said
 * the same twice in a row. OpenMP threads wait for each other in every parallel region, so one
 * thread that shares its core with another process stalls them all: on 2 cores with one busy
 * process, 2 threads ran a ResNet-20 training step 3.1× slower than quiet, 1 thread 1.7×.
 */
export class ThreadGovernor {
  private readonly now: () => number;
  private readonly read: () => Counters | undefined;
  private last: Counters | undefined;
  private lastAt: number;
  private first = true;
  private pending: number | undefined;
  current: number;

  constructor(
    private readonly set: (n: number) => void,
    readonly max: number,
    private readonly opts: GovernorOptions = {},
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.read = opts.read ?? readCounters;
    this.current = max;
    this.last = this.read();
    this.lastAt = this.now();
  }

  tick(): void {
    const t = this.now();
    if (t - this.lastAt < (this.first ? (this.opts.firstMs ?? 100) : (this.opts.intervalMs ?? 500)) || !this.last) return;
    this.lastAt = t;
    const now = this.read();
    if (!now) return;
    const busy = othersBusyCores(this.last, now, this.max);
    this.last = now;
    const want = threadsFor(this.max, busy);
    const decide = this.first || this.pending === want;
    this.first = false;
    if (want === this.current || !decide) {
      this.pending = want === this.current ? undefined : want;
      return;
    }
    this.current = want;
    this.pending = undefined;
    this.set(want);
    this.opts.onChange?.(want, busy);
  }
}
