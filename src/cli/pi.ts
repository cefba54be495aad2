import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CliContext } from './common.js';
import type { PiRunReport } from '../run/pi.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/choices.js';

interface PiRunArgs {
  model: string;
  samples: number;
  batch: number;
  dataDir?: string;
  table?: string;
  network?: string;
  shape?: boolean;
  netns?: boolean;
  bandwidth?: number;
  rtt?: number;
  frac?: number;
  weightFrac?: number;
  out?: string;
  timeout: number;
  json?: boolean;
  backend?: string;
}

const kb = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

/** The per-layer table and the totals of a run, as text. */
export function formatPiReport(r: PiRunReport): string[] {
  const rows = [['layer', 'op', 'ms', 'server→client', 'client→server', 'rounds', 'offline', `${r.table}: bytes`, 'rounds']];
  for (const l of r.layers) {
    const p = l.predicted;
    rows.push([l.path, l.op, l.ms.toFixed(2), kb(l.bytesServerToClient), kb(l.bytesClientToServer), String(l.rounds), kb(l.offlineBytes), p ? (p.modelled ? kb(p.bytes) : 'not modelled') : '—', p?.modelled ? String(p.rounds) : '—']);
  }
  const t = r.total;
  const a = r.agreement;
  return [
    `polynas pi run: ${r.backbone}, ${r.samples} images (batch ${r.batch}), Z_2^64 with ${r.fixedPoint.frac} fractional bits (weights ${r.fixedPoint.weightFrac})`,
    ...pad(rows),
    `total per image: ${t.onlineMs.toFixed(1)} ms online on ${r.link === 'loopback' ? 'loopback' : `${r.link.kind === 'netns' ? 'links between network namespaces' : 'a relay link'} (RTT ${r.link.rttMs.toFixed(3)} ms${r.link.bandwidthMbps ? `, ${r.link.bandwidthMbps} Mbit/s` : ''})`}, ${kb(t.bytes)} and ${t.rounds} rounds online, ${kb(t.offlineBytes)} of dealer material; table ${r.table}: ${kb(t.predictedBytes)}, ${t.predictedRounds} rounds${t.predictedMs !== null ? `, ${t.predictedMs.toFixed(1)} ms${r.network ? ` (${r.network})` : ''}` : ''}`,
    `setup (once): ${kb(t.setupBytes)} of masked weights, ${t.setupMs.toFixed(0)} ms`,
    `top-1 agreement: with the fixed-point reference ${(a.referenceTop1 * 100).toFixed(2)} %, with the float network ${(a.floatTop1 * 100).toFixed(2)} %; accuracy secure ${(a.labelTop1Secure * 100).toFixed(2)} %, float ${(a.labelTop1Float * 100).toFixed(2)} %; largest logit difference ${a.maxReferenceUlps.toFixed(0)} ulp from the reference, ${a.maxFloatError.toExponential(2)} from float`,
    `precision: largest activation ${r.precision.maxAbs.toFixed(2)}, ${r.precision.bitsUsed} of 64 bits, ≤ ${r.precision.failuresPerImage.toExponential(1)} failed truncations per image expected`,
  ];
}

/** `polynas pi run`: an exported network under 2PC on this machine. */
function piRunCommand(ctx: CliContext) {
  return {
    command: 'run <model>',
    describe: 'Evaluate test images under semi-honest 2PC with a trusted dealer (three processes over loopback TCP); per-layer time, bytes, rounds next to the latency table',
    builder: (a: Argv) =>
      a
        .positional('model', { type: 'string', demandOption: true, describe: 'architecture.json (searched), or a training run folder (all-ReLU)' })
        .option('samples', { type: 'number', default: 100, describe: 'Test images (the first N)' })
        .option('batch', { type: 'number', default: 1, describe: 'Images per protocol batch' })
        .option('data-dir', { type: 'string', describe: 'Folder with the dataset files' })
        .option('table', { type: 'string', describe: 'Latency table to compare with (default: the export\'s, else crypten-2pc-dealer)' })
        .option('network', { type: 'string', describe: "A network profile of that table (e.g. LAN, WAN) for the predicted time" })
        .option('frac', { type: 'number', describe: 'Fractional bits of activations (default 12)' })
        .option('weight-frac', { type: 'number', describe: 'Fractional bits of weights and coefficients (default 16)' })
        .option('shape', { type: 'boolean', describe: 'Send the client–server traffic through a relay that delays and rate-limits it like --network (this kernel has no netem)' })
        .option('netns', { type: 'boolean', describe: 'Run the three roles in three network namespaces, each link rate-limited by the kernel at the profile\'s bandwidth (root); the prediction uses the links\' measured RTT' })
        .option('bandwidth', { type: 'number', describe: 'Bandwidth in Mbit/s for the prediction and the shaped link (overrides the profile)' })
        .option('rtt', { type: 'number', describe: 'Round-trip time in ms for the prediction and the relay (overrides the profile)' })
        .option('out', { type: 'string', describe: 'Folder for pi-run.json, pi-layers.csv and the role files (default: beside the model)' })
        .option('timeout', { type: 'number', default: 120, describe: 'Seconds any party waits for another before the run fails' })
        .option('backend', { type: 'string', choices: [...BACKEND_CHOICES], describe: 'Compute backend of the float network the secure logits are compared with (default auto)' })
        .option('json', { type: 'boolean', describe: 'Print the report as JSON' })
        .example('$0 pi run runs/s/architecture.json --samples 100 --network WAN', 'A searched network, compared with its table'),
    handler: async (argv: ArgumentsCamelCase<PiRunArgs>) => {
      const { privateInference } = await import('../run/pi.js');
      const { selectBackend } = await import('../engine/backend.js');
      await selectBackend((argv.backend as BackendChoice | undefined) ?? 'auto');
      const model = resolve(argv.model);
      const out = resolve(argv.out ?? (model.endsWith('.json') ? resolve(model, '..') : model));
      const r = await privateInference({
        architecture: model, samples: argv.samples, batch: argv.batch, out, timeoutMs: argv.timeout * 1000,
        ...(argv.dataDir ? { dataDir: resolve(argv.dataDir) } : {}), ...(argv.table ? { table: argv.table } : {}), ...(argv.network ? { network: argv.network } : {}), ...(argv.shape ? { shape: true } : {}), ...(argv.netns ? { netns: true } : {}),
        ...(argv.bandwidth !== undefined ? { bandwidthMbps: argv.bandwidth } : {}), ...(argv.rtt !== undefined ? { rttMs: argv.rtt } : {}),
        ...(argv.frac !== undefined ? { frac: argv.frac } : {}), ...(argv.weightFrac !== undefined ? { weightFrac: argv.weightFrac } : {}),
      });
      if (argv.json) ctx.out(JSON.stringify(r, null, 2));
      else for (const l of formatPiReport(r)) ctx.out(l);
    },
  };
}

/** `polynas pi calibrate`: this machine's latency table. */
function piCalibrateCommand(ctx: CliContext) {
  return {
    command: 'calibrate',
    describe: "Measure the runtime's operators on this machine and write a latency table (bytes, rounds, fitted compute) that search recipes can use",
    builder: (a: Argv) =>
      a
        .option('out', { type: 'string', default: 'polynas-pi-dealer.json', describe: 'The table file to write' })
        .option('id', { type: 'string', default: 'polynas-pi-dealer', describe: "The table's id" })
        .option('samples', { type: 'number', default: 10, describe: 'Images through the calibration network per session' })
        .option('sessions', { type: 'number', default: 5, describe: 'Sessions (each layer takes the median time over them)' })
        .example('$0 pi calibrate --out my-machine.json', 'Then set "latency": { "table": "my-machine.json", "network": "WAN" } in a search recipe'),
    handler: async (argv: ArgumentsCamelCase<{ out: string; id: string; samples: number; sessions: number }>) => {
      const { calibrate } = await import('../pi/calibrate.js');
      const { writeJsonAtomic } = await import('../io/atomic.js');
      const out = resolve(argv.out);
      const { table, points, link } = await calibrate({ dir: resolve(out, '..', `.${argv.id}-work`), samples: argv.samples, sessions: argv.sessions, id: argv.id });
      writeJsonAtomic(out, { $schema: './latency-table.schema.json', ...table });
      ctx.out(`polynas pi calibrate: loopback RTT ${link.rttMs.toFixed(3)} ms, ${(link.mbps / 1000).toFixed(2)} Gbit/s`);
      for (const p of points) ctx.out(`  ${p.op.padEnd(9)} n=${String(p.n).padStart(8)}  ${p.ms.toFixed(2).padStart(8)} ms  (link ${p.commMs.toFixed(2)} ms, ${p.flights} flights, ${p.bytes} B)`);
      ctx.out(`wrote ${out}`);
    },
  };
}

/** `polynas pi party`: one role of a session from its configuration file. */
function piPartyCommand(ctx: CliContext) {
  return {
    command: 'party <config> <report>',
    describe: 'Run one role (dealer, server or client) from a role configuration file; for sessions across hosts (docs/pi.md)',
    builder: (a: Argv) =>
      a.positional('config', { type: 'string', demandOption: true, describe: 'RoleConfig JSON' }).positional('report', { type: 'string', demandOption: true, describe: 'Where to write the role report' }),
    handler: async (argv: ArgumentsCamelCase<{ config: string; report: string }>) => {
      const { runDealer, runParty } = await import('../pi/roles.js');
      const { readFileSync } = await import('node:fs');
      const { writeJsonAtomic } = await import('../io/atomic.js');
      const { resolveConfigPaths } = await import('../pi/roles.js');
      const { dirname } = await import('node:path');
      // Paths in a configuration are relative to its folder (as `polynas pi export` writes them).
      const cfg = resolveConfigPaths(JSON.parse(readFileSync(argv.config, 'utf8')) as import('../pi/roles.js').RoleConfig, dirname(resolve(argv.config)));
      const report = cfg.role === 'dealer' ? await runDealer(cfg) : await runParty(cfg);
      writeJsonAtomic(argv.report, report);
      ctx.print(`polynas pi ${cfg.role}: done (${report.onlineMs.toFixed(0)} ms online)`);
    },
  };
}

/** `host:port` → an endpoint. */
function endpoint(what: string, v: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--${what}: expected host:port, got '${v}'`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** `polynas pi export`: the files of a session across three hosts. */
function piExportCommand(ctx: CliContext) {
  return {
    command: 'export <model>',
    describe: 'Write the public part, the secret part, the client\'s images and one configuration per role, for a session across three hosts (then `polynas pi party` on each)',
    builder: (a: Argv) =>
      a
        .positional('model', { type: 'string', demandOption: true, describe: 'architecture.json, or a training run folder' })
        .option('out', { type: 'string', demandOption: true, describe: 'Folder for the session files' })
        .option('dealer', { type: 'string', demandOption: true, describe: 'host:port where the dealer listens' })
        .option('server', { type: 'string', demandOption: true, describe: 'host:port where the server listens' })
        .option('samples', { type: 'number', default: 10, describe: 'Test images for the client' })
        .option('batch', { type: 'number', default: 1, describe: 'Images per protocol batch' })
        .option('data-dir', { type: 'string', describe: 'Folder with the dataset files' })
        .option('tls-key', { type: 'string', describe: 'TLS key file (each host its own; same name on every host)' })
        .option('tls-cert', { type: 'string', describe: 'TLS certificate file' })
        .option('tls-ca', { type: 'string', describe: 'Certificates the roles trust for each other' })
        .example('$0 pi export runs/s/architecture.json --out session --dealer 10.0.0.3:7001 --server 10.0.0.1:7000', 'Copy public.json to all three hosts, secret.json to the server only'),
    handler: async (argv: ArgumentsCamelCase<{ model: string; out: string; dealer: string; server: string; samples: number; batch: number; dataDir?: string; tlsKey?: string; tlsCert?: string; tlsCa?: string }>) => {
      const tlsGiven = [argv.tlsKey, argv.tlsCert, argv.tlsCa].filter(Boolean).length;
      if (tlsGiven > 0 && tlsGiven < 3) throw new Error('--tls-key, --tls-cert and --tls-ca go together');
      const { exportPiSession } = await import('../run/pi-export.js');
      const r = await exportPiSession({
        model: resolve(argv.model), out: argv.out, dealer: endpoint('dealer', argv.dealer), server: endpoint('server', argv.server), samples: argv.samples, batch: argv.batch,
        ...(argv.dataDir ? { dataDir: resolve(argv.dataDir) } : {}), ...(tlsGiven ? { tls: { key: argv.tlsKey!, cert: argv.tlsCert!, ca: argv.tlsCa! } } : {}),
      });
      ctx.out(`polynas pi export: ${r.files.join(', ')} in ${resolve(argv.out)}; public part ${r.programHash.slice(0, 16)}…`);
      ctx.out('copy public.json and the role\'s config to every host, secret.json to the server only; then `polynas pi party <role>.config.json <role>.report.json` on each');
    },
  };
}

/** `polynas pi`: private inference under 2PC. */
export function piCommand(ctx: CliContext) {
  return {
    command: 'pi <command>',
    describe: 'Private inference: run a network under 2PC (dealer, server, client) and measure it',
    builder: (y: Argv) => y.command(piRunCommand(ctx)).command(piCalibrateCommand(ctx)).command(piExportCommand(ctx)).command(piPartyCommand(ctx)).demandCommand(1),
    handler: () => undefined,
  };
}
