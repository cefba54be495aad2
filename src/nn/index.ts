export { Module, PARAM_GROUPS, type ParamGroup, type TensorState } from './module.js';
export { InitRng, kaimingNormal, uniform } from './init.js';
export {
  Conv2d,
  type Conv2dOptions,
  BatchNorm2d,
  Linear,
  ReLU,
  MaxPool2d,
  AvgPool2d,
  GlobalAvgPool,
  Flatten,
  Sequential,
} from './layers.js';
export { Site, ActivationSite, PoolSite, SITE_KINDS, type SiteKind, type ReluCounting, type ComparisonCounting } from './site.js';
export { SecureOpCounter, MeteredReLU, MeteredMaxPool2d } from './metered.js';
