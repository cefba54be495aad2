import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_SOURCES, loadDataset } from '../../src/data/datasets.js';
import { DatasetUnavailableError, downloadFiles, md5 } from '../../src/data/download.js';
import { fashionMnistDir, tempDir } from '../helpers.js';

// A loopback server that serves the Debian Fashion-MNIST files under their official names, so the
// download path (fetch, MD5 check, atomic write, reading) runs for real without the internet.
let server: Server;
let base = '';
beforeAll(async () => {
  const dir = fashionMnistDir();
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    if (name === 'corrupt.gz') return void res.end('not the file');
    const p = join(dir, name);
    if (!existsSync(p)) return void res.writeHead(404).end();
    res.end(readFileSync(p));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('download and cache', () => {
  it('downloads, verifies and caches files, then reads them', async () => {
    const cache = tempDir();
    // Debian recompresses the archives, so the served files carry their own checksums.
    const files = DATASET_SOURCES['fashion-mnist'].map((f) => ({ ...f, url: base + f.file, md5: md5(readFileSync(join(fashionMnistDir(), f.file))) }));
    const lines: string[] = [];
    await downloadFiles(files, join(cache, 'fashion-mnist'), 'fashion-mnist', { log: (l) => lines.push(l) });
    expect(lines).toHaveLength(4);
    const { test } = await loadDataset({ name: 'fashion-mnist', cacheDir: cache, download: false });
    expect(test.labels.length).toBe(10_000);
    // A second call finds the files cached and fetches nothing.
    await downloadFiles(files, join(cache, 'fashion-mnist'), 'fashion-mnist', { fetch: () => Promise.reject(new Error('no network')) });
  });

  it('rejects a download whose MD5 differs and keeps nothing', async () => {
    const dir = tempDir();
    const err = await downloadFiles([{ url: `${base}corrupt.gz`, file: 'x.gz', md5: '0'.repeat(32) }], dir, 'test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetUnavailableError);
    expect((err as Error).message).toMatch(/has MD5 [0-9a-f]{32}, expected 0{32}/);
    expect(existsSync(join(dir, 'x.gz'))).toBe(false);
  });

  it('fails fast offline with where to place the files', async () => {
    const cache = tempDir();
    const offline = () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }));
    const t0 = Date.now();
    const err = await loadDataset({ name: 'cifar10', cacheDir: cache }, { fetch: offline, env: {} }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DatasetUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('cannot download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (ENOTFOUND)');
    expect(msg).toContain(`offline. Place the official files at ${join(cache, 'cifar10')}`);
  });

  it('a refused connection is reported the same way', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await downloadFiles([{ url: `http://127.0.0.1:${port}/x`, file: 'x', md5: '0' }], tempDir(), 'test').catch((e: unknown) => e);
    expect((err as Error).message).toContain(`cannot download http://127.0.0.1:${port}/x (ECONNREFUSED)`);
  });

  it('with download off, a missing folder lists the expected files', async () => {
    const dir = tempDir();
    await expect(loadDataset({ name: 'cifar10', dir })).rejects.toThrow(`dataset 'cifar10': files not found in ${dir} (expected data_batch_1.bin, data_batch_2.bin`);
  });
});
