import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { freePort } from '../../src/pi/launch.js';
import { skipPi } from './harness.js';
import { capture, tempDir } from '../helpers.js';

const fixture = join(__dirname, '..', 'fixtures', 'v1-darts-lenet5', 'architecture.json');

describe.skipIf(skipPi)('polynas pi export + pi party: a session from files, as on three hosts', () => {
  it('writes the public part, the secret part, the images and one config per role; the three roles run from those files alone', async () => {
    const dir = tempDir();
    const out = join(dir, 'session');
    const [dp, sp] = [await freePort(), await freePort()];
    const e = capture();
    expect(await runCli(['pi', 'export', fixture, '--out', out, '--dealer', `127.0.0.1:${dp}`, '--server', `127.0.0.1:${sp}`, '--samples', '3'], e.io), e.err.join('\n')).toBe(0);
    for (const f of ['public.json', 'secret.json', 'inputs.f32', 'dealer.config.json', 'server.config.json', 'client.config.json']) expect(existsSync(join(out, f)), f).toBe(true);
    // Only the server's configuration names the secret part.
    expect(JSON.parse(readFileSync(join(out, 'client.config.json'), 'utf8')).secrets).toBeUndefined();
    expect(JSON.parse(readFileSync(join(out, 'dealer.config.json'), 'utf8')).secrets).toBeUndefined();
    const runs = ['dealer', 'server', 'client'].map((role) => {
      const c = capture();
      return { c, done: runCli(['pi', 'party', join(out, `${role}.config.json`), join(dir, `${role}.report.json`)], c.io) };
    });
    const codes = await Promise.all(runs.map((r) => r.done));
    expect(codes, runs.map((r) => r.c.err.join('\n')).join('\n')).toEqual([0, 0, 0]);
    const client = JSON.parse(readFileSync(join(dir, 'client.report.json'), 'utf8'));
    expect(client.logits).toHaveLength(3);
    expect(client.logits[0]).toHaveLength(10);
    expect(runs[2]!.c.err.join('\n')).toMatch(/polynas pi client: done/);
  }, 60_000);

  it('a malformed address is a usage error naming the option', async () => {
    const c = capture();
    expect(await runCli(['pi', 'export', fixture, '--out', join(tempDir(), 's'), '--dealer', 'nohost', '--server', '127.0.0.1:1'], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain("--dealer: expected host:port, got 'nohost'");
  });
});
