export { Backbone, type BackboneOptions, type ReluReport, type SiteReluCount } from './backbone.js';
export { ResNet, BasicBlock, Bottleneck, RESNET_CONFIGS, type ResNetConfig } from './resnet.js';
export { WideResNet } from './wide-resnet.js';
export { VGG16BN } from './vgg.js';
export { MobileNetV2 } from './mobilenetv2.js';
export { LeNet5 } from './lenet.js';
export { createBackbone, registerBackbone, backboneNames } from './registry.js';
