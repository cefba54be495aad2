import seedrandom from 'seedrandom';
import { tf } from '../engine/tf.js';

/**
 * Source of seeds for parameter initialisation. Every module draws one seed per tensor from it, so a
 * network built twice from the same seed has identical weights on every backend.
 *
 * @example
 * ```ts
 * const rng = new InitRng(42);
 * const w = kaimingNormal([3, 3, 16, 32], 3 * 3 * 32, rng); // fan-out mode
 * ```
 */
export class InitRng {
  private readonly prng: seedrandom.PRNG;
  constructor(readonly seed: number) {
    this.prng = seedrandom(`polynas-init-${seed}`);
  }
  /** A fresh 31-bit integer seed. */
  nextSeed(): number {
    return Math.floor(this.prng() * 0x7fffffff);
  }
}

/** Kaiming (He) normal init for ReLU networks: N(0, 2/fan). */
export function kaimingNormal(shape: number[], fan: number, rng: InitRng): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fan), 'float32', rng.nextSeed());
}

/** U(−bound, bound), the default init of a linear layer with bound = 1/√fan_in. */
export function uniform(shape: number[], bound: number, rng: InitRng): tf.Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', rng.nextSeed());
}
