import { tf } from '../engine/tf.js';
import { InitRng } from '../nn/init.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { ActivationSite } from '../nn/site.js';
import { Backbone, type BackboneOptions } from './backbone.js';

/** Inverted residual: 1×1 expand-BN-act, depthwise 3×3-BN-act, 1×1 project-BN (+ identity). */
class InvertedResidual extends Module {
  readonly expand?: Sequential;
  readonly act1?: ActivationSite;
  readonly dw: Sequential;
  readonly act2: ActivationSite;
  readonly project: Sequential;
  readonly residual: boolean;

  constructor(cin: number, cout: number, stride: number, expansion: number, rng: InitRng) {
    super();
    const hidden = cin * expansion;
    if (expansion !== 1) {
      this.expand = this.module('expand', new Sequential(new Conv2d(cin, hidden, 1, { pad: 0, rng }), new BatchNorm2d(hidden)));
      this.act1 = this.module('act1', new ActivationSite());
    }
    this.dw = this.module('dw', new Sequential(new Conv2d(hidden, hidden, 3, { stride, groups: hidden, rng }), new BatchNorm2d(hidden)));
    this.act2 = this.module('act2', new ActivationSite());
    this.project = this.module('project', new Sequential(new Conv2d(hidden, cout, 1, { pad: 0, rng }), new BatchNorm2d(cout)));
    this.residual = stride === 1 && cin === cout;
  }

  forward(x: tf.Tensor): tf.Tensor {
    let h = x;
    if (this.expand && this.act1) h = this.expand.forwardThen(this.act1, h);
    h = this.project.forward(this.dw.forwardThen(this.act2, h));
    return this.residual ? tf.add(h, x) : h;
  }
}

/** (expansion t, channels c, repeats n, first stride s); CIFAR form: stride 1 in the second row. */
const SETTINGS: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 1],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2, CIFAR variant (stride-1 stem and second stage, so 32×32 inputs end at 4×4).
 * Activation sites use ReLU where the ImageNet model uses ReLU6: polynomial replacement targets
 * ReLU, and the two agree below 6.
 */
export class MobileNetV2 extends Backbone {
  readonly arch = 'mobilenetv2';
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly stem: Sequential;
  readonly stemAct: ActivationSite;
  readonly blocks: Sequential;
  readonly head: Sequential;
  readonly headAct: ActivationSite;
  readonly pool: GlobalAvgPool;
  readonly fc: Linear;

  constructor(opts: BackboneOptions) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.inputShape = opts.inputShape ?? [32, 32, 3];
    this.numClasses = opts.numClasses;
    this.stem = this.module('stem', new Sequential(new Conv2d(this.inputShape[2], 32, 3, { rng }), new BatchNorm2d(32)));
    this.stemAct = this.module('stem_act', new ActivationSite({ stem: true }));
    this.blocks = this.module('blocks', new Sequential());
    let cin = 32;
    for (const [t, c, n, s] of SETTINGS) {
      for (let i = 0; i < n; i++) {
        this.blocks.push(new InvertedResidual(cin, c, i === 0 ? s : 1, t, rng));
        cin = c;
      }
    }
    this.head = this.module('head', new Sequential(new Conv2d(cin, 1280, 1, { pad: 0, rng }), new BatchNorm2d(1280)));
    this.headAct = this.module('head_act', new ActivationSite());
    this.pool = this.module('pool', new GlobalAvgPool());
    this.fc = this.module('fc', new Linear(1280, opts.numClasses, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const h = this.blocks.forward(this.stem.forwardThen(this.stemAct, x));
    return this.fc.forward(this.pool.forward(this.head.forwardThen(this.headAct, h)));
  }
}
