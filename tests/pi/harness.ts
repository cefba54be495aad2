import { expect } from 'vitest';
import { Channel, socketPair } from '../../src/pi/channel.js';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endOfBatch, PiContext, Spool } from '../../src/pi/context.js';
import { freshSeed } from '../../src/pi/prg.js';
import { DEFAULT_FIXED_POINT, type FixedPoint } from '../../src/export/program.js';
import { RING_ADDON_PATH } from '../../src/pi/ring.js';

/**
 * Whether the 2PC tests run. They need the native ring arithmetic (`npm run build:torch`); they
 * are skipped only where it is not built and not required. CI requires it (`POLYNAS_REQUIRE_PI=1`,
 * and `POLYNAS_REQUIRE_TORCH=1` where LibTorch is installed), so there a missing build fails the
 * tests instead of skipping them.
 */
export const skipPi = !existsSync(RING_ADDON_PATH) && process.env.POLYNAS_REQUIRE_PI !== '1' && process.env.POLYNAS_REQUIRE_TORCH !== '1';

/** Dealer, party 0 and party 1 contexts in one process, over real loopback sockets. */
export async function session(fp: FixedPoint = DEFAULT_FIXED_POINT): Promise<{ dealer: PiContext; p0: PiContext; p1: PiContext; close(): void }> {
  const [s01, s10] = await socketPair();
  const [sd1, s1d] = await socketPair();
  const seeds = [freshSeed(), freshSeed()];
  const c01 = new Channel(s01, 'party 1'), c10 = new Channel(s10, 'party 0');
  const cd1 = new Channel(sd1, 'party 1'), c1d = new Channel(s1d, 'dealer');
  return {
    dealer: new PiContext('dealer', seeds, fp, undefined, cd1),
    p0: new PiContext(0, [seeds[0], undefined], fp, c01, undefined),
    p1: new PiContext(1, [undefined, seeds[1]], fp, c10, c1d, new Spool(join(mkdtempSync(join(tmpdir(), 'polynas-pi-')), 'spool'))),
    close: () => [s01, s10, sd1, s1d].forEach((s) => s.destroy()),
  };
}

/**
 * Runs one protocol step as a session does: offline, the dealer makes its material and party 1
 * spools it; online, both parties run the step. `f` gets each role's context and name.
 */
export async function phases<T>(s: { dealer: PiContext; p0: PiContext; p1: PiContext }, f: (cx: PiContext, role: 'dealer' | 0 | 1) => Promise<T>): Promise<[T, T]> {
  await Promise.all([f(s.dealer, 'dealer').then(() => s.dealer.material1!.send(endOfBatch())), s.p1.spool!.fill(s.p1.material1!, () => undefined)]);
  return Promise.all([f(s.p0, 0), f(s.p1, 1)]);
}

const argmax = (v: readonly number[]): number => v.indexOf(Math.max(...v));

/**
 * Checks that `actual` picks `expected`'s top class on every sample the expected logits decide, and
 * returns how many they decide. Two evaluations that agree within `tol` per logit can disagree on
 * the top class where the expected top two lie within 2·tol of each other (local truncation moves a
 * secure logit by a few ulp from run to run, and a reference margin of 3 ulp decides nothing): there
 * any class within 2·tol of the expected maximum may win.
 */
export function expectSameTopClass(actual: readonly (readonly number[])[], expected: readonly (readonly number[])[], tol: number): number {
  let decided = 0;
  expect(actual).toHaveLength(expected.length);
  expected.forEach((e, i) => {
    const top = Math.max(...e);
    const contenders = e.flatMap((v, j) => (v >= top - 2 * tol ? [j] : []));
    expect(contenders, `sample ${i}: top class of ${JSON.stringify(actual[i])} against ${JSON.stringify(e)}`).toContain(argmax(actual[i]!));
    if (contenders.length === 1) decided++;
  });
  return decided;
}
