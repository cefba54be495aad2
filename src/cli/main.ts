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
import { plotCommand, reportCommand, sweepCommand } from './experiments.js';
import { evaluateCommand, exportCommand, finetuneCommand } from './architecture.js';

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
    .command(plotCommand(ctx))
    .command(reportCommand(ctx))
    .demandCommand(1, 'Name a command; see --help.')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
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
    ctx.print(`polynas: error: ${e.message ?? String(err)}`);
    if (verbose && e.stack) ctx.print(e.stack);
    return 1;
  }
  return exitCode;
}

class UsageError extends Error {}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\npolynas: stopping after the current step (Ctrl-C again to quit at once)\n');
    controller.abort();
  });
  process.on('SIGTERM', () => controller.abort());
  runCli(hideBin(process.argv), { signal: controller.signal }).then((code) => {
    process.exitCode = code;
  });
}
