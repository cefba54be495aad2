import { describe, expect, it } from 'vitest';
import { createBackbone } from '../../src/backbones/registry.js';
import { tf } from '../../src/engine/tf.js';
import { ChannelPoly } from '../../src/ops/poly.js';
import { activationReport } from '../../src/train/monitor.js';
import { mnistSlice } from '../helpers.js';

describe('activation ranges', () => {
  it('name the site whose polynomial escapes its range, and a non-finite one first', async () => {
    const data = await mnistSlice(64, 30, 64, 20);
    const net = createBackbone('lenet5', { numClasses: 10, seed: 0 });
    const calm = activationReport(net, data.test, data.norm)!;
    expect(calm.ranges.map((r) => r.path)).toEqual(net.sites().map((s) => s.path));
    expect(calm.worst.absMax).toBeLessThan(50);
    // A steep quadratic at act2 (c2 = 1e4, times the 0.1 scale): its outputs dwarf every other site's.
    const poly = new ChannelPoly(16, { degree: 2 });
    tf.tidy(() => poly.coeffs.assign(tf.concat([tf.zeros([1, 16]), tf.ones([1, 16]), tf.fill([1, 16], 1e4)])));
    const act2 = net.sites().find((s) => s.path === 'act2')!.site;
    act2.setOp(poly).dispose();
    const steep = activationReport(net, data.test, data.norm)!;
    expect(steep.worst.path).toBe('act2');
    expect(steep.worst.absMax).toBeGreaterThan(100 * calm.worst.absMax);
    tf.tidy(() => poly.coeffs.assign(tf.fill([3, 16], NaN)));
    expect(activationReport(net, data.test, data.norm)!.worst).toEqual({ path: 'act2', absMax: NaN });
    // Probing leaves no trace on the sites.
    expect(net.sites().every(({ site }) => site.probedMax === undefined)).toBe(true);
    net.dispose();
  });
});
