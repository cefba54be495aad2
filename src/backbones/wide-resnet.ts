import { tf } from '../engine/tf.js';
import { InitRng } from '../nn/init.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { ActivationSite } from '../nn/site.js';
import { Backbone, type BackboneOptions } from './backbone.js';

/** Pre-activation block of a wide ResNet: BN-act1-conv3×3-BN-act2-conv3×3 (+ 1×1 shortcut). */
class WideBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly act1: ActivationSite;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly act2: ActivationSite;
  readonly conv2: Conv2d;
  readonly shortcut?: Conv2d;

  constructor(cin: number, cout: number, stride: number, rng: InitRng) {
    super();
    this.bn1 = this.module('bn1', new BatchNorm2d(cin));
    this.act1 = this.module('act1', new ActivationSite());
    this.conv1 = this.module('conv1', new Conv2d(cin, cout, 3, { stride, rng }));
    this.bn2 = this.module('bn2', new BatchNorm2d(cout));
    this.act2 = this.module('act2', new ActivationSite());
    this.conv2 = this.module('conv2', new Conv2d(cout, cout, 3, { rng }));
    if (stride !== 1 || cin !== cout) this.shortcut = this.module('shortcut', new Conv2d(cin, cout, 1, { stride, pad: 0, rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const o = this.act1.forwardAfterNorm(this.bn1, x);
    const h = this.conv2.forward(this.act2.forwardAfterNorm(this.bn2, this.conv1.forward(o)));
    // As in the reference WRN code, the projection shortcut reads the pre-activated input.
    return tf.add(h, this.shortcut ? this.shortcut.forward(o) : x);
  }
}

/**
 * Wide ResNet WRN-d-k for CIFAR (Zagoruyko & Komodakis): (d−4)/6 pre-activation blocks per stage,
 * widths 16k, 32k, 64k, final BN-act, global pool, linear. `wrn22_8` is the SNL/AutoReP backbone.
 */
export class WideResNet extends Backbone {
  readonly arch: string;
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly stem: Conv2d;
  readonly stages: Sequential;
  readonly bn: BatchNorm2d;
  readonly act: ActivationSite;
  readonly pool: GlobalAvgPool;
  readonly fc: Linear;

  constructor(depth: number, widen: number, opts: BackboneOptions) {
    super();
    if ((depth - 4) % 6 !== 0) throw new Error(`WideResNet: depth must be 6n+4, got ${depth}`);
    const n = (depth - 4) / 6;
    const rng = new InitRng(opts.seed ?? 0);
    this.arch = `wrn${depth}_${widen}`;
    this.inputShape = opts.inputShape ?? [32, 32, 3];
    this.numClasses = opts.numClasses;
    this.stem = this.module('stem', new Conv2d(this.inputShape[2], 16, 3, { rng }));
    this.stages = this.module('stages', new Sequential());
    let cin = 16;
    [16 * widen, 32 * widen, 64 * widen].forEach((w, i) => {
      const stage = new Sequential();
      for (let b = 0; b < n; b++) {
        stage.push(new WideBlock(cin, w, b === 0 && i > 0 ? 2 : 1, rng));
        cin = w;
      }
      this.stages.push(stage);
    });
    this.bn = this.module('bn', new BatchNorm2d(cin));
    this.act = this.module('act', new ActivationSite());
    this.pool = this.module('pool', new GlobalAvgPool());
    this.fc = this.module('fc', new Linear(cin, opts.numClasses, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const h = this.act.forwardAfterNorm(this.bn, this.stages.forward(this.stem.forward(x)));
    return this.fc.forward(this.pool.forward(h));
  }
}
