import { connect, createServer, type Socket } from 'node:net';

/** Bytes and rounds one party sent, received and waited for, in one accounting bucket. */
export interface Traffic {
  /** Protocol payload bytes this party sent. */
  sent: number;
  /** Protocol payload bytes this party received. */
  received: number;
  /** Frames this party sent (each adds a 5-byte header on the wire: length and stream). */
  messages: number;
  /** Communication rounds: sequential steps in which this party waited for the other (concurrent streams share them). */
  rounds: number;
}

export function emptyTraffic(): Traffic {
  return { sent: 0, received: 0, messages: 0, rounds: 0 };
}

/** Raised on every side when a peer goes away or breaks the protocol. */
export class PiPeerError extends Error {
  override name = 'PiPeerError';
}

/**
 * A length-prefixed message channel over one TCP (or TLS) socket that counts every payload byte,
 * frame and round into the current bucket ({@link Channel.bucket}). Frames are `u32 length ‖ u8
 * stream ‖ payload`: independent protocol steps that run at the same time (a mask site's ReLUs and
 * its polynomial) use separate streams, each in order, and share the round trips. A closed or failed
 * socket rejects every pending and later receive with a {@link PiPeerError} naming the peer, and a
 * receive that waits longer than `timeoutMs` fails too.
 */
export class Channel {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Received frames not yet asked for, per stream. */
  private readonly frames = new Map<number, Buffer[]>();
  private readonly waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[]>();
  /** Rounds per stream of each bucket (a bucket's rounds are its longest stream's). */
  private readonly streamRounds = new Map<string, Map<number, number>>();
  private failure?: Error;
  readonly buckets = new Map<string, Traffic>();
  /** Accounting bucket the next sends and receives go to (a layer path, `setup`, `handshake`). */
  bucket = 'handshake';
  /** Sees every frame received, in order (tests use it to check what a party's view reveals). */
  tap?: (frame: Buffer) => void;

  constructor(
    private readonly socket: Socket,
    public peer: string,
    private readonly timeoutMs = 60_000,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const gone = e.code === 'ECONNRESET' || e.code === 'EPIPE';
      this.fail(new PiPeerError(gone ? `${this.peer}: disconnected (${e.code}, during ${this.bucket})` : `${this.peer}: connection failed (${e.message})`));
    });
    socket.on('close', () => this.fail(new PiPeerError(`${this.peer}: disconnected (during ${this.bucket})`)));
  }

  /** Counters of the current bucket. */
  get traffic(): Traffic {
    let t = this.buckets.get(this.bucket);
    if (!t) this.buckets.set(this.bucket, (t = emptyTraffic()));
    return t;
  }

  /** Counts one round of `stream` in the current bucket. */
  round(stream = 0): void {
    let m = this.streamRounds.get(this.bucket);
    if (!m) this.streamRounds.set(this.bucket, (m = new Map()));
    m.set(stream, (m.get(stream) ?? 0) + 1);
    this.traffic.rounds = Math.max(...m.values());
  }

  /** Sends one frame; resolves once the socket has taken it (back-pressure for long streams). */
  async send(payload: Uint8Array | BigUint64Array, stream = 0): Promise<void> {
    if (this.failure) throw this.failure;
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const head = Buffer.alloc(5);
    head.writeUInt32LE(body.length);
    head.writeUInt8(stream, 4);
    const t = this.traffic;
    t.sent += body.length;
    t.messages++;
    // Resolves when the frame has been handed to the kernel (back-pressure), fails if the socket did.
    await new Promise<void>((resolve, reject) => {
      this.socket.write(Buffer.concat([head, body]), (err) => (err ? reject(this.failure ?? new PiPeerError(`${this.peer}: disconnected (${err.message})`)) : resolve()));
    });
  }

  /** The next frame of a stream. */
  recv(stream = 0): Promise<Buffer> {
    const f = this.frames.get(stream)?.shift();
    if (f) {
      this.traffic.received += f.length;
      return Promise.resolve(f);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new PiPeerError(`${this.peer}: no message within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
      const list = this.waiting.get(stream) ?? [];
      this.waiting.set(stream, list);
      list.push({ resolve: (b) => { this.traffic.received += b.length; resolve(b); }, reject, timer });
    });
  }

  /** The next frame of a stream as ring elements. */
  async recvRing(stream = 0): Promise<BigUint64Array> {
    const b = await this.recv(stream);
    const out = new BigUint64Array(b.length / 8);
    new Uint8Array(out.buffer).set(b);
    return out;
  }

  /** One round: sends `mine`, receives the peer's frame of the same step. */
  async exchange(mine: BigUint64Array, stream = 0): Promise<BigUint64Array> {
    this.round(stream);
    const [, theirs] = await Promise.all([this.send(mine, stream), this.recvRing(stream)]);
    return theirs;
  }

  /** Closes the socket (the peer sees a clean end). */
  close(): void {
    this.failure ??= new PiPeerError(`${this.peer}: channel closed`);
    this.socket.end();
  }

  /** Bytes the frame being received needs in all (header included), once its header is in. */
  private needed = 0;

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < 5 || (this.needed && this.buffered < this.needed)) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const len = all.readUInt32LE(0);
      const stream = all.readUInt8(4);
      if (all.length < 5 + len) {
        // Wait for the whole frame before joining chunks again (no quadratic copying of long frames).
        this.chunks = [all];
        this.needed = 5 + len;
        return;
      }
      this.needed = 0;
      const frame = Buffer.from(all.subarray(5, 5 + len));
      const rest = all.subarray(5 + len);
      this.tap?.(frame);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      const w = this.waiting.get(stream)?.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(frame);
      } else {
        const list = this.frames.get(stream) ?? [];
        this.frames.set(stream, list);
        list.push(frame);
      }
    }
  }

  private fail(e: Error): void {
    if (this.failure && this.failure.message.endsWith('channel closed')) return;
    this.failure ??= e;
    for (const list of this.waiting.values())
      for (const w of list.splice(0)) {
        clearTimeout(w.timer);
        w.reject(this.failure);
      }
  }
}

/** Two connected sockets over loopback TCP (both ends in this process). */
export function socketPair(): Promise<[Socket, Socket]> {
  return new Promise((resolve, reject) => {
    let b: Socket;
    const server = createServer((a) => {
      server.close();
      resolve([a, b]);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => (b = connect((server.address() as { port: number }).port, '127.0.0.1')));
  });
}
