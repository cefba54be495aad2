import type { OpDef } from '../registry.js';

/** ReLU: the expensive candidate, one secure comparison per element. */
export const reluOp: OpDef = {
  id: 'relu',
  kind: 'activation',
  summary: 'ReLU: one secure comparison per element',
  costOp: 'relu',
  isRelu: true,
  async build() {
    const { ReLU } = await import('../../nn/layers.js');
    return new ReLU();
  },
};
