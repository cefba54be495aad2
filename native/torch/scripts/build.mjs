#!/usr/bin/env node
// Builds the optional LibTorch engine of polynas (native/torch/build/Release/polynas_torch.node).
// Without LibTorch it says how to get it and exits 0 unless --require is given, so installs never
// fail for users who do not want the native engine.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const lib = require('./libtorch.cjs');
const strict = process.argv.includes('--require');
if (!lib.available) {
  const msg = `polynas torch engine: LibTorch headers not found at ${lib.header}. Install Debian's libtorch-dev (apt-get install -y libtorch-dev) or set LIBTORCH to an unpacked LibTorch archive, then run npm run build:torch.`;
  console.error(msg);
  process.exit(strict ? 1 : 0);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js';
}
const args = [gyp, 'rebuild', '-j', 'max'];
if (!process.env.npm_config_nodedir) {
  // Debian's nodejs ships its headers; use them so the build needs no download.
  const { existsSync } = await import('node:fs');
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
}
console.error(`polynas torch engine: building against ${lib.root} …`);
const r = spawnSync(process.execPath, args, { cwd: here, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('polynas torch engine: build failed (see above)');
  process.exit(strict ? 1 : 0);
}
console.error(`polynas torch engine: built ${join(here, 'build', 'Release', 'polynas_torch.node')}`);
