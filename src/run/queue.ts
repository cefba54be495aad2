import { fork } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, Queue as QueueT } from 'bullmq';
import type { Redis as RedisT } from 'ioredis';
import { cellFinished, readPlan, type PlanCell, type SweepPlan } from './plan.js';

/** The queue every polynas worker of a Redis serves (one queue; cells of many studies). */
export const QUEUE_NAME = 'polynas-cells';

/** What a job carries: where the plan is (as the submitter saw it) and which cell. */
export interface CellJob {
  plan: string;
  cell: string;
  dir: string;
  study: string;
}

/**
 * A Redis connection from a URL: `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS
 * (ioredis parses both). BullMQ needs `maxRetriesPerRequest: null` on workers' connections.
 */
async function connect(url: string): Promise<RedisT> {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`--queue: expected redis://host:port or rediss://host:port (TLS), got '${url}'`);
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, ...(url.startsWith('rediss://') ? { tls: {} } : {}) });
  // The first error says why (refused, WRONGPASS, TLS); later ones are reconnection noise.
  let first: Error | undefined;
  const onError = (e: Error) => (first ??= e);
  r.on('error', onError);
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    throw new Error(`cannot reach Redis at ${url.replace(/\/\/[^@]*@/, '//…@')}: ${(first ?? (e as Error)).message}`);
  }
  r.off('error', onError);
  r.on('error', () => {}); // BullMQ reports connection trouble through its own events
  return r;
}

async function openQueue(url: string): Promise<{ queue: QueueT; close: () => Promise<void> }> {
  const { Queue } = await import('bullmq');
  const connection = await connect(url);
  const queue = new Queue(QUEUE_NAME, { connection });
  return { queue, close: async () => { await queue.close(); connection.disconnect(); } };
}

/** Job options of a cell: id = cell id (re-submitting is idempotent), retries with exponential backoff for faults. */
function jobOptions(cell: PlanCell, attempts: number) {
  return { jobId: cell.id, attempts, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: false, removeOnFail: false };
}

/** The cells that may be queued now: teachers, and searches whose teacher has finished (or that need none). */
function ready(plan: SweepPlan, dir: string): PlanCell[] {
  const byId = new Map(plan.cells.map((c) => [c.id, c]));
  return plan.cells.filter((c) => c.kind === 'teacher' || !c.dependsOn || cellFinished(dir, byId.get(c.dependsOn)!));
}

/** Adds cells to the queue (idempotent: a job id that exists is left alone). */
async function enqueue(queue: QueueT, planFile: string, cells: PlanCell[], attempts: number): Promise<void> {
  const study = basename(dirname(planFile));
  await queue.addBulk(cells.map((c) => ({ name: c.kind, data: { plan: planFile, cell: c.id, dir: c.dir, study } satisfies CellJob, opts: jobOptions(c, attempts) })));
}

/** A cell's state in the queue (`absent`: never queued, or removed). */
export type CellState = 'absent' | 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

/** Every cell's state in the queue, and whether its folder holds the result. */
export async function cellStates(queue: QueueT, plan: SweepPlan, dir: string): Promise<{ cell: PlanCell; state: CellState; finished: boolean; reason?: string; attempts: number }[]> {
  return Promise.all(plan.cells.map(async (cell) => {
    const job = await queue.getJob(cell.id);
    const state = job ? ((await job.getState()) as CellState) : 'absent';
    return { cell, state, finished: cellFinished(dir, cell), attempts: job?.attemptsMade ?? 0, ...(job?.failedReason ? { reason: job.failedReason } : {}) };
  }));
}

/**
 * Submits a plan to the queue: its teachers (and searches whose teacher is done); a worker that
 * finishes a teacher queues its searches. With `wait`, reports each cell's state changes through
 * `onChange` until every cell is finished or has failed for good, then returns the states.
 */
export async function submitPlan(url: string, planFile: string, opts: { attempts?: number; wait?: boolean; pollMs?: number; onChange?: (cell: PlanCell, state: string, reason?: string) => void } = {}) {
  const { plan, dir } = readPlan(planFile);
  const { queue, close } = await openQueue(url);
  try {
    await enqueue(queue, resolve(planFile), ready(plan, dir), opts.attempts ?? 3);
    if (!opts.wait) return await cellStates(queue, plan, dir);
    const last = new Map<string, string>();
    for (;;) {
      const states = await cellStates(queue, plan, dir);
      for (const s of states) {
        const label = s.finished ? 'finished' : s.state === 'failed' ? `failed after ${s.attempts} attempts` : s.state;
        if (last.get(s.cell.id) !== label) opts.onChange?.(s.cell, label, s.state === 'failed' ? s.reason : undefined);
        last.set(s.cell.id, label);
      }
      if (states.every((s) => s.finished || s.state === 'failed' || (s.cell.dependsOn && states.find((t) => t.cell.id === s.cell.dependsOn)?.state === 'failed'))) return states;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
    }
  } finally {
    await close();
  }
}

/** Removes a plan's waiting, delayed and failed jobs (a running cell finishes; its folder keeps what it wrote). */
export async function cancelPlan(url: string, planFile: string): Promise<{ removed: number; running: number }> {
  const { plan } = readPlan(planFile);
  const { queue, close } = await openQueue(url);
  let removed = 0, running = 0;
  try {
    for (const cell of plan.cells) {
      const job = await queue.getJob(cell.id);
      if (!job) continue;
      if ((await job.getState()) === 'active') running++;
      else if (((await job.remove().then(() => 1).catch(() => 0)) as number) === 1) removed++;
    }
  } finally {
    await close();
  }
  return { removed, running };
}

/** The queue's counts, and with a plan each of its cells. */
export async function queueStatus(url: string, planFile?: string) {
  const { queue, close } = await openQueue(url);
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    if (!planFile) return { counts };
    const { plan, dir } = readPlan(planFile);
    return { counts, cells: await cellStates(queue, plan, dir) };
  } finally {
    await close();
  }
}

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  url: string;
  /** Cells run at once (each in its own process). */
  concurrency?: number;
  /** Threads per cell (LibTorch and wasm); default: the engine's own choice. */
  threads?: number;
  /** Where the studies are on this host, when not at the path the submitter wrote (`<root>/<study>/plan.json`). */
  root?: string;
  /** How long a cell's lock lasts without renewal; a dead worker's cell is retried after it (ms, default 30 s). */
  lockMs?: number;
  /** Stops the worker (SIGTERM: running cells checkpoint and go back to the queue). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** The command that runs the CLI in a child process (the compiled file, or the source under tsx). */
function cliEntry(): string[] {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? ['--import', 'tsx', join(dirname(here), '..', 'cli', 'main.ts')] : [join(dirname(here), '..', 'cli', 'main.js')];
}

/** A cell's outcome from its process: done, stopped (checkpointed, to be requeued), or an error that retrying cannot fix or might. */
type CellOutcome = { kind: 'done' } | { kind: 'stopped' } | { kind: 'error'; message: string; deterministic: boolean };

/**
 * Runs one cell as a separate process (`polynas sweep cell --plan … --id …`), so that a long CPU or
 * GPU cell never blocks this process's event loop (which renews the job's lock). The child holds an
 * IPC channel to this process and stops (checkpointing) when the channel closes: a killed worker
 * takes its cells' processes with it.
 */
function runCellProcess(data: CellJob, opts: WorkerOptions, stop: AbortSignal): Promise<CellOutcome> {
  const env = { ...process.env, ...(opts.threads ? { POLYNAS_TORCH_THREADS: String(opts.threads), POLYNAS_WASM_THREADS: String(opts.threads) } : {}) };
  // data.plan is already this worker's path of the plan (runWorker applies --root).
  const entry = cliEntry();
  const child = fork(entry[entry.length - 1]!, ['sweep', 'cell', '--plan', data.plan, '--id', data.cell], { execArgv: entry.slice(0, -1), env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let error: { message: string; deterministic: boolean } | undefined;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.on('message', (m: { type?: string; message?: string; deterministic?: boolean }) => m.type === 'cell-error' && (error = { message: m.message!, deterministic: m.deterministic! }));
  const onStop = () => child.kill('SIGTERM');
  stop.addEventListener('abort', onStop);
  return new Promise((resolveOutcome) => {
    child.on('exit', (code, sig) => {
      stop.removeEventListener('abort', onStop);
      if (code === 0) resolveOutcome({ kind: 'done' });
      else if (code === 130 || stop.aborted) resolveOutcome({ kind: 'stopped' });
      else resolveOutcome({ kind: 'error', deterministic: error?.deterministic ?? false, message: error?.message ?? (stderr.trim().split('\n').pop() || `the cell's process ended with ${sig ?? `code ${code}`}`) });
    });
  });
}

/** After a teacher: its searches can be queued (by whichever worker finished it). */
async function queueDependents(queue: QueueT, data: CellJob, attempts: number): Promise<number> {
  const { plan, dir } = readPlan(data.plan);
  const next = ready(plan, dir).filter((c) => c.dependsOn === data.cell);
  await enqueue(queue, data.plan, next, attempts);
  return next.length;
}

/**
 * A worker: takes cells from the queue and runs each in its own process; a teacher that finishes
 * queues its searches. Faults are retried with backoff (the job's attempts); a deterministic failure
 * (bad recipe, missing data, missing teacher, changed settings) fails the cell at once. On `signal`
 * (SIGTERM of a preempted node) running cells checkpoint and go back to the queue. Returns when
 * stopped.
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const { Worker, UnrecoverableError, WaitingError } = await import('bullmq');
  const connection = await connect(opts.url);
  const { queue, close } = await openQueue(opts.url);
  const stop = new AbortController();
  const log = opts.log ?? (() => {});
  const worker = new Worker<CellJob>(QUEUE_NAME, async (job: Job<CellJob>, token?: string) => {
    const data = opts.root ? { ...job.data, plan: join(opts.root, job.data.study, 'plan.json') } : job.data;
    log(`cell ${data.cell} (${data.study}/${data.dir}): attempt ${job.attemptsMade + 1}`);
    const out = await runCellProcess(data, opts, stop.signal);
    if (out.kind === 'stopped') {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (out.kind === 'error') {
      log(`cell ${data.cell}: ${out.message}`);
      throw out.deterministic ? new UnrecoverableError(out.message) : new Error(out.message);
    }
    if (job.name === 'teacher') log(`cell ${data.cell}: teacher done; ${await queueDependents(queue, data, job.opts.attempts ?? 3)} searches queued`);
    return { done: true };
  }, { connection, concurrency: opts.concurrency ?? 1, lockDuration: opts.lockMs ?? 30_000, stalledInterval: Math.max(1000, Math.floor((opts.lockMs ?? 30_000) / 2)), maxStalledCount: 3 });
  worker.on('error', (e) => log(`worker: ${e.message}`));
  await new Promise<void>((resolveStop) => {
    if (opts.signal?.aborted) resolveStop();
    opts.signal?.addEventListener('abort', () => resolveStop(), { once: true });
  });
  stop.abort();
  await worker.close();
  await close();
  connection.disconnect();
}
