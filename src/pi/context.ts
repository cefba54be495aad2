import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Channel } from './channel.js';
import { Source, type Holder } from './material.js';
import type { FixedPoint } from '../export/program.js';
import type { Ring } from './ring.js';

function frame(label: string, payload: Ring): Uint8Array {
  const l = Buffer.from(label);
  const head = Buffer.alloc(2);
  head.writeUInt16LE(l.length);
  return Buffer.concat([head, l, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]);
}

/** Label of the frame that ends a batch's dealer material. */
export const END_OF_BATCH = '<end of batch>';

/** The frame that ends a batch's material. */
export function endOfBatch(): Uint8Array {
  return frame(END_OF_BATCH, new BigUint64Array(0));
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
 * Party 1's dealer material for one batch, on disk: the offline phase writes every frame there (an
 * all-ReLU ResNet-20 image needs about 24 MB, a batch of them more than memory should hold), the
 * online phase reads each step's frame by its label, in whatever order concurrent steps ask.
 */
export class Spool {
  private readonly fd: number;
  private size = 0;
  private readonly index = new Map<string, [number, number]>();

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+');
  }

  /** Receives one batch's frames until the dealer's end-of-batch frame; bytes per label's node go to `perNode`. */
  async fill(ch: Channel, perNode: (node: number, bytes: number) => void): Promise<void> {
    ftruncateSync(this.fd, 0);
    this.size = 0;
    this.index.clear();
    for (;;) {
      const { label, payload } = unframe(await ch.recv());
      if (label === END_OF_BATCH) return;
      const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      writeSync(this.fd, bytes, 0, bytes.length, this.size);
      this.index.set(label, [this.size, bytes.length]);
      this.size += bytes.length;
      perNode(Number(label.split('/')[0]), bytes.length);
    }
  }

  /** The material of one step (each is read once). */
  take(label: string): Ring {
    const e = this.index.get(label);
    if (!e) throw new Error(`dealer material '${label}' was not sent (do the dealer and the client run the same architecture and settings?)`);
    this.index.delete(label);
    const out = new BigUint64Array(e[1] / 8);
    readSync(this.fd, new Uint8Array(out.buffer), 0, e[1], e[0]);
    return out;
  }

  close(): void {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}

/**
 * What a role needs to run protocol steps: who it is, its channels, the seeds it shares with the
 * dealer, the fixed-point settings, and the current node and batch (which name the material).
 * The dealer runs the same protocol code as the parties: every step draws its material first, and
 * for the dealer a step ends there (it holds no shares and returns zeros of the step's output size), so the dealer
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
  constructor(
    readonly role: Holder,
    readonly seeds: readonly (Uint8Array | undefined)[],
    readonly fp: FixedPoint,
    /** The other party (parties only). */
    readonly peer: Channel | undefined,
    /** Dealer → party 1 material stream (the dealer and party 1 only). */
    readonly material1: Channel | undefined,
    /** Party 1: the current batch's dealer material, received before the online phase. */
    readonly spool?: Spool,
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
    if (!this.spool) throw new Error('party 1 has no dealer material spooled');
    const src = new Source(1, this.seeds, label, this.spool.take(label));
    const out = gen(src);
    src.checkUsed();
    return out;
  }

  /** The setup stream of a node (party 0's per-layer masks of its weights and coefficients). */
  setup(key: string): Source {
    return new Source(this.role, this.seeds, `${this.node}/setup/${key}`);
  }
}
