import type * as vl from 'vega-lite';

/** One activation site of a searched network: its ReLUs before the search and those it kept. */
export interface SiteRelus {
  path: string;
  total: number;
  kept: number;
}

/** One priced layer of a network under a latency table (`modelled: false`: the table has no price for its operator). */
export interface LayerCost {
  path: string;
  op: string;
  time: number;
  modelled: boolean;
}

/** The family a priced operator belongs to in the latency breakdown. */
export function costCategory(op: string): 'linear layers' | 'ReLU' | 'polynomial' | 'pool' | 'other' {
  if (/^(conv|fc|linear|bn|gemm|matmul)/i.test(op)) return 'linear layers';
  if (op === 'relu' || op === 'gelu') return 'ReLU';
  if (/^(poly|x2act|square|identity|dapa)/i.test(op)) return 'polynomial';
  if (/pool|gap/i.test(op)) return 'pool';
  return 'other';
}

const CATEGORIES = ['linear layers', 'ReLU', 'polynomial', 'pool', 'other'];

/**
 * Kept vs total ReLUs per activation site, in network order (the figure AutoReP and SNL papers
 * show), on a symmetric-log axis so that a site keeping 0.5 % still shows. One bar per site and kind.
 */
export function reluLayersSpec(sites: readonly SiteRelus[], title: string): { spec: vl.TopLevelSpec; rows: number } {
  const values = sites.flatMap((s, i) => {
    const site = `${String(i).padStart(2, '0')} ${s.path}`;
    return [
      { site, kind: 'total', relus: s.total, share: 1 },
      { site, kind: 'kept', relus: s.kept, share: s.total ? s.kept / s.total : 0 },
    ];
  });
  const top = Math.max(1, ...sites.map((s) => s.total));
  const decades = [0, ...Array.from({ length: Math.floor(Math.log10(top)) + 1 }, (_, k) => 10 ** k)];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: Math.max(360, 18 * sites.length), height: 220, data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'site', type: 'nominal', sort: null, title: null, axis: { labelAngle: -60 } },
      xOffset: { field: 'kind', sort: ['total', 'kept'] },
      y: { field: 'relus', type: 'quantitative', title: 'ReLUs (symlog scale)', scale: { type: 'symlog' }, axis: { values: decades } },
      color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['total', 'kept'], range: ['#c7d2e0', '#1f5aa6'] } },
      tooltip: [{ field: 'site' }, { field: 'kind' }, { field: 'relus', format: ',' }, { field: 'share', title: 'kept share', format: '.2%' }],
    },
  } as vl.TopLevelSpec;
  return { spec, rows: values.length };
}

/**
 * Predicted latency per layer, stacked by operator family (linear layers, ReLU, polynomial, pool).
 * Layers whose operator the table does not price are drawn as grey crosses labelled "not modelled"
 * on the axis, never as a zero-height bar. One mark per row.
 */
export function latencyLayersSpec(layers: readonly LayerCost[], opts: { title: string; unit: string }): { spec: vl.TopLevelSpec; rows: number } {
  const order: string[] = [];
  const rows = new Map<string, { layer: string; category: string; time: number; modelled: boolean; ops: Set<string> }>();
  for (const l of layers) {
    if (!order.includes(l.path)) order.push(l.path);
    const layer = `${String(order.indexOf(l.path)).padStart(2, '0')} ${l.path}`;
    const category = l.modelled ? costCategory(l.op) : 'not modelled';
    const key = `${layer}|${category}`;
    const r = rows.get(key) ?? { layer, category, time: 0, modelled: l.modelled, ops: new Set<string>() };
    r.time += l.time;
    r.ops.add(l.op);
    rows.set(key, r);
  }
  const values = [...rows.values()].map((r) => ({ layer: r.layer, category: r.category, time: r.modelled ? r.time : 0, ops: [...r.ops].join(', '), modelled: r.modelled }));
  // Both layers share the x order of the network (bars and crosses would otherwise each append their own).
  const x = { field: 'layer', type: 'nominal', sort: order.map((p, i) => `${String(i).padStart(2, '0')} ${p}`), title: null, axis: { labelAngle: -60 } };
  const color = { field: 'category', type: 'nominal', title: null, scale: { domain: [...CATEGORIES, 'not modelled'], range: ['#4c78a8', '#e45756', '#54a24b', '#f58518', '#b279a2', '#9a9a9a'] } };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title, width: Math.max(360, 16 * order.length), height: 220, data: { values },
    layer: [
      {
        transform: [{ filter: 'datum.modelled' }], mark: { type: 'bar' },
        encoding: {
          x, y: { field: 'time', type: 'quantitative', stack: 'zero', title: `predicted time (${opts.unit})` },
          color,
          tooltip: [{ field: 'layer' }, { field: 'category' }, { field: 'ops' }, { field: 'time', format: '.3f' }],
        },
      },
      {
        transform: [{ filter: '!datum.modelled' }], mark: { type: 'point', shape: 'cross', filled: true, size: 70 },
        encoding: { x, y: { datum: 0, type: 'quantitative' }, color, tooltip: [{ field: 'layer' }, { field: 'ops', title: 'not modelled by the table' }] },
      },
    ],
  } as vl.TopLevelSpec;
  return { spec, rows: values.length };
}
