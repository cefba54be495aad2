import { describe, expect, it } from 'vitest';
import { isRetryable } from '../../src/io/errors.js';
import { EnvError } from '../../src/io/env.js';
import { ValidationError } from '../../src/io/json.js';
import { UnknownOpError } from '../../src/ops/registry.js';
import { DatasetUnavailableError } from '../../src/data/download.js';
import { RecipeCheckError } from '../../src/run/preflight.js';
import { RunSettingsChangedError } from '../../src/run/identity.js';
import { BackendChangedError } from '../../src/run/run-dir.js';
import { CellDependencyError } from '../../src/run/cell.js';

describe('isRetryable', () => {
  it('is false for the errors that running a cell again cannot cure, true for the rest (a queue retries only those)', () => {
    const notRetryable: Error[] = [
      new EnvError('POLYNAS_X', 'y', 'not a number'),
      new ValidationError('r.json', []),
      new UnknownOpError('poly9', ['relu']),
      new DatasetUnavailableError('offline'),
      new RecipeCheckError('r.json', 'search.budget', 'too large'),
      new RunSettingsChangedError('runs/a', ['seed: 0 → 1']),
      new BackendChangedError('runs/a', 'torch', 'wasm'),
      new CellDependencyError('needs its teacher'),
    ];
    for (const e of notRetryable) expect(isRetryable(e), e.name).toBe(false);
    for (const e of [new Error('ECONNRESET'), new RangeError('out of memory'), 'a string', undefined]) expect(isRetryable(e)).toBe(true);
  });
});
