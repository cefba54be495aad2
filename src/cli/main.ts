#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { POLYNAS_VERSION } from '../io/version.js';
import type { CliContext } from './common.js';
import { trainCommand } from './train.js';
import { latencyCommand } from './latency.js';
import { searchCommand } from './search.js';
import { plotCommand, reportCommand } from './experiments.js';
import { sweepCommand, workerCommand } from './sweep.js';
import { evaluateCommand, exportCommand, finetuneCommand } from './architecture.js';
import { piCommand } from './pi.js';

/**
 * Runs the polynas CLI on `args` and resolves to the exit code. Library errors become one clear
 * message on stderr and exit code 1; `--verbose` adds the stack.
 */
export async function runCli(args: string[], io: Partial<CliContext> = {}): Promise<number> {
  let exitCode = 0;
  const controller = new AbortController();
  const ctx: CliContext = {
    out: io.out ?? ((l) => process.stdout.write(l + '\n')),
    print: io.print ?? ((l) => process.stderr.write(l + '\n')),
    tty: io.tty ?? Boolean(process.stderr.isTTY),
    signal: io.signal ?? controller.signal,
    setExitCode: (c) => {
      exitCode = c;
    },
  };
  const verbose = args.includes('--verbose');
  const cli = yargs(args)
    .scriptName('polynas')
    .version(POLYNAS_VERSION)
    .usage('$0 <command> [options]\n\nPolynomial neural architecture search for 2PC private inference.')
    .option('verbose', { type: 'boolean', describe: 'Show stack traces of errors' })
    .command(trainCommand(ctx))
    .command(searchCommand(ctx))
    .command(finetuneCommand(ctx))
    .command(evaluateCommand(ctx))
    .command(exportCommand(ctx))
    .command(latencyCommand(ctx))
    .command(sweepCommand(ctx))
    .command(workerCommand(ctx))
    .command(plotCommand(ctx))
    .command(reportCommand(ctx))
    .command(piCommand(ctx))
    .demandCommand(1, 'Name a command; see --help.')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      // yargs' own validation (unknown options, failed checks) raises YError: a usage error.
      throw err instanceof Error && err.name !== 'YError' ? err : new UsageError(msg ?? String(err));
    })
    .help()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110));
  try {
    await cli.parseAsync();
  } catch (err) {
    const e = err as Error;
    if (e instanceof UsageError) {
      ctx.print(`polynas: ${e.message}\nRun 'polynas --help' for usage.`);
      return 2;
    }
    if (e.name === 'SearchStoppedError' || e.name === 'RunStoppedError') {
      ctx.print(`polynas: ${e.message}; run the same command with --resume to continue`);
      return 130;
    }
    const hint = hintFor(e);
    ctx.print(`polynas: error: ${e.message ?? String(err)}${hint ? `\n${hint}` : ''}`);
    if (verbose && e.stack) ctx.print(e.stack);
    return 1;
  }
  return exitCode;
}

class UsageError extends Error {}

/**
 * What to do about a library error, in the CLI's own terms (library messages never name flags). By
 * error class name, so that the CLI does not load the library to start.
 */
const HINTS: Record<string, string> = {
  CheckpointExistsError: 'pass --resume to continue that run, or choose another --out',
  RunFolderInUseError: 'wait for it, or choose another --out',
  NetworkSettingError: 'give --network, or --bandwidth and --rtt',
  DatasetUnavailableError: 'or pass --data-dir with the folder holding the files',
  BackendChangedError: 'resume with the --backend the run started with, or choose another --out',
  RunSettingsChangedError: 'choose another --out, or pass --fresh to discard those results',
};
const hintFor = (e: Error): string | undefined => HINTS[e.name];

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  // The first Ctrl-C or SIGTERM stops after the current step (the run saves what it can and exits
  // 130). Then polynas stops listening, so a second one has the signal's default effect and ends the
  // process at once, even while a long synchronous computation holds the event loop.
  const controller = new AbortController();
  const stop = (name: string) => {
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    process.stderr.write(`\npolynas: ${name}: stopping after the current step (send it again to quit at once)\n`);
    controller.abort();
  };
  process.once('SIGINT', () => stop('interrupted'));
  process.once('SIGTERM', () => stop('terminated'));
  runCli(hideBin(process.argv), { signal: controller.signal }).then((code) => {
    process.exitCode = code;
  });
}
