#!/usr/bin/env node
// Builds polynas' native code: the 2PC runtime's ring arithmetic (native/ring, needs only a C++
// compiler) and the optional LibTorch engine (native/torch/build/Release/polynas_torch.node).
// Without LibTorch it says how to get it and exits 0 unless --require is given, so installs never
// fail for users who do not want the native engine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const ringDir = join(here, '..', 'ring');
const require = createRequire(import.meta.url);
const lib = require('./libtorch.cjs');
const strict = process.argv.includes('--require');

// node-gyp: the package's own (a dev install), else the one npm bundles, found from the npm that runs
// this script (npm_execpath) or from the node binary's prefix; never a fixed path.
const candidates = [
  () => require.resolve('node-gyp/bin/node-gyp.js'),
  () => process.env.npm_config_node_gyp,
  () => process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  () => join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
];
let gyp;
for (const c of candidates) {
  try {
    const p = c();
    if (p && existsSync(p)) {
      gyp = p;
      break;
    }
  } catch {
    // not this one
  }
}
if (!gyp) {
  console.error('polynas native build: node-gyp not found (neither installed beside polynas nor bundled with npm); npm install -g node-gyp');
  process.exit(strict ? 1 : 0);
}
const args = [gyp, 'rebuild', '-j', 'max'];
if (!process.env.npm_config_nodedir) {
  // Debian's nodejs ships its headers; use them so the build needs no download.
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
}

function build(cwd, what) {
  console.error(`polynas native build: ${what} …`);
  const r = spawnSync(process.execPath, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`polynas native build: ${what} failed (see above)`);
    process.exit(strict ? 1 : 0);
  }
}

build(ringDir, 'the 2PC runtime\'s ring arithmetic');
console.error(`polynas native build: built ${join(ringDir, 'build', 'Release', 'polynas_ring.node')}`);
if (!lib.available) {
  console.error(`polynas torch engine: LibTorch headers not found at ${lib.header}. Install Debian's libtorch-dev (apt-get install -y libtorch-dev) or set LIBTORCH to an unpacked LibTorch archive, then run npm run build:torch.`);
  process.exit(strict ? 1 : 0);
}
build(here, `the LibTorch engine against ${lib.root}`);
console.error(`polynas torch engine: built ${join(here, 'build', 'Release', 'polynas_torch.node')}`);
