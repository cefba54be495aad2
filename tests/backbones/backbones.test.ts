import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { backboneNames, createBackbone, registerBackbone } from '../../src/backbones/registry.js';

describe('backbones', () => {
  // Reference parameter counts: CIFAR ResNet-20 with 1×1-conv+BN projection shortcuts (272,474) and
  // CIFAR ResNet-18 (11,173,962) as given in the issue; torchvision's resnet18/34/50 for the ImageNet
  // forms; LeNet-5 (6·(25+1) + 16·(150+1) + 120·401 + 84·121 + 10·85 = 61,706).
  const counts: [string, number, number][] = [
    ['resnet20', 10, 272_474],
    ['resnet18', 10, 11_173_962],
    ['resnet18-imagenet', 1000, 11_689_512],
    ['resnet34-imagenet', 1000, 21_797_672],
    ['resnet50-imagenet', 1000, 25_557_032],
    ['lenet5', 10, 61_706],
  ];
  for (const [name, classes, expected] of counts) {
    it(`${name} has ${expected.toLocaleString('en-US')} parameters for ${classes} classes`, () => {
      const net = createBackbone(name, { numClasses: classes });
      expect(net.parameterCount()).toBe(expected);
      net.dispose();
    });
  }

  it('CIFAR ResNet-18 evaluates 557,056 ReLUs with its stem ReLU and 491,520 without it (resnet18-nostem, SNL counting)', () => {
    const net = createBackbone('resnet18', { numClasses: 10 });
    const r = net.reluCount();
    // 491,520 = 4·64·32² + 4·128·16² + 4·256·8² + 4·512·4², plus the stem's 64·32² = 65,536.
    expect(r.total).toBe(557_056);
    expect(r.perSite.find((s) => s.path === 'stem_act')).toMatchObject({ shape: [32, 32, 64], relus: 65_536, stem: true });
    // Stage 1 holds 4 sites of 64·32·32, stage 4 holds 4 sites of 512·4·4.
    expect(r.perSite.find((s) => s.path === 'stages.0.0.act1')).toMatchObject({ shape: [32, 32, 64], relus: 65_536 });
    expect(r.perSite.find((s) => s.path === 'stages.3.1.act2')).toMatchObject({ shape: [4, 4, 512], relus: 8_192 });
    const snl = createBackbone('resnet18-nostem', { numClasses: 10 });
    expect(snl.reluCount().total).toBe(491_520);
    expect(snl.sites().some((s) => s.site.stem)).toBe(false);
    expect(snl.parameterCount()).toBe(net.parameterCount());
    net.dispose();
    snl.dispose();
  });

  it('ResNet-20 at 32×32: 188,416 ReLUs with the stem (16·32² = 16,384), 172,032 without; the count follows the input size', () => {
    // 172,032 = 6·(16·32² + 32·16² + 64·8²).
    const net = createBackbone('resnet20', { numClasses: 10 });
    expect(net.reluCount().total).toBe(188_416);
    expect(net.reluCount({ inputShape: [64, 64, 3] }).total).toBe(4 * 188_416);
    const bare = createBackbone('resnet20-nostem', { numClasses: 10 });
    expect(bare.reluCount().total).toBe(172_032);
    net.dispose();
    bare.dispose();
  });

  it('max-pool comparisons: v − 1 per window of v valid inputs, k² − 1 for full windows, fewer at padded borders', () => {
    // LeNet-5: 2×2 stride-2 pools on 28×28×6 and 10×10×16 → 14·14·6·3 + 5·5·16·3 = 3,528 + 1,200.
    const lenet = createBackbone('lenet5', { numClasses: 10 });
    const r = lenet.reluCount();
    expect(r.comparisons).toBe(4_728);
    expect(r.perSite.filter((s) => s.kind === 'pool').map((s) => s.comparisons)).toEqual([3_528, 1_200]);
    // ImageNet ResNet-18 stem pool: 3×3, stride 2, pad 1 on 112×112×64 → 56×56 windows. Along each
    // axis the first window covers 2 valid inputs and the other 55 cover 3: rows·cols valid counts
    // sum to (2 + 55·3)² = 167² = 27,889 valid inputs over 3,136 windows, so 27,889 − 3,136 = 24,753
    // comparisons per channel, 1,584,192 in all (the k² − 1 = 8 per window rule would say 1,605,632).
    const r18 = createBackbone('resnet18-imagenet', { numClasses: 10 });
    const pool = r18.reluCount().perSite.find((s) => s.path === 'stem_pool')!;
    expect(pool.comparisons).toBe(1_584_192);
    lenet.dispose();
    r18.dispose();
  });

  it('every activation and pooling site is addressable by path and kind', () => {
    const vgg = createBackbone('vgg16_bn', { numClasses: 10 });
    const sites = vgg.sites();
    expect(sites.filter((s) => s.site.kind === 'pool')).toHaveLength(5);
    expect(sites.filter((s) => s.site.kind === 'activation')).toHaveLength(13);
    expect(sites[0]!.path).toBe('features.2');
    vgg.dispose();
    const r18 = createBackbone('resnet18-imagenet', { numClasses: 1000 });
    const pool = r18.sites().find((s) => s.path === 'stem_pool');
    expect(pool?.site.kind).toBe('pool');
    r18.trace();
    expect(pool?.site.inputShape).toEqual([112, 112, 64]);
    r18.dispose();
  });

  for (const name of ['resnet20', 'resnet32', 'resnet56', 'resnet18', 'wrn22_8', 'vgg16_bn', 'mobilenetv2', 'lenet5']) {
    it(`${name} maps a batch to logits of shape [B, classes]`, () => {
      const net = createBackbone(name, { numClasses: 7 });
      const out = tf.tidy(() => net.forward(tf.zeros([2, ...net.inputShape])).shape);
      expect(out).toEqual([2, 7]);
      net.dispose();
    });
  }

  it('accepts other input shapes (ResNet-20 on 28×28×1)', () => {
    const net = createBackbone('resnet20', { numClasses: 10, inputShape: [28, 28, 1] });
    expect(tf.tidy(() => net.forward(tf.zeros([1, 28, 28, 1])).shape)).toEqual([1, 10]);
    net.dispose();
  });

  it('an unknown name lists the known ones; registering a name twice throws', () => {
    expect(() => createBackbone('resnet19', { numClasses: 10 })).toThrow(`unknown backbone 'resnet19'; known: ${backboneNames().join(', ')}`);
    expect(() => registerBackbone('resnet20', () => createBackbone('lenet5', { numClasses: 10 }))).toThrow("backbone 'resnet20' is registered twice");
    expect(() => createBackbone('lenet5', { numClasses: 0 })).toThrow(/numClasses must be a positive integer, got 0/);
  });
});
