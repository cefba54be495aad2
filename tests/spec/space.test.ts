import { describe, expect, it } from 'vitest';
import { parseSearchSpace, matchSitePattern } from '../../src/spec/space.js';
import { ValidationError } from '../../src/io/json.js';

describe('search spaces', () => {
  it('validate with every problem at once; an unknown operator lists the known ones', () => {
    let err: unknown;
    try {
      parseSearchSpace({ name: 's', backbone: 'resnet20', activation: { candidates: ['relu', 'gelu'], granularity: 'voxel' } }, 'space.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/activation\.candidates\.1: .*"relu".*"x2act".*"poly2".*\(got "gelu"\)/);
    expect(msg).toMatch(/activation\.granularity: .*\(got "voxel"\)/);
    expect(() => parseSearchSpace({ name: 's', backbone: 'resnet20', activation: { candidates: ['relu', 'x2act', 'poly2'], granularity: 'pixel' } })).toThrow(/'pixel' decisions choose per element between relu and one other operator/);
  });

  it('select sites by glob: * within a segment, ** across', () => {
    expect(matchSitePattern('stages.0.*.act1', 'stages.0.2.act1')).toBe(true);
    expect(matchSitePattern('stages.0.*', 'stages.0.2.act1')).toBe(false);
    expect(matchSitePattern('stages.0.**', 'stages.0.2.act1')).toBe(true);
  });
});

