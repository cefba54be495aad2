import { tf } from '../engine/tf.js';
import { InitRng } from '../nn/init.js';
import { Conv2d, Flatten, Linear } from '../nn/layers.js';
import { ActivationSite, PoolSite } from '../nn/site.js';
import { Backbone, type BackboneOptions } from './backbone.js';

/**
 * LeNet-5 for 28×28 inputs: conv5×5(6, pad 2)-act-pool, conv5×5(16)-act-pool, fc 120-act, fc 84-act,
 * fc classes. Pool sites are 2×2 max-pools; conv and fc layers have biases.
 */
export class LeNet5 extends Backbone {
  readonly arch = 'lenet5';
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly conv1: Conv2d;
  readonly act1: ActivationSite;
  readonly pool1: PoolSite;
  readonly conv2: Conv2d;
  readonly act2: ActivationSite;
  readonly pool2: PoolSite;
  readonly flatten: Flatten;
  readonly fc1: Linear;
  readonly act3: ActivationSite;
  readonly fc2: Linear;
  readonly act4: ActivationSite;
  readonly fc3: Linear;

  constructor(opts: BackboneOptions) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.inputShape = opts.inputShape ?? [28, 28, 1];
    this.numClasses = opts.numClasses;
    const [h, w, c] = this.inputShape;
    this.conv1 = this.module('conv1', new Conv2d(c, 6, 5, { pad: 2, bias: true, rng }));
    this.act1 = this.module('act1', new ActivationSite());
    this.pool1 = this.module('pool1', new PoolSite(2));
    this.conv2 = this.module('conv2', new Conv2d(6, 16, 5, { pad: 0, bias: true, rng }));
    this.act2 = this.module('act2', new ActivationSite());
    this.pool2 = this.module('pool2', new PoolSite(2));
    this.flatten = this.module('flatten', new Flatten());
    const fh = Math.floor((Math.floor(h / 2) - 4) / 2);
    const fw = Math.floor((Math.floor(w / 2) - 4) / 2);
    this.fc1 = this.module('fc1', new Linear(16 * fh * fw, 120, { rng }));
    this.act3 = this.module('act3', new ActivationSite());
    this.fc2 = this.module('fc2', new Linear(120, 84, { rng }));
    this.act4 = this.module('act4', new ActivationSite());
    this.fc3 = this.module('fc3', new Linear(84, opts.numClasses, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    let h = this.pool1.forward(this.act1.forward(this.conv1.forward(x)));
    h = this.flatten.forward(this.pool2.forward(this.act2.forward(this.conv2.forward(h))));
    h = this.act4.forward(this.fc2.forward(this.act3.forward(this.fc1.forward(h))));
    return this.fc3.forward(h);
  }
}
