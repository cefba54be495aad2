import { opDefs } from '../ops/index.js';
import { strategies } from '../search/strategy.js';
import '../search/strategies/index.js';
import { markdownTable } from '../report/summary.js';

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` with `body`. */
function between(text: string, name: string, body: string[]): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`no '${start}' … '${end}' block`);
  return `${text.slice(0, i + start.length)}\n${body.join('\n')}\n${text.slice(j)}`;
}

/**
 * The guide's tables of the registered operators and search strategies, generated from the
 * registries so the documentation lists exactly what can be built.
 *
 * @example
 * ```ts
 * writeFileSync('docs/guide.md', registryTables(readFileSync('docs/guide.md', 'utf8')));
 * ```
 */
export function registryTables(guide: string): string {
  const ops = markdownTable(
    ['id', 'site', 'priced as', 'counts as ReLU', 'options', 'summary'],
    opDefs().map((d) => [`\`${d.id}\``, d.kind, `\`${d.costOp}\``, d.isRelu ? 'yes' : 'no', d.options ? `\`activation.${d.options.key}\`` : '–', d.summary]),
    () => true,
  );
  const strats = markdownTable(
    ['strategy', 'gates', 'budget', 'summary'],
    strategies().map((s) => [`\`${s.name}\``, s.gate === 'mask' ? `mask (${s.maskRule})` : s.gate, s.needsBudget ? 'required' : 'optional', s.summary]),
    () => true,
  );
  return between(between(guide, 'ops', ops), 'strategies', strats);
}
