// Where LibTorch is: $LIBTORCH (an unpacked official archive: include/ and lib/), else Debian's
// libtorch-dev (headers in /usr/include, libraries in the multiarch folder).
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

// The OpenMP runtime the addon's own parallel loops (at::parallel_for, inlined from ATen's headers and
// compiled with -fopenmp) run on must be LibTorch's, so that at::set_num_threads governs them too:
// an official archive carries its own libgomp (lib/libgomp-<hash>.so.1), Debian's LibTorch the
// system's.
function openmp(lib) {
  const own = lib && existsSync(lib) ? readdirSync(lib).find((f) => /^libgomp.*\.so/.test(f)) : undefined;
  return own ? [join(lib, own)] : ['-fopenmp'];
}

function find() {
  const root = process.env.LIBTORCH;
  if (root) {
    return {
      root,
      include: [join(root, 'include'), join(root, 'include', 'torch', 'csrc', 'api', 'include')],
      libs: [`-L${join(root, 'lib')}`, `-Wl,-rpath,${join(root, 'lib')}`, '-ltorch', '-ltorch_cpu', '-lc10', ...openmp(join(root, 'lib'))],
      header: join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'),
    };
  }
  const header = '/usr/include/torch/csrc/api/include/torch/torch.h';
  return {
    root: '/usr',
    include: ['/usr/include/torch/csrc/api/include'],
    libs: ['-ltorch', '-ltorch_cpu', '-lc10', ...openmp()],
    header,
  };
}

const found = find();
module.exports = { ...found, available: existsSync(found.header) };
