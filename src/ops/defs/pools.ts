import type { OpDef, OpSite } from '../registry.js';

const windowOf = (site: OpSite, id: string) => {
  if (site.kernel === undefined) throw new Error(`${id}: a pooling operator needs the site's window (kernel, stride, pad)`);
  return [site.kernel, site.stride ?? site.kernel, site.pad ?? 0] as const;
};

/** MaxPool: a ReLU-based maximum tree under 2PC. */
export const maxpoolOp: OpDef = {
  id: 'maxpool',
  kind: 'pool',
  summary: 'max pooling (comparisons under 2PC)',
  costOp: 'maxpool',
  async build(site) {
    const { MaxPool2d } = await import('../../nn/layers.js');
    return new MaxPool2d(...windowOf(site, 'maxpool'));
  },
};

/** AvgPool: linear, cheap under 2PC. */
export const avgpoolOp: OpDef = {
  id: 'avgpool',
  kind: 'pool',
  summary: 'average pooling (linear)',
  costOp: 'avgpool',
  async build(site) {
    const { AvgPool2d } = await import('../../nn/layers.js');
    return new AvgPool2d(...windowOf(site, 'avgpool'));
  },
};
