import type { Channel } from './channel.js';
import { Source, type Holder } from './material.js';
import type { FixedPoint } from './program.js';
import type { Ring } from './ring.js';

function frame(label: string, payload: Ring): Uint8Array {
  const l = Buffer.from(label);
  const head = Buffer.alloc(2);
  head.writeUInt16LE(l.length);
  return Buffer.concat([head, l, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]);
}

function unframe(b: Buffer): { label: string; payload: Ring } {
  const n = b.readUInt16LE(0);
  const label = b.subarray(2, 2 + n).toString();
  const body = b.subarray(2 + n);
  const payload = new BigUint64Array(body.length / 8);
  new Uint8Array(payload.buffer).set(body);
  return { label, payload };
}

/**
 * What a role needs to run protocol steps: who it is, its channels, the seeds it shares with the
 * dealer, the fixed-point settings, and the current node and batch (which name the material).
 * The dealer runs the same protocol code as the parties: every step draws its material first, and
 * for the dealer a step ends there (it returns a placeholder of the right size), so the dealer
 * produces exactly the material the parties consume, in the same order.
 */
export class PiContext {
  node = 0;
  batch = 0;
  private step = 0;
  /** Party 1's masked weights and coefficients from the setup phase, per node and key. */
  readonly setupValues = new Map<string, Ring>();

  constructor(
    readonly role: Holder,
    readonly seeds: readonly (Uint8Array | undefined)[],
    readonly fp: FixedPoint,
    /** The other party (parties only). */
    readonly peer: Channel | undefined,
    /** Dealer → party 1 material stream (the dealer and party 1 only). */
    readonly material1: Channel | undefined,
  ) {}

  get isDealer(): boolean {
    return this.role === 'dealer';
  }

  get party(): 0 | 1 {
    if (this.role === 'dealer') throw new Error('the dealer holds no shares');
    return this.role;
  }

  /** The peer channel (a party's). */
  get link(): Channel {
    if (!this.peer) throw new Error('no peer channel');
    return this.peer;
  }

  /** Starts a node of a batch (material labels restart). */
  at(node: number, batch: number): void {
    this.node = node;
    this.batch = batch;
    this.step = 0;
  }

  /** Draws the material of the next protocol step (the dealer also sends party 1's corrections). */
  async material<T>(gen: (s: Source) => T): Promise<T> {
    const label = `${this.node}/${this.batch}/${this.step++}`;
    if (this.role === 'dealer') {
      const s = new Source('dealer', this.seeds, label);
      const out = gen(s);
      await this.material1!.send(frame(label, s.corrections()));
      return out;
    }
    if (this.role === 0) return gen(new Source(0, this.seeds, label));
    const { label: got, payload } = unframe(await this.material1!.recv());
    if (got !== label) throw new Error(`dealer material out of order: expected '${label}', got '${got}' (do the dealer and the client run the same architecture?)`);
    return gen(new Source(1, this.seeds, label, payload));
  }

  /** The setup stream of a node (party 0's per-layer masks of its weights and coefficients). */
  setup(key: string): Source {
    return new Source(this.role, this.seeds, `${this.node}/setup/${key}`);
  }
}
