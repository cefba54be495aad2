import type * as OnnxProto from 'onnx-proto';

/**
 * What one importer accepts. `ops` is the importer's own op list (the source file and commit are
 * named in `source`); `constantInputs` lists inputs that must be `Constant` nodes (public
 * plaintext), because the importer reads them as plain tensors or would secret-share an
 * initializer; `square` is how x² is written; `channelSplit` how a channel mask cuts a tensor.
 */
export interface OnnxProfile {
  id: 'crypten' | 'ezpc' | 'plain';
  opset: number;
  ops: ReadonlySet<string>;
  source: string;
  constantInputs: Readonly<Record<string, readonly number[]>>;
  square: 'pow' | 'mul';
  channelSplit: 'slice' | 'split';
  /** Whether ReLU on a subset of a tensor's elements can be expressed (no importer here can: they have no scatter). */
  pixelMasksNative: boolean;
}

export const ONNX_PROFILES: Readonly<Record<OnnxProfile['id'], OnnxProfile>> = {
  crypten: {
    id: 'crypten',
    // CrypTen's own exporter writes opset 17 (`_OPSET_VERSION`); its importer maps op types to crypten.nn modules.
    opset: 17,
    ops: new Set(['Add', 'Sub', 'Mul', 'Pow', 'Relu', 'Conv', 'Gemm', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Transpose', 'Slice', 'Concat', 'Constant']),
    source: 'facebookresearch/CrypTen@775868a crypten/nn/onnx_converter.py, crypten/nn/module.py (no Identity #455/#418/#508, no Split #361, no Scatter #467)',
    // Every initializer becomes a secret-shared Parameter; a Pow exponent and Slice bounds must be plain tensors.
    constantInputs: { Pow: [1], Slice: [1, 2, 3, 4] },
    square: 'pow',
    channelSplit: 'slice',
    pixelMasksNative: false,
  },
  ezpc: {
    id: 'ezpc',
    // Athos' own tests save at opset 15 and run ONNX Runtime at 13; its Split ignores sizes (equal parts only).
    opset: 13,
    ops: new Set(['Add', 'Sub', 'Mul', 'Relu', 'Conv', 'Gemm', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Transpose', 'Split', 'Concat', 'Constant']),
    source: 'mpc-msri/EzPC@f24bf3e Athos/ONNXCompiler/ONNXNodesAST.py (no Slice, Where, Pow or Scatter; Div is broken there)',
    constantInputs: {},
    square: 'mul',
    channelSplit: 'split',
    pixelMasksNative: false,
  },
  plain: {
    id: 'plain',
    opset: 17,
    ops: new Set(['Add', 'Sub', 'Mul', 'Relu', 'Conv', 'Gemm', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Transpose', 'Slice', 'Concat', 'Constant']),
    source: 'ONNX opset 17 (any runtime, e.g. ONNX Runtime)',
    constantInputs: { Slice: [1, 2, 3, 4] },
    square: 'mul',
    channelSplit: 'slice',
    pixelMasksNative: false,
  },
};

/** The profile of an id, or an error naming the known ones. */
export function onnxProfile(id: string): OnnxProfile {
  const p = (ONNX_PROFILES as Record<string, OnnxProfile>)[id];
  if (!p) throw new Error(`ONNX profile '${id}' is unknown; known: ${Object.keys(ONNX_PROFILES).join(', ')}`);
  return p;
}

/**
 * Checks a model against a profile without running it: the opset, one input and one output, every
 * op in the importer's list (so no `Identity` or `Dropout`), inputs that must be public produced by
 * `Constant` nodes, every value defined before use. Returns one line per violation (empty: valid).
 */
export function checkOnnxProfile(model: OnnxProto.onnx.IModelProto, profile: OnnxProfile): string[] {
  const problems: string[] = [];
  const opset = model.opsetImport?.find((o) => !o.domain)?.version;
  if (Number(opset) !== profile.opset) problems.push(`opset ${String(opset)}, the ${profile.id} profile needs ${profile.opset}`);
  const g = model.graph!;
  if (g.input?.length !== 1) problems.push(`${g.input?.length ?? 0} graph inputs, expected 1`);
  if (g.output?.length !== 1) problems.push(`${g.output?.length ?? 0} graph outputs, expected 1`);
  const constants = new Set<string>();
  const defined = new Set<string>([...(g.input ?? []).map((i) => i.name!), ...(g.initializer ?? []).map((t) => t.name!)]);
  if (defined.size !== (g.input?.length ?? 0) + (g.initializer?.length ?? 0)) problems.push('an initializer has the name of a graph input or of another initializer');
  for (const t of g.initializer ?? []) if (profile.id === 'ezpc' && !t.dims?.length) problems.push(`initializer '${t.name}' is 0-d, which Athos drops`);
  for (const n of g.node ?? []) {
    const where = `node '${n.name}' (${n.opType})`;
    // CrypTen runs input 0's method with input 1 as argument: a public Constant first cannot take a secret.
    if (profile.id === 'crypten' && ['Add', 'Sub', 'Mul'].includes(n.opType!) && constants.has(n.input?.[0] ?? '')) problems.push(`${where}: a Constant as input 0 (CrypTen needs the secret value first)`);
    if (profile.id === 'ezpc' && n.opType === 'Constant' && !n.attribute?.[0]?.t?.dims?.length) problems.push(`${where}: a 0-d Constant, which Athos drops when it folds constants`);
    if (!profile.ops.has(n.opType!)) problems.push(`${where}: ${n.opType} is not in the ${profile.id} importer's op list (${profile.source})`);
    for (const i of n.input ?? []) if (i && !defined.has(i)) problems.push(`${where}: input '${i}' is used before it is defined`);
    for (const idx of profile.constantInputs[n.opType!] ?? []) {
      const i = n.input?.[idx];
      if (i && !constants.has(i)) problems.push(`${where}: input ${idx} ('${i}') must be a Constant node (public), not an initializer or a computed value`);
    }
    for (const o of n.output ?? []) {
      if (defined.has(o)) problems.push(`${where}: output '${o}' is defined twice`);
      defined.add(o);
      if (n.opType === 'Constant') constants.add(o);
    }
  }
  for (const o of g.output ?? []) if (!defined.has(o.name!)) problems.push(`graph output '${o.name}' is never produced`);
  return problems;
}

/** Node count per op type, in descending order. */
export function opHistogram(model: OnnxProto.onnx.IModelProto): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of model.graph?.node ?? []) h[n.opType!] = (h[n.opType!] ?? 0) + 1;
  return Object.fromEntries(Object.entries(h).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
