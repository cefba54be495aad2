// Where LibTorch is: $LIBTORCH (an unpacked official archive: include/ and lib/), else Debian's
// libtorch-dev (headers in /usr/include, libraries in the multiarch folder).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function find() {
  const root = process.env.LIBTORCH;
  if (root) {
    return {
      root,
      include: [join(root, 'include'), join(root, 'include', 'torch', 'csrc', 'api', 'include')],
      libs: [`-L${join(root, 'lib')}`, `-Wl,-rpath,${join(root, 'lib')}`, '-ltorch', '-ltorch_cpu', '-lc10'],
      header: join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'),
    };
  }
  const header = '/usr/include/torch/csrc/api/include/torch/torch.h';
  return {
    root: '/usr',
    include: ['/usr/include/torch/csrc/api/include'],
    libs: ['-ltorch', '-ltorch_cpu', '-lc10'],
    header,
  };
}

const found = find();
module.exports = { ...found, available: existsSync(found.header) };
