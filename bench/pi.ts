/**
 * `npm run bench:pi`: the searched networks of `bench:accuracy` under real 2PC (`polynas pi run`),
 * measured next to the latency table, and the speed-up of the searched networks over all-ReLU.
 *
 * Models come from the accuracy benchmark's run folders (`--models`, default
 * `bench/results/accuracy`; run `npm run bench:accuracy` first): LeNet-5 on Fashion-MNIST (all-ReLU
 * teacher, AutoReP 5 %) and CIFAR ResNet-20 on the CIFAR-10 subset (all-ReLU teacher, AutoReP 1 %,
 * 5 %, 20 %, all-polynomial, SNL 5 %, DARTS 5 %). Each run goes through three processes (dealer,
 * server, client) over loopback; `-wan` runs send the client–server traffic through a relay that
 * delays and rate-limits it like the table's WAN profile (40 ms RTT, 400 Mbit/s); `-lan-netns` runs put the
 * three roles in three network namespaces whose links the kernel limits to the LAN profile's 3 Gbit/s
 * (needs root).
 *
 * Every finished run is kept in `<out>/pi.json` (atomically, after each run) and skipped when the
 * benchmark is started again.
 *
 *   npm run bench:pi -- [--only id,id] [--models bench/results/accuracy] [--cifar-dir DIR] [--out bench/results/pi]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { privateInference, selectBackend, type PiRunReport } from '../src/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    only: { type: 'string' }, models: { type: 'string', default: join(root, 'bench/results/accuracy') }, out: { type: 'string', default: join(root, 'bench/results/pi') },
    'cifar-dir': { type: 'string', default: process.env.POLYNAS_CIFAR10_DIR },
  },
});
const models = resolve(values.models!);
const out = resolve(values.out!);
const cifar = values['cifar-dir'];

interface Config {
  id: string;
  model: string;
  samples: number;
  batch: number;
  wan?: boolean;
  dataDir?: string;
  /** Compare with polynas' calibrated table (latency-tables/polynas-pi-dealer.json) too. */
  calibrated?: boolean;
  /** Run the roles in three network namespaces, links rate-limited by the kernel at the table's LAN bandwidth (root). */
  netns?: boolean;
}

const r20 = (id: string, model: string, samples: number, wan = false): Config => ({ id, model: join(models, model), samples, batch: 1, ...(wan ? { wan } : {}), ...(cifar ? { dataDir: cifar } : {}) });
const CONFIGS: Config[] = [
  { id: 'lenet5-relu', model: join(models, 'lenet5-autorep-seed0/teacher'), samples: 500, batch: 50 },
  { id: 'lenet5-autorep-5%', model: join(models, 'lenet5-autorep-seed0/budget-0.05/architecture.json'), samples: 500, batch: 50 },
  r20('resnet20-relu', 'resnet20-autorep-seed0/teacher', 100),
  r20('resnet20-autorep-1%', 'resnet20-autorep-seed0/budget-0.01/architecture.json', 100),
  r20('resnet20-autorep-5%', 'resnet20-autorep-seed0/budget-0.05/architecture.json', 100),
  r20('resnet20-autorep-20%', 'resnet20-autorep-seed0/budget-0.2/architecture.json', 100),
  r20('resnet20-autorep-0', 'resnet20-autorep-seed0/budget-0/architecture.json', 100),
  r20('resnet20-snl-5%', 'resnet20-snl-seed0/budget-0.05/architecture.json', 100),
  r20('resnet20-darts-5%', 'resnet20-darts-seed0/budget-0.05/architecture.json', 100),
  r20('resnet20-relu-wan', 'resnet20-autorep-seed0/teacher', 5, true),
  r20('resnet20-autorep-1%-wan', 'resnet20-autorep-seed0/budget-0.01/architecture.json', 5, true),
  r20('resnet20-autorep-5%-wan', 'resnet20-autorep-seed0/budget-0.05/architecture.json', 5, true),
  // Measured against the table `polynas pi calibrate` wrote on this machine (sizes disjoint from these networks').
  ...[['relu', 'teacher'], ['autorep-1%', 'budget-0.01/architecture.json'], ['autorep-5%', 'budget-0.05/architecture.json']].flatMap(([id, m]) => [
    { ...r20(`resnet20-${id}-cal`, `resnet20-autorep-seed0/${m}`, 20), calibrated: true },
    { ...r20(`resnet20-${id}-cal-wan`, `resnet20-autorep-seed0/${m}`, 5, true), calibrated: true },
  ]),
  // Three namespaces, each link limited by the kernel's tbf to the LAN profile's 3 Gbit/s; predicted at that
  // bandwidth and the links' measured RTT (this kernel has no netem to add the profile's 0.3 ms).
  ...[['relu', 'teacher'], ['autorep-1%', 'budget-0.01/architecture.json'], ['autorep-5%', 'budget-0.05/architecture.json']].map(([id, m]) => ({ ...r20(`resnet20-${id}-cal-lan-netns`, `resnet20-autorep-seed0/${m}`, 10), calibrated: true, netns: true })),
  { id: 'lenet5-autorep-5%-cal', model: join(models, 'lenet5-autorep-seed0/budget-0.05/architecture.json'), samples: 50, batch: 1, calibrated: true },
];
const calibratedTable = join(root, 'latency-tables', 'polynas-pi-dealer.json');

// The float network the secure logits are compared with runs on the fastest engine here.
await selectBackend('auto');
const file = join(out, 'pi.json');
const rows: Record<string, PiRunReport & { id: string; wallS: number }> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
const wanted = values.only?.split(',');

for (const c of CONFIGS) {
  if (wanted && !wanted.includes(c.id)) continue;
  if (rows[c.id]) continue;
  if (!existsSync(c.model)) {
    console.error(`${c.id}: ${c.model} is missing (run npm run bench:accuracy first); skipped`);
    continue;
  }
  const t0 = performance.now();
  const table = c.calibrated ? calibratedTable : 'crypten-2pc-dealer';
  const r = await privateInference({
    architecture: c.model, samples: c.samples, batch: c.batch, out: join(out, c.id), table, network: c.wan ? 'WAN' : c.netns ? 'LAN' : c.calibrated ? 'loopback' : 'LAN',
    predict: [{ table: 'crypten-2pc-dealer', network: c.wan ? 'WAN' : 'LAN' }, { table: calibratedTable, network: c.wan ? 'WAN' : 'loopback' }],
    ...(c.wan ? { shape: true } : {}), ...(c.netns ? { netns: true } : {}), ...(c.dataDir ? { dataDir: c.dataDir } : {}), timeoutMs: 600_000,
  });
  rows[c.id] = { id: c.id, ...r, wallS: (performance.now() - t0) / 1e3 };
  writeJsonAtomic(file, rows);
  print();
}
print();

function print(): void {
  const mb = (b: number): string => (b / 1e6).toFixed(2);
  console.log('| run | images | online ms/img (measured/predicted) | MB online | rounds | MB offline | table MB | table rounds | table ms | top-1 = ref | top-1 = float | acc. secure | acc. float | max ulp vs ref |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of Object.values(rows)) {
    const t = r.total, a = r.agreement;
    const ratio = t.predictedMs ? ` (${(t.onlineMs / t.predictedMs).toFixed(2)}×)` : '';
    console.log(`| ${r.id} | ${r.samples} | ${t.onlineMs.toFixed(1)}${ratio} | ${mb(t.bytes)} | ${t.rounds} | ${mb(t.offlineBytes)} | ${mb(t.predictedBytes)} | ${t.predictedRounds} | ${t.predictedMs?.toFixed(1) ?? '—'} (${r.table === 'crypten-2pc-dealer' ? '' : 'calibrated, '}${r.network}) | ${(a.referenceTop1 * 100).toFixed(1)} % | ${(a.floatTop1 * 100).toFixed(1)} % | ${(a.labelTop1Secure * 100).toFixed(1)} % | ${(a.labelTop1Float * 100).toFixed(1)} % | ${a.maxReferenceUlps.toFixed(0)} |`);
  }
}
