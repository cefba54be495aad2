import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as nn from '../../src/nn-entry.js';
import * as engine from '../../src/engine/index.js';

/**
 * Runs the `@example` blocks of the public API marked runnable (a ```` ```ts runnable ```` fence), as
 * mathjs' doc tests do: each line `expr; // value` (or `const x = expr; // value`) must evaluate to
 * the value in its comment (numbers to 4 significant digits, typed arrays as arrays). A comment that
 * is not a value (`// 0: all-polynomial`) is prose, and its line only has to run.
 */
const src = resolve(__dirname, '..', '..', 'src');
const api: Record<string, unknown> = { ...engine, ...nn, ...root };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function examples(): { where: string; code: string[] }[] {
  const out: { where: string; code: string[] }[] = [];
  for (const f of files(src)) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (l.trim() !== '* ```ts runnable') return;
      const code: string[] = [];
      for (let j = i + 1; j < lines.length && lines[j]!.trim() !== '* ```'; j++) code.push(lines[j]!.replace(/^\s*\* ?/, ''));
      out.push({ where: `${relative(src, f)}:${i + 1}`, code });
    });
  }
  return out;
}

/** The value a comment states, or undefined when it is prose. */
function stated(comment: string): { value: unknown } | undefined {
  try {
    return { value: new Function(`return (${comment.replace(/^(Uint8Array|Float32Array|Int32Array) /, '')});`)() };
  } catch {
    return undefined;
  }
}

function same(got: unknown, want: unknown): void {
  const norm = (v: unknown): unknown => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : Array.isArray(v) ? v.map(norm) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)])) : v);
  const g = norm(got);
  const w = norm(want);
  if (typeof w === 'number' && typeof g === 'number') expect(g).toBeCloseTo(w, Math.max(0, 4 - Math.ceil(Math.log10(Math.abs(w) + 1))));
  else if (Array.isArray(w) && Array.isArray(g) && w.every((x) => typeof x === 'number')) {
    expect(g).toHaveLength(w.length);
    w.forEach((x, i) => same(g[i], x));
  } else expect(g).toEqual(w);
}

describe('runnable @example blocks of the public API', () => {
  const all = examples();
  it('there are some', () => expect(all.length).toBeGreaterThanOrEqual(8));

  for (const { where, code } of all) {
    it(where, () => {
      const scope: Record<string, unknown> = { ...api };
      for (const line of code) {
        const m = /^(?:(?:const|let)\s+(\w+)\s*=\s*)?(.+?);\s*(?:\/\/\s*(.*))?$/.exec(line.trim());
        if (!m) continue;
        const [, name, expr, comment] = m;
        const value = new Function(...Object.keys(scope), `return (${expr});`)(...Object.values(scope));
        if (name) scope[name] = value;
        const want = comment !== undefined ? stated(comment) : undefined;
        if (want) same(value, want.value);
      }
    });
  }
});
