import { tf } from '../engine/tf.js';
import { InitRng } from '../nn/init.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, Sequential } from '../nn/layers.js';
import { ActivationSite, PoolSite } from '../nn/site.js';
import { Backbone, type BackboneOptions } from './backbone.js';

/** Layer list of VGG-16: channel counts, 'M' for a 2×2 max-pool site. */
const VGG16: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

/**
 * VGG-16 with BatchNorm, CIFAR form: thirteen conv3×3-BN-act layers, five 2×2 pool sites, one
 * linear classifier on the 512 features left after the last pool (input 32×32).
 */
export class VGG16BN extends Backbone {
  readonly arch = 'vgg16_bn';
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly features: Sequential;
  readonly flatten: Flatten;
  readonly classifier: Linear;

  constructor(opts: BackboneOptions) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.inputShape = opts.inputShape ?? [32, 32, 3];
    this.numClasses = opts.numClasses;
    this.features = this.module('features', new Sequential());
    let cin = this.inputShape[2];
    let size = this.inputShape[0];
    for (const v of VGG16) {
      if (v === 'M') {
        this.features.push(new PoolSite(2));
        size = Math.floor(size / 2);
      } else {
        this.features.push(new Conv2d(cin, v, 3, { rng }));
        this.features.push(new BatchNorm2d(v));
        this.features.push(new ActivationSite());
        cin = v;
      }
    }
    this.flatten = this.module('flatten', new Flatten());
    this.classifier = this.module('classifier', new Linear(cin * size * size, opts.numClasses, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.classifier.forward(this.flatten.forward(this.features.forward(x)));
  }
}
