import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withDeployedForm } from '../export/deploy.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { DEFAULT_FIXED_POINT, lowerNetwork, programHash } from '../export/program.js';
import type { Endpoint, RoleConfig, TlsFiles } from '../pi/roles.js';
import { loadModel, testImages } from './pi.js';
import { loadRecipeData } from './train.js';

/** Options of {@link exportPiSession}. */
export interface PiSessionExport {
  /** An exported `architecture.json`, or a training run folder. */
  model: string;
  /** Folder for the files to copy to the three hosts. */
  out: string;
  /** Where the dealer and the server listen (as the others reach them). */
  dealer: Endpoint;
  server: Endpoint;
  /** Test images for the client's `inputs.f32` (the first N of the model's test split), and the batch. */
  samples: number;
  batch?: number;
  dataDir?: string;
  tls?: TlsFiles;
  timeoutMs?: number;
}

/**
 * Writes everything a session across three hosts needs: `public.json` (every role), `secret.json`
 * (the server only), `inputs.f32` (the client's images), and one configuration per role for
 * `polynas pi party`. Each role listens on all interfaces at its port and reaches the others at the
 * given addresses. Returns the public part's hash, which every role checks.
 *
 * @example
 * ```ts
 * await exportPiSession({ model: 'runs/s/architecture.json', out: 'session', dealer: { host: '10.0.0.3', port: 7001 }, server: { host: '10.0.0.1', port: 7000 }, samples: 10 });
 * ```
 */
export async function exportPiSession(opts: PiSessionExport): Promise<{ programHash: string; files: string[] }> {
  const { net, normalization, dataset } = await loadModel(opts.model);
  if (opts.dataDir) dataset.dir = opts.dataDir;
  const { test } = await loadRecipeData({ seed: 0, dataset });
  const samples = Math.min(opts.samples, test.labels.length);
  net.eval();
  const { program, secrets } = withDeployedForm(net, () => lowerNetwork(net, { ...(normalization ? { normalization } : {}), fixedPoint: DEFAULT_FIXED_POINT }));
  net.dispose();
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'public.json'), program);
  writeJsonAtomic(join(out, 'secret.json'), secrets);
  const images = testImages(test, samples);
  writeFileSync(join(out, 'inputs.f32'), new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
  const base = { program: 'public.json', samples, batch: opts.batch ?? 1, timeoutMs: opts.timeoutMs ?? 120_000, ...(opts.tls ? { tls: opts.tls } : {}) };
  const any = (e: Endpoint): Endpoint => ({ host: '0.0.0.0', port: e.port });
  const configs: RoleConfig[] = [
    { ...base, role: 'dealer', listen: any(opts.dealer) },
    { ...base, role: 'server', secrets: 'secret.json', listen: any(opts.server), dealer: opts.dealer },
    { ...base, role: 'client', inputs: 'inputs.f32', dealer: opts.dealer, server: opts.server, spool: 'client.spool' },
  ];
  for (const c of configs) writeJsonAtomic(join(out, `${c.role}.config.json`), c);
  return { programHash: programHash(program), files: ['public.json', 'secret.json', 'inputs.f32', ...configs.map((c) => `${c.role}.config.json`)] };
}
