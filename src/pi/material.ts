import { Prg } from './prg.js';
import { concatRing, ring, type Ring } from './ring.js';

/** Who is drawing dealer material: the dealer (sees both parties' streams) or one party. */
export type Holder = 'dealer' | 0 | 1;

/**
 * Where correlated randomness comes from, for one label. Both parties' shares of random values are
 * drawn from AES-CTR streams: party p's stream is keyed by the seed it shares with the dealer, so
 * the dealer and party p draw identical values without sending them. Values that must satisfy a
 * relation (c = a·b, s = r², …) cannot all be random: party 1's share of those is a *correction*
 * the dealer computes and sends; it is the only offline traffic.
 */
export class Source {
  private readonly prgs: (Prg | undefined)[];
  private readonly out: Ring[] = [];
  private offset = 0;

  constructor(
    readonly holder: Holder,
    seeds: readonly (Uint8Array | undefined)[],
    readonly label: string,
    /** Party 1's received correction frame for this label. */
    private readonly incoming?: Ring,
  ) {
    this.prgs = [0, 1].map((p) => (seeds[p] ? new Prg(seeds[p], label) : undefined));
  }

  private sees(p: 0 | 1): boolean {
    return this.holder === 'dealer' || this.holder === p;
  }

  /** Party p's next n random elements, or undefined for a holder that does not see p's stream. */
  draw(p: 0 | 1, n: number): Ring | undefined {
    return this.sees(p) ? this.prgs[p]!.next(n) : undefined;
  }

  /** Party p's next n random bits. */
  bits(p: 0 | 1, n: number): Ring | undefined {
    return this.sees(p) ? this.prgs[p]!.bits(n) : undefined;
  }

  /** Party 1's share of a related value: the dealer computes and queues it, party 1 reads it, party 0 gets undefined. */
  correct(n: number, value: () => Ring): Ring | undefined {
    if (this.holder === 'dealer') {
      const v = value();
      this.out.push(v);
      return v;
    }
    if (this.holder === 0) return undefined;
    if (!this.incoming || this.offset + n > this.incoming.length) throw new Error(`dealer material '${this.label}': the dealer sent ${this.incoming?.length ?? 0} elements, the protocol needs more`);
    const v = this.incoming.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** Party 1: throws unless the protocol used the dealer's frame exactly (a mismatch would give garbage silently). */
  checkUsed(): void {
    if (this.holder === 1 && this.offset !== (this.incoming?.length ?? 0)) throw new Error(`dealer material '${this.label}': the dealer sent ${this.incoming?.length ?? 0} elements, the protocol used ${this.offset} (do the dealer and the client run the same settings?)`);
  }

  /** The dealer's corrections for this label, as one frame. */
  corrections(): Ring {
    return concatRing(this.out);
  }
}

/** The share this holder keeps of a pair (party 0's or 1's; the dealer gets party 0's, unused). */
const mine = <T>(s: Source, v0: T, v1: T): T => (s.holder === 1 ? v1 : v0);

/** Arithmetic Beaver triple shares: c = a·b element-wise. */
export function mulTriple(s: Source, n: number): { a: Ring; b: Ring; c: Ring } {
  const a0 = s.draw(0, n), b0 = s.draw(0, n), c0 = s.draw(0, n), a1 = s.draw(1, n), b1 = s.draw(1, n);
  const c1 = s.correct(n, () => ring.sub(ring.mul(ring.add(a0!, a1!), ring.add(b0!, b1!)), c0!));
  return mine(s, { a: a0!, b: b0!, c: c0! }, { a: a1!, b: b1!, c: c1! });
}

/** Binary (XOR-shared) AND triple shares: c = a & b bitwise on 64-bit words. */
export function andTriple(s: Source, n: number): { a: Ring; b: Ring; c: Ring } {
  const a0 = s.draw(0, n), b0 = s.draw(0, n), c0 = s.draw(0, n), a1 = s.draw(1, n), b1 = s.draw(1, n);
  const c1 = s.correct(n, () => ring.xor(ring.and(ring.xor(a0!, a1!), ring.xor(b0!, b1!)), c0!));
  return mine(s, { a: a0!, b: b0!, c: c0! }, { a: a1!, b: b1!, c: c1! });
}

/** Square pair shares: s = r². */
export function squarePair(s: Source, n: number): { r: Ring; sq: Ring } {
  const r0 = s.draw(0, n), q0 = s.draw(0, n), r1 = s.draw(1, n);
  const q1 = s.correct(n, () => { const r = ring.add(r0!, r1!); return ring.sub(ring.mul(r, r), q0!); });
  return mine(s, { r: r0!, sq: q0! }, { r: r1!, sq: q1! });
}

/** A random bit shared both ways: XOR shares (bit 0 of a word) and additive shares of the same bit. */
export function sharedBit(s: Source, n: number): { binary: Ring; arith: Ring } {
  const b0 = s.bits(0, n), t0 = s.draw(0, n), b1 = s.bits(1, n);
  const t1 = s.correct(n, () => ring.sub(ring.xor(b0!, b1!), t0!));
  return mine(s, { binary: b0!, arith: t0! }, { binary: b1!, arith: t1! });
}

/**
 * Material of a product with a vector party 0 holds in the clear (weights, coefficients), `z = f(a, b)`
 * for a bilinear f: party 1 knows `a` whole (drawn from its stream), party 0 knows `b` whole (drawn
 * once per layer from its setup stream `setup`), and each holds a share of f(a, b).
 */
export function oneSided(s: Source, setup: Source, na: number, nb: number, nz: number, f: (a: Ring, b: Ring) => Ring): { a?: Ring; b?: Ring; z: Ring } {
  const b = setup.draw(0, nb), a = s.draw(1, na), z0 = s.draw(0, nz);
  const z1 = s.correct(nz, () => ring.sub(f(a!, b!), z0!));
  return s.holder === 1 ? { a: a!, z: z1! } : { b: b!, z: z0! };
}
