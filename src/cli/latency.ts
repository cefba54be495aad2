import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { Backbone } from '../backbones/backbone.js';
import type { SiteChoice } from '../latency/network.js';
import { opIds } from '../ops/index.js';
import type { NetworkCost } from '../latency/cost.js';
import { DEFAULT_LATENCY_TABLE, loadLatencyTable, shippedTableIds } from '../latency/tables.js';
import type { CliContext } from './common.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/choices.js';

interface LatencyArgs {
  backend?: string;
  architecture?: string;
  backbone?: string;
  all?: string;
  pool?: string;
  table?: string[];
  network?: string;
  bandwidth?: number;
  rtt?: number;
  compare?: boolean;
  json?: boolean;
}

const fmtBytes = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b.toFixed(0)} B`);
const fmtTime = (c: { unit: string }, t: number) => (c.unit === 'ms' ? (t >= 1000 ? `${(t / 1000).toFixed(3)} s` : `${t.toFixed(3)} ms`) : `${t.toFixed(1)} (rel.)`);

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

function perLayerTable(c: NetworkCost): string[] {
  const rows = [['layer', 'op', 'n', 'time', 'comm', 'rounds', 'note']];
  for (const l of c.perLayer) rows.push([l.path, l.op, String(l.n), fmtTime(c, l.time), fmtBytes(l.bytes), String(l.rounds), l.modelled ? '' : 'not modelled']);
  rows.push(['total', '', '', fmtTime(c, c.total), fmtBytes(c.commBytes), String(c.rounds), '']);
  return pad(rows);
}

/** The network to price: an exported architecture's, or a backbone with one operator everywhere. */
async function networkOf(argv: LatencyArgs): Promise<{ net: Backbone; choices: Record<string, SiteChoice> }> {
  const { createBackbone } = await import('../backbones/registry.js');
  const { readArchitecture } = await import('../export/architecture.js');
  const { parseWith, readJsonFile } = await import('../io/json.js');
  const { networkChoicesSchema } = await import('../spec/architecture.js');
  const { siteChoicesOf, uniformChoices } = await import('../export/choices.js');
  if (argv.architecture) {
    const file = argv.architecture;
    const json = readJsonFile(file, 'architecture');
    const isExport = typeof json === 'object' && json !== null && 'format' in json;
    const arch = isExport ? readArchitecture(file) : parseWith(networkChoicesSchema(), json, file);
    return { net: createBackbone(arch.backbone, { numClasses: arch.numClasses, ...(arch.inputShape ? { inputShape: arch.inputShape } : {}) }), choices: siteChoicesOf(arch) };
  }
  if (!argv.backbone) throw new Error('latency: give an architecture file or --backbone');
  const net = createBackbone(argv.backbone, { numClasses: 10 });
  return { net, choices: uniformChoices(net, argv.all ?? 'relu', argv.pool) };
}

/** `polynas latency`: predicted 2PC latency and communication of a network under latency tables. */
export function latencyCommand(ctx: CliContext) {
  return {
    command: 'latency [architecture]',
    describe: 'Predict the 2PC latency, communication and rounds of an architecture under latency tables',
    builder: (y: Argv) =>
      y
        .positional('architecture', { type: 'string', describe: 'architecture.json (exported by a search)' })
        .option('backbone', { type: 'string', describe: 'Instead of a file: a registered backbone' })
        .option('all', { type: 'string', default: 'relu', choices: opIds('activation'), describe: 'With --backbone: the operator at every activation site' })
        .option('pool', { type: 'string', choices: opIds('pool'), describe: 'With --backbone: the operator at every pooling site' })
        .option('table', { type: 'string', array: true, describe: `Table id or file; repeat or comma-separate (default: pasnet-dac2023-code; with --compare, every shipped table: ${shippedTableIds().join(', ')})` })
        .option('network', { type: 'string', describe: "Network profile of the table (default: the table's first)" })
        .option('bandwidth', { type: 'number', describe: 'Override the bandwidth (Mbps, symmetric)' })
        .option('rtt', { type: 'number', describe: 'Override the round-trip time (ms)' })
        .option('compare', { type: 'boolean', describe: "Side by side: every table under each of its network profiles" })
        .option('json', { type: 'boolean', describe: 'Print the full result as JSON' })
        .check((a) => {
          for (const k of ['bandwidth', 'rtt'] as const) {
            const v = a[k] as number | undefined;
            // A returned message (not a thrown error) is a usage error: exit 2.
            if (v !== undefined && !(v > 0)) return `--${k} must be a positive number (${k === 'bandwidth' ? 'Mbps' : 'ms'}), got ${v}`;
          }
          return true;
        })
        .option('backend', { type: 'string', choices: [...BACKEND_CHOICES], describe: 'Compute backend used to trace the network (default auto)' })
        .example('$0 latency --backbone resnet18 --table delphi-gc-epyc7502', 'Per-layer cost of an all-ReLU CIFAR ResNet-18 under DELPHI')
        .example('$0 latency --backbone resnet18 --all x2act --compare --table crypten-2pc-dealer,delphi-gc-epyc7502', 'All-polynomial ResNet-18 under several tables and networks')
        .example('$0 latency runs/search/architecture.json --table cheetah-approxrelu-r50 --network WAN --rtt 20', 'An exported architecture under a custom RTT'),
    handler: (argv: ArgumentsCamelCase<LatencyArgs>) => printLatency(ctx, argv),
  };
}

/** The latency of the network `argv` names, under each table (and profile), printed. */
async function printLatency(ctx: CliContext, argv: LatencyArgs): Promise<void> {
  const { selectBackend } = await import('../engine/backend.js');
  const { costLayers } = await import('../latency/network.js');
  const { networkCost } = await import('../latency/cost.js');
  await selectBackend((argv.backend as BackendChoice | undefined) ?? 'auto');
  const { net, choices } = await networkOf(argv);
  const layers = costLayers(net, choices);
  const name = `${net.arch} ${net.inputShape.join('x')}`;
  net.dispose();
  const ids = argv.table ?? (argv.compare ? shippedTableIds() : [DEFAULT_LATENCY_TABLE]);
  const tables = ids.flatMap((t) => t.split(',')).filter(Boolean).map(loadLatencyTable);
  const overrides = { ...(argv.bandwidth !== undefined ? { bandwidthMbps: argv.bandwidth } : {}), ...(argv.rtt !== undefined ? { rttMs: argv.rtt } : {}) };
  const results: NetworkCost[] = [];
  for (const t of tables) {
    const profiles = argv.compare && !argv.network && t.networks?.length ? t.networks.map((n) => n.name) : [argv.network];
    for (const p of profiles) results.push(networkCost(layers, t, { ...overrides, ...(p ? { network: p } : {}) }));
  }
  const relus = layers.filter((l) => l.op === 'relu').reduce((a, l) => a + l.sizes.outElements, 0);
  if (argv.json) {
    ctx.out(JSON.stringify({ architecture: name.split(' ')[0], relus, results }, null, 2));
    return;
  }
  ctx.out(`${name}: ${relus.toLocaleString('en-US')} ReLUs per sample (stem included)`);
  if (results.length === 1 && !argv.compare) {
    const c = results[0]!;
    ctx.out(`table ${c.table}${c.network ? `, network ${c.network.name} (${c.network.bandwidthMbps ?? `${c.network.upMbps}/${c.network.downMbps}`} Mbps, RTT ${c.network.rttMs} ms)` : ''}`);
    for (const line of perLayerTable(c)) ctx.out(line);
  } else {
    const rows = [['table', 'network', 'time', 'comm', 'rounds', 'not modelled']];
    for (const c of results) rows.push([c.table, c.network?.name ?? '-', fmtTime(c, c.total), fmtBytes(c.commBytes), String(c.rounds), Object.entries(c.unmodelled).map(([k, v]) => `${k}×${v}`).join(' ')]);
    for (const line of pad(rows)) ctx.out(line);
  }
  for (const line of new Set(results.flatMap((c) => c.caveats))) ctx.print(`note: ${line}`);
}
