import { tf } from '../engine/tf.js';
import { InitRng } from '../nn/init.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { ActivationSite, PoolSite } from '../nn/site.js';
import { Backbone, type BackboneOptions } from './backbone.js';

/** 1×1 convolution + BatchNorm projection shortcut (He et al. option B). */
export class Projection extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride: number, rng: InitRng) {
    super();
    this.conv = this.module('conv', new Conv2d(cin, cout, 1, { stride, pad: 0, rng }));
    this.bn = this.module('bn', new BatchNorm2d(cout));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

/** conv3×3-BN-act1-conv3×3-BN (+ shortcut) -act2. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly act1: ActivationSite;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly shortcut?: Projection;
  readonly act2: ActivationSite;

  constructor(cin: number, planes: number, stride: number, rng: InitRng) {
    super();
    this.conv1 = this.module('conv1', new Conv2d(cin, planes, 3, { stride, rng }));
    this.bn1 = this.module('bn1', new BatchNorm2d(planes));
    this.act1 = this.module('act1', new ActivationSite());
    this.conv2 = this.module('conv2', new Conv2d(planes, planes, 3, { rng }));
    this.bn2 = this.module('bn2', new BatchNorm2d(planes));
    if (stride !== 1 || cin !== planes) this.shortcut = this.module('shortcut', new Projection(cin, planes, stride, rng));
    this.act2 = this.module('act2', new ActivationSite());
  }

  forward(x: tf.Tensor): tf.Tensor {
    const h = this.conv2.forward(this.act1.forwardAfterNorm(this.bn1, this.conv1.forward(x)));
    const s = this.shortcut ? this.shortcut.forward(x) : x;
    return this.act2.forwardAfterNorm(this.bn2, h, s);
  }
}

/** 1×1 reduce, 3×3 (stride), 1×1 expand ×4, with three activation sites. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly act1: ActivationSite;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly act2: ActivationSite;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly shortcut?: Projection;
  readonly act3: ActivationSite;

  constructor(cin: number, planes: number, stride: number, rng: InitRng) {
    super();
    const cout = planes * Bottleneck.expansion;
    this.conv1 = this.module('conv1', new Conv2d(cin, planes, 1, { rng }));
    this.bn1 = this.module('bn1', new BatchNorm2d(planes));
    this.act1 = this.module('act1', new ActivationSite());
    this.conv2 = this.module('conv2', new Conv2d(planes, planes, 3, { stride, rng }));
    this.bn2 = this.module('bn2', new BatchNorm2d(planes));
    this.act2 = this.module('act2', new ActivationSite());
    this.conv3 = this.module('conv3', new Conv2d(planes, cout, 1, { rng }));
    this.bn3 = this.module('bn3', new BatchNorm2d(cout));
    if (stride !== 1 || cin !== cout) this.shortcut = this.module('shortcut', new Projection(cin, cout, stride, rng));
    this.act3 = this.module('act3', new ActivationSite());
  }

  forward(x: tf.Tensor): tf.Tensor {
    let h = this.act1.forwardAfterNorm(this.bn1, this.conv1.forward(x));
    h = this.act2.forwardAfterNorm(this.bn2, this.conv2.forward(h));
    h = this.conv3.forward(h);
    const s = this.shortcut ? this.shortcut.forward(x) : x;
    return this.act3.forwardAfterNorm(this.bn3, h, s);
  }
}

type BlockType = typeof BasicBlock | typeof Bottleneck;

/** Architecture of a ResNet: block type, blocks per stage, stage widths, stem. */
export interface ResNetConfig {
  arch: string;
  block: 'basic' | 'bottleneck';
  blocks: number[];
  widths: number[];
  /** `cifar`: 3×3 stride-1 stem, no max-pool. `imagenet`: 7×7 stride-2 stem + 3×3 stride-2 max-pool. */
  stem: 'cifar' | 'imagenet';
  /**
   * A ReLU after the stem convolution (default true). False gives the network of SNL's and AutoReP's
   * `resnet18_in` (`conv → bn → layer1`), on which their published ReLU counts (ResNet-18: 491,520) hold.
   */
  stemAct?: boolean;
  inputShape: [number, number, number];
}

/**
 * ResNet family: CIFAR ResNet-20/32/56 (three stages of 16/32/64 channels, projection shortcuts) and
 * ResNet-18/34/50 in CIFAR (3×3 stem) or ImageNet (7×7 stem + max-pool) form.
 */
export class ResNet extends Backbone {
  readonly arch: string;
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly stem: Sequential;
  readonly stemAct?: ActivationSite;
  readonly stemPool?: PoolSite;
  readonly stages: Sequential;
  readonly pool: GlobalAvgPool;
  readonly fc: Linear;

  constructor(cfg: ResNetConfig, opts: BackboneOptions) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.arch = cfg.arch;
    this.inputShape = opts.inputShape ?? cfg.inputShape;
    this.numClasses = opts.numClasses;
    const Block: BlockType = cfg.block === 'basic' ? BasicBlock : Bottleneck;
    const stemWidth = cfg.widths[0]!;
    const stemConv =
      cfg.stem === 'cifar'
        ? new Conv2d(this.inputShape[2], stemWidth, 3, { rng })
        : new Conv2d(this.inputShape[2], stemWidth, 7, { stride: 2, pad: 3, rng });
    this.stem = this.module('stem', new Sequential(stemConv, new BatchNorm2d(stemWidth)));
    if (cfg.stemAct ?? true) this.stemAct = this.module('stem_act', new ActivationSite({ stem: true }));
    if (cfg.stem === 'imagenet') this.stemPool = this.module('stem_pool', new PoolSite(3, 2, 1, 'max'));
    this.stages = this.module('stages', new Sequential());
    let cin = stemWidth;
    cfg.blocks.forEach((n, i) => {
      const stage = new Sequential();
      for (let b = 0; b < n; b++) {
        const stride = b === 0 && i > 0 ? 2 : 1;
        stage.push(new Block(cin, cfg.widths[i]!, stride, rng));
        cin = cfg.widths[i]! * Block.expansion;
      }
      this.stages.push(stage);
    });
    this.pool = this.module('pool', new GlobalAvgPool());
    this.fc = this.module('fc', new Linear(cin, opts.numClasses, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    let h = this.stemAct ? this.stem.forwardThen(this.stemAct, x) : this.stem.forward(x);
    if (this.stemPool) h = this.stemPool.forward(h);
    return this.fc.forward(this.pool.forward(this.stages.forward(h)));
  }
}

const CIFAR: [number, number, number] = [32, 32, 3];
const IMAGENET: [number, number, number] = [224, 224, 3];

/** Named ResNet configurations. */
export const RESNET_CONFIGS = {
  resnet20: { arch: 'resnet20', block: 'basic', blocks: [3, 3, 3], widths: [16, 32, 64], stem: 'cifar', inputShape: CIFAR },
  resnet32: { arch: 'resnet32', block: 'basic', blocks: [5, 5, 5], widths: [16, 32, 64], stem: 'cifar', inputShape: CIFAR },
  resnet56: { arch: 'resnet56', block: 'basic', blocks: [9, 9, 9], widths: [16, 32, 64], stem: 'cifar', inputShape: CIFAR },
  resnet18: { arch: 'resnet18', block: 'basic', blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], stem: 'cifar', inputShape: CIFAR },
  resnet34: { arch: 'resnet34', block: 'basic', blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem: 'cifar', inputShape: CIFAR },
  resnet50: { arch: 'resnet50', block: 'bottleneck', blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem: 'cifar', inputShape: CIFAR },
  'resnet18-imagenet': { arch: 'resnet18-imagenet', block: 'basic', blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], stem: 'imagenet', inputShape: IMAGENET },
  'resnet34-imagenet': { arch: 'resnet34-imagenet', block: 'basic', blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem: 'imagenet', inputShape: IMAGENET },
  'resnet50-imagenet': { arch: 'resnet50-imagenet', block: 'bottleneck', blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem: 'imagenet', inputShape: IMAGENET },
} as const satisfies Record<string, ResNetConfig>;

/**
 * The CIFAR-stem ResNets without a stem ReLU, named `<arch>-nostem` (SNL's and AutoReP's networks:
 * published budgets such as 12.9K of ResNet-18's 491,520 ReLUs refer to these).
 */
export const RESNET_NOSTEM_CONFIGS: Record<string, ResNetConfig> = Object.fromEntries(
  Object.values(RESNET_CONFIGS)
    .filter((c) => c.stem === 'cifar')
    .map((c) => [`${c.arch}-nostem`, { ...c, arch: `${c.arch}-nostem`, stemAct: false }]),
);
