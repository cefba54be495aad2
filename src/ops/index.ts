export { X2act, type X2actOptions, type X2actScale } from './x2act.js';
export { ChannelPoly, Identity, type ChannelPolyOptions } from './poly.js';
export { dapaCoefficients } from './dapa.js';
export { normalPdf, normalCdf, gaussianMoments, positivePartialMoments } from './gaussian.js';
