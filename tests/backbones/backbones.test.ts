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

  it('CIFAR ResNet-18 has 491,520 ReLUs at 32×32 without the stem ReLU (SNL counting)', () => {
    const net = createBackbone('resnet18', { numClasses: 10 });
    const r = net.reluCount();
    expect(r.total).toBe(491_520);
    // With the stem: + 64·32·32.
    expect(net.reluCount({ countStem: true }).total).toBe(491_520 + 65_536);
    // Stage 1 holds 4 sites of 64·32·32, stage 4 holds 4 sites of 512·4·4.
    expect(r.perSite.find((s) => s.path === 'stages.0.0.act1')).toMatchObject({ shape: [32, 32, 64], relus: 65_536 });
    expect(r.perSite.find((s) => s.path === 'stages.3.1.act2')).toMatchObject({ shape: [4, 4, 512], relus: 8_192 });
    net.dispose();
  });

  it('ResNet-20 counts 6 sites per stage: 6·(16·32² + 32·16² + 64·8²) = 172,032 ReLUs; the count follows the input size', () => {
    const net = createBackbone('resnet20', { numClasses: 10 });
    expect(net.reluCount().total).toBe(172_032);
    expect(net.reluCount({ inputShape: [64, 64, 3] }).total).toBe(4 * 172_032);
    net.dispose();
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
