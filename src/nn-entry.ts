/**
 * `polynas/nn`: the module system (`Module`, layers, sites) and the operator modules, for writing
 * backbones and operators.
 *
 * @packageDocumentation
 */
export * from './nn/index.js';
export { X2act, type X2actOptions, type X2actScale } from './ops/x2act.js';
export { ChannelPoly, Identity, type ChannelPolyOptions } from './ops/poly.js';
export { dapaCoefficients } from './ops/dapa.js';
export { normalPdf, normalCdf, gaussianMoments, positivePartialMoments } from './ops/gaussian.js';
