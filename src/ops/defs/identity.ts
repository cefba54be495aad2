import type { OpDef } from '../registry.js';

/** Identity: a linearised site (SNL). */
export const identityOp: OpDef = {
  id: 'identity',
  kind: 'activation',
  summary: 'identity (a linearised site, SNL)',
  costOp: 'identity',
  async build() {
    const { Identity } = await import('../poly.js');
    return new Identity();
  },
  polynomial: () => [[0], [1]],
};
