import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as vl from 'vega-lite';
import { compileQuiet } from './plot.js';

/** One chart of a page: its vega-lite spec and how many data marks (points, bars) it must draw. */
export interface PageChart {
  id: string;
  spec: vl.TopLevelSpec;
  rows: number;
  /** A sentence under the chart: what it shows. */
  caption?: string;
}

/** One section of a page: a heading, optional paragraphs, charts and raw HTML (already escaped). */
export interface PageSection {
  heading: string;
  text?: string[];
  charts?: PageChart[];
  html?: string;
  /** Fold the section (a `<details>` element) so long pages stay readable. */
  folded?: boolean;
}

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a `<script>` element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A table of rows (cells escaped). */
export function htmlTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (tag: string, v: string | number) => `<${tag}>${escapeHtml(String(v))}</${tag}>`;
  return `<table><thead><tr>${header.map((h) => cell('th', h)).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v) => cell('td', v)).join('')}</tr>`).join('')}</tbody></table>`;
}

const STYLE = `body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.sub{color:#666;margin-top:0}.chart{margin:1rem 0 1.6rem;overflow-x:auto}.caption{color:#555;font-size:.9rem;margin:.2rem 0 0}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f4f6f8}pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem;max-height:28rem}details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}`;

// Renders each chart with the inlined vega runtime and records, per chart, its drawn data marks
// (points and bars, not axes or legends) in window.polynasCharts for anyone checking the page.
const BOOT = `(async()=>{const out={};window.polynasCharts=out;if(typeof vega==='undefined')throw new Error('the vega runtime did not load');
const count=(n)=>{let c=0;const walk=(x)=>{if(!x)return;if(x.marktype&&x.role==='mark'&&(x.marktype==='symbol'||x.marktype==='rect'))c+=(x.items||[]).length;for(const i of x.items||[])walk(i);};walk(n);return c;};
for(const el of document.querySelectorAll('[data-chart]')){const id=el.dataset.chart;try{const spec=JSON.parse(document.getElementById('spec-'+id).textContent);
const view=new vega.View(vega.parse(spec),{renderer:'svg',container:el.querySelector('.view'),hover:true});await view.runAsync();
out[id]={rows:Number(el.dataset.rows),marks:count(view.scenegraph().root)};}catch(e){out[id]={error:String(e)};console.error('chart '+id+': '+e);}}
})().finally(()=>{document.body.dataset.rendered='true';});`;

/**
 * One self-contained HTML page: the vega runtime inlined, every chart's vega-lite spec compiled to
 * vega and embedded, so the page opens offline from a file. Each chart records in
 * `window.polynasCharts[id]` its expected data rows and the marks it drew.
 */
export async function renderHtmlPage(opts: { title: string; subtitle?: string; sections: readonly PageSection[] }): Promise<string> {
  // The browser build sits beside the package's entry (`build/`); the package does not export its path.
  const runtime = readFileSync(join(dirname(createRequire(import.meta.url).resolve('vega')), 'vega.min.js'), 'utf8');
  const specs: string[] = [];
  const ids = opts.sections.flatMap((s) => (s.charts ?? []).map((c) => c.id));
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new Error(`report page: two charts have the id '${twice}'`);
  const compiled = new Map<string, unknown>();
  for (const s of opts.sections) for (const c of s.charts ?? []) compiled.set(c.id, await compileQuiet(c.spec));
  const body = opts.sections.map((s) => {
    const charts = (s.charts ?? []).map((c) => {
      specs.push(`<script type="application/json" id="spec-${escapeHtml(c.id)}">${scriptJson(compiled.get(c.id))}</script>`);
      return `<div class="chart" data-chart="${escapeHtml(c.id)}" data-rows="${c.rows}"><div class="view"></div>${c.caption ? `<p class="caption">${escapeHtml(c.caption)}</p>` : ''}</div>`;
    });
    const inner = `${(s.text ?? []).map((t) => `<p>${escapeHtml(t)}</p>`).join('')}${charts.join('')}${s.html ?? ''}`;
    return s.folded ? `<details><summary>${escapeHtml(s.heading)}</summary>${inner}</details>` : `<h2>${escapeHtml(s.heading)}</h2>${inner}`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title><style>${STYLE}</style>
<script>${runtime.replace(/<\/script/gi, '<\\/script')}</script></head>
<body><h1>${escapeHtml(opts.title)}</h1>${opts.subtitle ? `<p class="sub">${escapeHtml(opts.subtitle)}</p>` : ''}
${body.join('\n')}
${specs.join('\n')}
<script>${BOOT}</script></body></html>
`;
}
