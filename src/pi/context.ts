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
  /** The channel stream this context's messages use (0, or a fork's). */
  stream = 0;
  /** Party 1's masked weights and coefficients from the setup phase, per node and key. */
  readonly setupValues = new Map<string, Ring>();
  /**
   * Party 1's dealer stream, shared with forks: frames that arrived before their step asked for
   * them, steps waiting for theirs, and whether a reader is running.
   */
  private readonly incoming = { early: new Map<string, Ring>(), waiters: new Map<string, { resolve: (r: Ring) => void; reject: (e: Error) => void }>(), reading: false };

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

  /**
   * A context for protocol steps that run concurrently with this one's (a mask site's ReLU and
   * polynomial): same role, channels and node, its own channel stream and material labels.
   */
  fork(stream: number): PiContext {
    const f = Object.create(this) as PiContext;
    f.stream = stream;
    f.step = 0;
    return f;
  }

  /** One round on this context's stream. */
  exchange(x: Ring): Promise<Ring> {
    return this.link.exchange(x, this.stream);
  }

  /** A one-way message to the other party (a round for both). */
  async send(x: Ring): Promise<void> {
    this.link.round(this.stream);
    await this.link.send(x, this.stream);
  }

  /** The other party's one-way message. */
  async receive(): Promise<Ring> {
    this.link.round(this.stream);
    return this.link.recvRing(this.stream);
  }

  /** Starts a node of a batch (material labels restart). */
  at(node: number, batch: number): void {
    this.node = node;
    this.batch = batch;
    this.step = 0;
  }

  /** Draws the material of the next protocol step (the dealer also sends party 1's corrections). */
  async material<T>(gen: (s: Source) => T): Promise<T> {
    const label = `${this.node}/${this.batch}/${this.stream}.${this.step++}`;
    if (this.role === 'dealer') {
      const s = new Source('dealer', this.seeds, label);
      const out = gen(s);
      await this.material1!.send(frame(label, s.corrections()));
      return out;
    }
    if (this.role === 0) return gen(new Source(0, this.seeds, label));
    const src = new Source(1, this.seeds, label, await this.frameFor(label));
    const out = gen(src);
    src.checkUsed();
    return out;
  }

  /** Party 1: the dealer's frame for a label (frames of concurrent steps may come in either order). */
  private frameFor(label: string): Promise<Ring> {
    const st = this.incoming;
    const ready = st.early.get(label);
    if (ready) {
      st.early.delete(label);
      return Promise.resolve(ready);
    }
    return new Promise<Ring>((resolve, reject) => {
      st.waiters.set(label, { resolve, reject });
      if (!st.reading) void this.readFrames();
    });
  }

  /** One reader hands every dealer frame to the step waiting for it (or keeps it until asked). */
  private async readFrames(): Promise<void> {
    const st = this.incoming;
    st.reading = true;
    try {
      while (st.waiters.size) {
        const { label, payload } = unframe(await this.material1!.recv());
        const w = st.waiters.get(label);
        if (w) {
          st.waiters.delete(label);
          w.resolve(payload);
        } else if (st.early.size > 64) {
          throw new Error(`dealer material out of order: waiting for '${[...st.waiters.keys()].join("', '")}', got '${label}' (do the dealer and the client run the same architecture?)`);
        } else st.early.set(label, payload);
      }
    } catch (e) {
      for (const w of st.waiters.values()) w.reject(e as Error);
      st.waiters.clear();
    } finally {
      st.reading = false;
    }
  }


  /** The setup stream of a node (party 0's per-layer masks of its weights and coefficients). */
  setup(key: string): Source {
    return new Source(this.role, this.seeds, `${this.node}/setup/${key}`);
  }
}
