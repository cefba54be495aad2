import type { Backbone, BackboneOptions } from './backbone.js';
import { LeNet5 } from './lenet.js';
import { MobileNetV2 } from './mobilenetv2.js';
import { RESNET_CONFIGS, RESNET_NOSTEM_CONFIGS, ResNet } from './resnet.js';
import { VGG16BN } from './vgg.js';
import { WideResNet } from './wide-resnet.js';

type Factory = (opts: BackboneOptions) => Backbone;

const registry = new Map<string, Factory>();

/** Adds a backbone to the registry; registering a name twice throws. */
export function registerBackbone(name: string, factory: Factory): void {
  if (registry.has(name)) throw new Error(`backbone '${name}' is registered twice`);
  registry.set(name, factory);
}

/** Names of all registered backbones. */
export function backboneNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Builds a registered backbone.
 *
 * @example
 * ```ts
 * const net = createBackbone('resnet20', { numClasses: 10, seed: 1 });
 * net.parameterCount(); // 272474
 * ```
 */
export function createBackbone(name: string, opts: BackboneOptions): Backbone {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown backbone '${name}'; known: ${backboneNames().join(', ')}`);
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) {
    throw new Error(`backbone '${name}': numClasses must be a positive integer, got ${opts.numClasses}`);
  }
  return f(opts);
}

// The one place where the built-in backbones are registered.
for (const [name, cfg] of Object.entries({ ...RESNET_CONFIGS, ...RESNET_NOSTEM_CONFIGS })) registerBackbone(name, (o) => new ResNet(cfg, o));
registerBackbone('wrn22_8', (o) => new WideResNet(22, 8, o));
registerBackbone('vgg16_bn', (o) => new VGG16BN(o));
registerBackbone('mobilenetv2', (o) => new MobileNetV2(o));
registerBackbone('lenet5', (o) => new LeNet5(o));
