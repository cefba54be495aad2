import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Relay } from '../../src/pi/relay.js';

/** An echo server and a client connected to it through a relay. */
async function echoThrough(shape: { rttMs: number; bandwidthMbps?: number }): Promise<{ client: Socket; close(): Promise<void> }> {
  const server = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const relay = await Relay.start('127.0.0.1', { host: '127.0.0.1', port: (server.address() as { port: number }).port }, shape);
  const client = connect(relay.port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { client, close: async () => { client.destroy(); await relay.close(); server.close(); } };
}

/** Sends `bytes` and resolves when all of them came back, with the elapsed ms. */
function roundTrip(client: Socket, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const t = performance.now();
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= bytes) {
        client.off('data', onData);
        resolve(performance.now() - t);
      }
    };
    client.on('data', onData);
    client.write(Buffer.alloc(bytes, 7));
  });
}

describe('shaping relay', () => {
  it('delays every message by half the RTT each way, and keeps bytes in order', async () => {
    const { client, close } = await echoThrough({ rttMs: 40 });
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await roundTrip(client, 16));
    times.sort((a, b) => a - b);
    expect(times[2]!).toBeGreaterThanOrEqual(40);
    expect(times[2]!).toBeLessThan(55);
    // Order: many small writes come back as they went.
    const sent = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i % 251));
    const back: Buffer[] = [];
    await new Promise<void>((resolve) => {
      client.on('data', (d: Buffer) => {
        back.push(d);
        if (Buffer.concat(back).length >= sent.length) resolve();
      });
      for (let o = 0; o < sent.length; o += 97) client.write(sent.subarray(o, o + 97));
    });
    expect(Buffer.concat(back).equals(sent)).toBe(true);
    await close();
  });

  it('releases bytes at the link rate', async () => {
    const { client, close } = await echoThrough({ rttMs: 0, bandwidthMbps: 80 });
    // 1 MB at 80 Mbit/s takes 100 ms each way (the echo pipelines the two directions).
    const ms = await roundTrip(client, 1_000_000);
    expect(ms).toBeGreaterThanOrEqual(100);
    expect(ms).toBeLessThan(400);
    await close();
  });
});

describe('shaping relay: closing', () => {
  it('delivers the bytes in flight before passing on the end of a side that closed', async () => {
    const server = createServer((s) => s.end(Buffer.alloc(5000, 3)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const relay = await Relay.start('127.0.0.1', { host: '127.0.0.1', port: (server.address() as { port: number }).port }, { rttMs: 60 });
    const client = connect(relay.port, '127.0.0.1');
    let got = 0;
    client.on('data', (d: Buffer) => (got += d.length));
    await new Promise<void>((r) => client.on('end', () => r()));
    expect(got).toBe(5000);
    client.destroy();
    await relay.close();
    server.close();
  });
});
