import cliProgress from 'cli-progress';
import type { EpochEvent, StepEvent, TrainHooks } from '../train/trainer.js';

/** Writes a line to stderr (the CLI's only output channel besides results on stdout). */
export type Printer = (line: string) => void;

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

/**
 * Progress display for a training run: a progress bar with ETA on a TTY, plain lines otherwise
 * (one every `lineEvery` steps and one per epoch).
 */
export function trainProgress(print: Printer, opts: { tty: boolean; lineEvery?: number }): TrainHooks & { stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  const started = Date.now();
  let firstStep: number | undefined;
  const onStep = (e: StepEvent) => {
    firstStep ??= e.step - 1;
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
      const elapsed = (Date.now() - started) / 1000;
      const done = e.step - (firstStep ?? 0);
      const eta = (elapsed / Math.max(1, done)) * (e.totalSteps - e.step);
      print(`step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} lr ${e.lr.toPrecision(3)} ${e.imagesPerSec.toFixed(0)} img/s ETA ${fmtSeconds(eta)}`);
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
  const started = Date.now();
  let first: number | undefined;
  let last = { count: '', target: '' };
  return {
    onStep(e) {
      first ??= e.step - 1;
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
        const elapsed = (Date.now() - started) / 1000;
        const eta = (elapsed / Math.max(1, e.step - (first ?? 0))) * (e.totalSteps - e.step);
        const relus = e.count !== undefined ? `: ${e.count} ReLUs kept (target ${Math.round(e.target ?? 0)})` : '';
        print(`search step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1}${relus}${e.loss !== undefined ? `, loss ${e.loss.toFixed(4)}` : ''} ETA ${fmtSeconds(eta)}`);
      }
    },
    stop: () => bar?.stop(),
  };
}
