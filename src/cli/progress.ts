import cliProgress from 'cli-progress';
import type { EpochEvent, StepEvent, TrainHooks } from '../train/trainer.js';

/** Writes a line to stderr (the CLI's only output channel besides results on stdout). */
export type Printer = (line: string) => void;

/**
 * A duration as `42s`, `10m05s` or `2h03m` (rounded to the second first, so never `10m60s`).
 *
 * @example
 * ```ts
 * fmtSeconds(659.6); // '11m00s'
 * ```
 */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.round((t % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Remaining time from the steps' own pace: timed from the end of the first step this display saw,
 * so start-up, data loading and calibration before it do not count as step time.
 */
export class Eta {
  private from?: { step: number; at: number };
  constructor(private readonly now: () => number = () => Date.now()) {}
  /** Seconds left after `step` of `total` steps (undefined until two steps were seen). */
  after(step: number, total: number): number | undefined {
    const at = this.now();
    if (!this.from) {
      this.from = { step, at };
      return undefined;
    }
    const done = step - this.from.step;
    return done > 0 ? ((at - this.from.at) / 1000 / done) * (total - step) : undefined;
  }
}

const etaText = (s: number | undefined) => (s === undefined ? '…' : fmtSeconds(s));

/**
 * Progress display for a training run: a progress bar with ETA on a TTY, plain lines otherwise
 * (one every `lineEvery` steps and one per epoch).
 */
export function trainProgress(print: Printer, opts: { tty: boolean; lineEvery?: number }): TrainHooks & { stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  const eta = new Eta();
  const onStep = (e: StepEvent) => {
    const left = eta.after(e.step, e.totalSteps);
    if (opts.tty) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { format: ' {bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | lr {lr} | {ips} img/s | ETA {eta_formatted}', etaBuffer: 50 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.totalSteps, e.step, { epoch: '', loss: '', lr: '', ips: '' });
      }
      bar.update(e.step, { epoch: e.epoch + 1, loss: e.loss.toFixed(4), lr: e.lr.toPrecision(3), ips: e.imagesPerSec.toFixed(0) });
      return;
    }
    const every = opts.lineEvery ?? 50;
    if (e.step % every === 0 || e.step === e.totalSteps) {
      print(`step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} lr ${e.lr.toPrecision(3)} ${e.imagesPerSec.toFixed(0)} img/s ETA ${etaText(left)}`);
    }
  };
  const onEpoch = (e: EpochEvent) => {
    const line = `epoch ${e.epoch + 1}/${e.epochs}: train loss ${e.trainLoss.toFixed(4)}, test top-1 ${(e.test.top1 * 100).toFixed(2)} %, top-5 ${(e.test.top5 * 100).toFixed(2)} %, test loss ${e.test.loss.toFixed(4)} (${e.seconds.toFixed(1)} s)`;
    if (bar) bar.stop();
    bar = undefined;
    print(line);
  };
  return { onStep, onEpoch, stop: () => bar?.stop() };
}

/**
 * Progress of a search phase (every strategy): a bar with ETA, the kept ReLU count and the
 * annealed target on a TTY; a line every `lineEvery` steps otherwise.
 */
export function searchProgress(print: Printer, opts: { tty: boolean; lineEvery?: number }): {
  onStep(e: { epoch: number; step: number; totalSteps: number; loss?: number; count?: number; target?: number }): void;
  stop(): void;
} {
  let bar: cliProgress.SingleBar | undefined;
  const eta = new Eta();
  let last = { count: '', target: '' };
  return {
    onStep(e) {
      const left = eta.after(e.step, e.totalSteps);
      if (e.count !== undefined) last = { count: String(e.count), target: String(Math.round(e.target ?? 0)) };
      if (opts.tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: ' search {bar} {percentage}% | step {value}/{total} | epoch {epoch} | ReLUs {count} (target {target}) | ETA {eta_formatted}', etaBuffer: 30 }, cliProgress.Presets.shades_classic);
          bar.start(e.totalSteps, e.step, { epoch: '', ...last });
        }
        bar.update(e.step, { epoch: e.epoch + 1, ...last });
        if (e.step === e.totalSteps) {
          bar.stop();
          bar = undefined;
        }
        return;
      }
      const every = opts.lineEvery ?? 50;
      if (e.step % every === 0 || e.step === e.totalSteps) {
        const relus = e.count !== undefined ? `: ${e.count} ReLUs kept (target ${Math.round(e.target ?? 0)})` : '';
        print(`search step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1}${relus}${e.loss !== undefined ? `, loss ${e.loss.toFixed(4)}` : ''} ETA ${etaText(left)}`);
      }
    },
    stop: () => bar?.stop(),
  };
}
