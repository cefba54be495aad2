import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { buildOp, costOpOf, getOp, opIds, registerOp, unregisterOp, UnknownOpError } from '../../src/ops/index.js';
import { leakedTensors } from '../helpers.js';

describe('operator registry', () => {
  it('lists the built-in operators by kind, in registration order', () => {
    expect(opIds('activation')).toEqual(['relu', 'x2act', 'poly1', 'poly2', 'poly3', 'poly4', 'identity']);
    expect(opIds('pool')).toEqual(['maxpool', 'avgpool']);
  });

  it('refuses a second registration of an id, and an unknown id lists the known ones', () => {
    expect(() => registerOp({ ...getOp('x2act') })).toThrow("operator 'x2act' is already registered");
    expect(() => getOp('gelu')).toThrow(UnknownOpError);
    expect(() => getOp('gelu')).toThrow("unknown operator 'gelu'; known: relu, x2act, poly1, poly2, poly3, poly4, identity, maxpool, avgpool");
  });

  it('an operator registered after import is listed, and removed again', () => {
    registerOp({ id: 'test-op', kind: 'activation', summary: 'test', costOp: 'identity', build: () => Promise.reject(new Error('not built')) });
    expect(opIds('activation')).toContain('test-op');
    unregisterOp('test-op');
    expect(opIds('activation')).not.toContain('test-op');
  });

  const site = { shape: [4, 4, 3], kernel: 2, stride: 2, pad: 0 };
  for (const id of opIds()) {
    it(`${id}: builds for a site, is tagged with its id, and its forward leaks no tensors`, async () => {
      const op = await buildOp(id, site, undefined);
      expect(op.opId).toBe(id);
      expect(costOpOf(op)).toBe(getOp(id).costOp);
      const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 7);
      const y = tf.tidy(() => op.forward(x));
      expect(y.shape).toEqual(getOp(id).kind === 'pool' ? [2, 2, 2, 3] : [2, 4, 4, 3]);
      y.dispose();
      expect(leakedTensors(() => tf.tidy(() => op.forward(x)).dispose())).toBe(0);
      x.dispose();
      op.dispose();
    });
  }

  for (const id of ['x2act', 'poly1', 'poly2', 'poly3', 'poly4']) {
    it(`${id}: exported parameters import back into a fresh operator exactly`, async () => {
      const a = await buildOp(id, site);
      tf.tidy(() => {
        for (const [, v] of a.namedParameters()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 3));
      });
      const params = getOp(id).exportParams!(a);
      const b = await buildOp(id, site);
      getOp(id).importParams!(b, JSON.parse(JSON.stringify(params)));
      const sa = a.stateDict();
      const sb = b.stateDict();
      for (const k of Object.keys(sa)) expect(Array.from(sb[k]!.values), k).toEqual(Array.from(sa[k]!.values));
      a.dispose();
      b.dispose();
    });
  }
});
