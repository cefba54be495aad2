import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = join(__dirname, '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** A training recipe long enough to be interrupted (LeNet-5 on 8,000 digits, many epochs). */
function longRecipe(dir: string): string {
  const r = JSON.parse(readFileSync(join(root, 'experiments', 'quickstart-lenet-mnist.json'), 'utf8'));
  r.train.epochs = 200;
  const f = join(dir, 'long.json');
  writeFileSync(f, JSON.stringify(r));
  return f;
}

/** Starts the CLI, sends `signals` once it has printed `ready`, and resolves with its exit. */
function interrupted(args: string[], ready: RegExp, signals: NodeJS.Signals[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; ms: number }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root });
    let err = '';
    let sentAt = 0;
    const onData = (d: Buffer) => {
      err += d.toString();
      if (!sentAt && ready.test(err)) {
        sentAt = Date.now();
        signals.forEach((s, i) => setTimeout(() => child.kill(s), i * 100));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    child.on('exit', (code, signal) => done({ code, signal, err, ms: Date.now() - sentAt }));
  });
}

describe('output folders and signals', () => {
  it('an output folder under /proc or behind a file fails at once, naming the folder', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'afile'), 'x');
    for (const [out, why] of [['/proc/polynas-x', 'ENOENT creating /proc/polynas-x'], [join(dir, 'afile', 'run'), `${join(dir, 'afile')} is a file, not a folder`]] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'search', '--recipe', join(root, 'experiments', 'search-lenet5-mnist.json'), '--out', out], { cwd: root, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${out}: cannot write the output folder (${why})`);
    }
  });

  it('a second SIGTERM exits at once', async () => {
    const dir = tempDir();
    const r = await interrupted(['train', '--recipe', longRecipe(dir), '--out', join(dir, 'run')], /polynas train:/, ['SIGTERM', 'SIGTERM']);
    // Stopped by the first (exit 130 after the step) or ended by the second (the signal's default).
    expect(r.code === 130 || r.signal === 'SIGTERM').toBe(true);
    expect(r.ms).toBeLessThan(3000);
  });

  it('SIGTERM during a search stops after the step, exits 130 and says how to resume', async () => {
    const dir = tempDir();
    const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'search-lenet5-mnist.json'), 'utf8'));
    recipe.teacher.train.epochs = 200;
    recipe.space = join(root, 'search-spaces', 'lenet5-pixel.json');
    writeFileSync(join(dir, 'r.json'), JSON.stringify(recipe));
    const r = await interrupted(['search', '--recipe', join(dir, 'r.json'), '--out', join(dir, 'run')], /== teacher/, ['SIGTERM']);
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(/teacher training was stopped; its checkpoint is in .*; run the same command with --resume to continue/);
  });
});
