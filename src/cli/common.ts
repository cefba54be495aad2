import type { Argv } from 'yargs';
import { BACKEND_CHOICES } from '../engine/choices.js';

/** Options every subcommand accepts. */
export interface CommonArgs {
  out?: string;
  dataDir?: string;
  backend?: string;
  seed?: number;
  resume?: boolean;
  fresh?: boolean;
  verbose?: boolean;
}

/** What a command may do to the outside world (injected so tests can capture it). */
export interface CliContext {
  /** Results (stdout). */
  out: (line: string) => void;
  /** Progress and diagnostics (stderr). */
  print: (line: string) => void;
  tty: boolean;
  signal: AbortSignal;
  setExitCode: (code: number) => void;
}

export function commonOptions<T>(y: Argv<T>) {
  return y
    .option('out', { type: 'string', describe: 'Run folder (default runs/<recipe name>)' })
    .option('data-dir', { type: 'string', describe: 'Folder with the dataset files (overrides the recipe)' })
    .option('backend', { type: 'string', choices: [...BACKEND_CHOICES], describe: 'Compute backend (default: the recipe\'s, else auto)' })
    .option('seed', { type: 'number', describe: 'Override the recipe seed' })
    .option('resume', { type: 'boolean', describe: 'Continue from the run folder\'s checkpoint' })
    .option('fresh', { type: 'boolean', describe: 'If the run folder holds results of other settings, remove them (instead of refusing the folder)' });
}
