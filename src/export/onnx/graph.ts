import { createRequire } from 'node:module';
import type * as OnnxProto from 'onnx-proto';

// onnx-proto is CommonJS without named ESM exports; its types come from the declaration file.
const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto;
export { onnx };

const FLOAT = 1; // onnx.TensorProto.DataType.FLOAT
const INT64 = 7; // onnx.TensorProto.DataType.INT64

/** An attribute value as ONNX nodes take it: int, float, ints, floats or string. */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** A tensor's data: float32 or int64 values with their dims. */
export interface TensorData {
  dims: number[];
  float?: Float32Array | number[];
  int64?: number[];
}

function attribute(name: string, v: AttrValue): OnnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

function tensor(name: string, t: TensorData): OnnxProto.onnx.ITensorProto {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.float) {
    if (t.float.length !== count) throw new Error(`tensor '${name}': ${t.float.length} values for dims [${t.dims}]`);
    // Little-endian float32 (raw_data is little-endian by the ONNX spec; so is every machine Node runs on here).
    const f = Float32Array.from(t.float);
    return { name, dims: t.dims, dataType: FLOAT, rawData: new Uint8Array(f.buffer) };
  }
  const ints = t.int64 ?? [];
  if (ints.length !== count) throw new Error(`tensor '${name}': ${ints.length} values for dims [${t.dims}]`);
  return { name, dims: t.dims, dataType: INT64, rawData: new Uint8Array(BigInt64Array.from(ints, (v) => BigInt(v)).buffer) };
}

/**
 * A graph under construction: nodes in topological order, initializers (the model's parameters,
 * which CrypTen secret-shares and Athos treats as the server's tensors) and `Constant` nodes (public
 * values that stay plaintext in both importers).
 */
export class OnnxGraph {
  readonly nodes: OnnxProto.onnx.INodeProto[] = [];
  readonly initializers: OnnxProto.onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A fresh value name from a readable stem (layer paths keep their dots). */
  name(stem: string): string {
    const base = stem.replace(/[^A-Za-z0-9_.]/g, '_') || 'v';
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** Adds a node; returns the name of its (first) output. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, stem = opType.toLowerCase(), outputs = 1): string {
    const out = Array.from({ length: outputs }, (_, i) => this.name(outputs > 1 ? `${stem}_${i}` : stem));
    this.nodes.push({ opType, input: inputs, output: out, name: this.name(`${stem}_${opType}`), attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return out[0]!;
  }

  /** Like {@link node}, returning every output. */
  multi(opType: string, inputs: string[], attrs: Record<string, AttrValue>, stem: string, outputs: number): string[] {
    this.node(opType, inputs, attrs, stem, outputs);
    return this.nodes[this.nodes.length - 1]!.output!.map(String);
  }

  /** A public value: a `Constant` node (plaintext in CrypTen and Athos). */
  constant(stem: string, t: TensorData): string {
    const out = this.name(stem);
    this.nodes.push({ opType: 'Constant', input: [], output: [out], name: this.name(`${stem}_Constant`), attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensor(out, t) }] });
    return out;
  }

  /** A model parameter: an initializer (secret-shared by CrypTen, the server's tensor in Athos). */
  initializer(stem: string, t: TensorData): string {
    const out = this.name(stem);
    this.initializers.push(tensor(out, t));
    return out;
  }

  /** The serialized `ModelProto`. */
  encode(opts: { input: string; inputDims: (number | string)[]; output: string; outputDims: (number | string)[]; opset: number; graphName: string; metadata: Record<string, string>; producerVersion: string; docString: string }): Uint8Array {
    const valueInfo = (name: string, dims: (number | string)[]): OnnxProto.onnx.IValueInfoProto => ({
      name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
    });
    const model = onnx.ModelProto.create({
      // IR 8 is the newest onnx-proto describes; opsets up to 17 need no more.
      irVersion: 8, opsetImport: [{ domain: '', version: opts.opset }], producerName: 'polynas', producerVersion: opts.producerVersion, docString: opts.docString,
      graph: { name: opts.graphName, node: this.nodes, initializer: this.initializers, input: [valueInfo(opts.input, opts.inputDims)], output: [valueInfo(opts.output, opts.outputDims)] },
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A decoded model (for checks and tests). */
export function decodeModel(bytes: Uint8Array): OnnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
