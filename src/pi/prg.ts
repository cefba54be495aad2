import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * A pseudorandom stream of ring elements: AES-128 in counter mode (OpenSSL, AES-NI), keyed by a
 * 16-byte seed, one independent stream per label (`<node>:<batch>:<purpose>`). The dealer and a
 * party holding the same seed draw the same elements in the same order, which is how dealer material
 * reaches party 0 without being sent: only party 1's corrections travel.
 */
export class Prg {
  private readonly cipher;

  constructor(seed: Uint8Array, label: string) {
    if (seed.length !== 16) throw new Error(`prg: a seed has 16 bytes, got ${seed.length}`);
    const iv = createHash('sha256').update(label).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-128-ctr', seed, iv);
  }

  /** The next n uniformly random ring elements. */
  next(n: number): BigUint64Array {
    const bytes = this.cipher.update(Buffer.alloc(n * 8));
    const out = new BigUint64Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }

  /** The next n uniformly random bits, one per element (0n or 1n). */
  bits(n: number): BigUint64Array {
    const bytes = this.cipher.update(Buffer.alloc(n));
    const out = new BigUint64Array(n);
    for (let i = 0; i < n; i++) out[i] = BigInt(bytes[i]! & 1);
    return out;
  }
}

/** A fresh random 16-byte seed. */
export function freshSeed(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}
