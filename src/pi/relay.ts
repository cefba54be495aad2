import { connect, createServer, type Server, type Socket } from 'node:net';

/** A link to put between two parties: one-way delay (half the round-trip time) and a rate per direction. */
export interface LinkShape {
  rttMs: number;
  /** Megabits per second in each direction; absent: unlimited. */
  bandwidthMbps?: number;
}

/**
 * A TCP relay that shapes real traffic between two parties, for machines whose kernel lacks `netem`:
 * every chunk that crosses it waits half the round-trip time and then leaves at the link's rate
 * (a FIFO per direction, like a router queue). The parties do not know it is there: their sockets
 * connect to the relay, and the times they measure are wall-clock times of real transfers.
 */
export class Relay {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on `host` (an ephemeral port) and forwards every connection to `target`. */
  static async start(host: string, target: { host: string; port: number }, shape: LinkShape): Promise<Relay> {
    const server = createServer((inbound) => {
      const outbound = connect(target.port, target.host);
      inbound.setNoDelay(true);
      outbound.setNoDelay(true);
      pipeShaped(inbound, outbound, shape);
      pipeShaped(outbound, inbound, shape);
      // A side that ends is ended on the other side once the bytes in flight have been delivered
      // (the 'end' goes through the queue); only a failed socket tears both down at once.
      const fail = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', fail);
      outbound.on('error', fail);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return new Relay(server, (server.address() as { port: number }).port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function pipeShaped(from: Socket, to: Socket, shape: LinkShape): void {
  const delay = shape.rttMs / 2;
  const bytesPerMs = shape.bandwidthMbps ? (shape.bandwidthMbps * 1e6) / 8 / 1e3 : Infinity;
  // Chunks in flight, in order, each with the time it leaves: after its delay, and after the chunks
  // before it have been sent at the link's rate. One timer serves the head of the queue, so the
  // order never changes.
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let busyUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.at <= now + 0.05) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else if (to.writable) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(pump, Math.max(0, queue[0]!.at - now));
  };
  const push = (chunk: Buffer | null): void => {
    const now = performance.now();
    busyUntil = Math.max(now + delay, busyUntil) + (chunk ? chunk.length / bytesPerMs : 0);
    queue.push({ at: busyUntil, chunk });
    if (!timer) timer = setTimeout(pump, Math.max(0, queue[0]!.at - now));
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}
