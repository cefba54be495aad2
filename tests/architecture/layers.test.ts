import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layer order of `src/` (documented in docs/architecture.md). A module may import its own
 * files and modules of a lower rank only; modules of the same rank are peers that never import each
 * other. So there are no cycles between modules, and nothing imports "up".
 */
const RANKS: Record<string, number> = {
  io: 0,
  engine: 1,
  nn: 2,
  data: 2,
  ops: 3,
  backbones: 3,
  latency: 4,
  spec: 5,
  supernet: 6,
  train: 6,
  search: 7,
  export: 7,
  report: 8,
  pi: 8,
  run: 9,
  cli: 10,
  '(root)': 11,
};

const src = resolve(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  /** Loads the target when the importing file loads (not `import type`, not a dynamic `import()`). */
  eager: boolean;
  line: number;
}

/** Every import of a file: static `import`/`export … from` and dynamic `import()`. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const re = /^(import|export)\s+(type\s+)?([^;]*?)\s*from\s*'([^']+)'|^import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[4] ?? m[5] ?? m[6]!;
    const typeOnly = !!m[2] || (m[3] !== undefined && /^\{[^}]*\}$/s.test(m[3].trim()) && m[3].replace(/[{}\s]/g, '').split(',').filter(Boolean).every((n) => n.startsWith('type ')));
    const line = text.slice(0, m.index).split('\n').length;
    const to = spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : spec;
    edges.push({ from: file, to, eager: !m[6] && !typeOnly, line });
  }
  return edges;
}

const moduleOf = (file: string) => {
  const rel = relative(src, file);
  return rel.includes('/') ? rel.split('/')[0]! : '(root)';
};

const all = files(src);
const edges = all.flatMap(importsOf);
const internal = edges.filter((e) => e.to.startsWith(src));

describe('layers', () => {
  it('every module of src/ has a rank', () => {
    expect([...new Set(all.map(moduleOf))].filter((m) => RANKS[m] === undefined)).toEqual([]);
  });

  it('no import points up the layer order or across peers', () => {
    const bad = internal
      .filter((e) => moduleOf(e.from) !== moduleOf(e.to) && RANKS[moduleOf(e.to)]! >= RANKS[moduleOf(e.from)]!)
      .map((e) => `${relative(src, e.from)}:${e.line} imports ${relative(src, e.to)} (${moduleOf(e.from)} → ${moduleOf(e.to)})`);
    expect(bad).toEqual([]);
  });

  it('prints the module graph', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of internal) {
      const a = moduleOf(e.from);
      const b = moduleOf(e.to);
      if (a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b));
    }
    const order = Object.keys(RANKS).sort((a, b) => RANKS[b]! - RANKS[a]! || a.localeCompare(b));
    const lines = order.map((m) => `${m.padEnd(9)} (${RANKS[m]}) → ${[...(graph.get(m) ?? [])].sort((a, b) => RANKS[b]! - RANKS[a]! || a.localeCompare(b)).join(', ') || '–'}`);
    console.log(`module graph (rank; imports):\n${lines.join('\n')}`);
    expect(graph.get('io')).toBeUndefined(); // the bottom layer imports nothing of polynas
  });

  it('the operator registry, its definitions and the space schema load without TensorFlow.js or mathjs', () => {
    const heavy = /^(@tensorflow\/|mathjs$)/;
    const byFile = new Map<string, Edge[]>();
    for (const e of edges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e]);
    const reached = (start: string) => {
      const seen = new Set<string>();
      const stack = [start];
      const external: string[] = [];
      while (stack.length) {
        const f = stack.pop()!;
        if (seen.has(f)) continue;
        seen.add(f);
        for (const e of byFile.get(f) ?? []) {
          if (!e.eager) continue;
          if (e.to.startsWith(src)) stack.push(e.to);
          else if (heavy.test(e.to)) external.push(`${relative(src, f)}:${e.line} → ${e.to}`);
        }
      }
      return external;
    };
    expect(reached(join(src, 'ops', 'index.ts'))).toEqual([]);
  });
});
