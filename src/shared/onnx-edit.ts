// Exposes internal tensors of an ONNX model as extra graph outputs, by editing the protobuf wire format directly:
// ModelProto.graph (field 7) gets more GraphProto.output entries (field 12, repeated ValueInfoProto). Repeated fields
// may appear anywhere in a message, so the new outputs are appended to the graph's bytes and every other byte of the
// model is copied as it was (no schema, nothing re-encoded, nothing unknown lost). The edited model lives in memory
// (onnxruntime takes a buffer), so nothing is written next to the shared model or anywhere else.
import protobuf from 'protobufjs/minimal.js';

import { GuardianError } from './errors.ts';

const { Reader, Writer } = protobuf;

interface Field {
  field: number;
  wire: number;
  /** Byte range of the whole field (tag included) and of its payload when length-delimited. */
  start: number;
  end: number;
  payload?: Uint8Array;
}

function readFields(bytes: Uint8Array, what: string): Field[] {
  const r = Reader.create(bytes);
  const out: Field[] = [];
  try {
    while (r.pos < r.len) {
      const start = r.pos;
      const tag = r.uint32();
      const wire = tag & 7;
      let payload: Uint8Array | undefined;
      if (wire === 2) payload = r.bytes();
      else r.skipType(wire);
      out.push({ field: tag >>> 3, wire, start, end: r.pos, ...(payload ? { payload } : {}) });
    }
  } catch (err) {
    throw new GuardianError('CORRUPT_DATA', `${what} is not a valid ONNX model (${(err as Error).message})`);
  }
  return out;
}

const text = new TextDecoder();

/** The model's graph bytes (ModelProto field 7). */
function graphOf(model: Uint8Array, what: string): { fields: Field[]; graph: Field } {
  const fields = readFields(model, what);
  const graph = fields.find((f) => f.field === 7 && f.payload);
  if (!graph?.payload) throw new GuardianError('CORRUPT_DATA', `${what} has no ONNX graph`);
  return { fields, graph };
}

export interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
}

/** The graph's nodes in file order (ONNX requires topological order), and its declared outputs. */
export function readGraph(model: Uint8Array, what = 'the model'): { nodes: GraphNode[]; outputs: string[] } {
  const { graph } = graphOf(model, what);
  const nodes: GraphNode[] = [];
  const outputs: string[] = [];
  for (const f of readFields(graph.payload as Uint8Array, what)) {
    if (f.field === 1 && f.payload) {
      const node: GraphNode = { opType: '', inputs: [], outputs: [] };
      for (const n of readFields(f.payload, what)) {
        if (!n.payload) continue;
        if (n.field === 1) node.inputs.push(text.decode(n.payload));
        else if (n.field === 2) node.outputs.push(text.decode(n.payload));
        else if (n.field === 4) node.opType = text.decode(n.payload);
      }
      nodes.push(node);
    } else if (f.field === 12 && f.payload) {
      const name = readFields(f.payload, what).find((n) => n.field === 1 && n.payload);
      if (name?.payload) outputs.push(text.decode(name.payload));
    }
  }
  return { nodes, outputs };
}

/**
 * A copy of `model` whose graph also outputs the named tensors (type and shape left to the runtime). With
 * `replace`, they become its only outputs, and the runtime drops every node that no longer leads to one (a sub-model).
 */
export function addGraphOutputs(
  model: Uint8Array,
  names: string[],
  options: { replace?: boolean; what?: string } = {},
): Uint8Array {
  const what = options.what ?? 'the model';
  const { fields, graph } = graphOf(model, what);
  const extra = Writer.create();
  // ValueInfoProto { name = 1 } without a type: the runtime infers it (a tensor may be float or int64).
  for (const name of names)
    extra.uint32((12 << 3) | 2).bytes(
      Writer.create()
        .uint32((1 << 3) | 2)
        .string(name)
        .finish(),
    );
  const appended = extra.finish();
  let payload = graph.payload as Uint8Array;
  if (options.replace)
    payload = concat(
      readFields(payload, what)
        .filter((f) => f.field !== 12)
        .map((f) => payload.subarray(f.start, f.end)),
    );
  const newGraph = concat([payload, appended]);
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    if (f === graph)
      parts.push(
        Writer.create()
          .uint32((7 << 3) | 2)
          .bytes(newGraph)
          .finish(),
      );
    else parts.push(model.subarray(f.start, f.end));
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

/** Absolute offset of a payload (a view into `model`) in `model`. */
const offsetIn = (model: Uint8Array, part: Uint8Array) => part.byteOffset - model.byteOffset;

/**
 * A copy of a batch-1 model that takes `n` images at once (2–127): the image input's and the outputs' first dimension
 * become `n`, every Reshape whose target shape is a constant starting with 1 copies the batch from its input
 * instead (ONNX Reshape's 0), and the recorded intermediate shapes (value_info, all for batch 1) are dropped for the
 * runtime to infer. Every patch keeps its byte length, so only the graph's own length is re-encoded. A model whose
 * graph folds the batch into another axis (NanoDet's head reshapes to [80, -1]) is refused: it has no batch axis.
 */
export function withBatchSize(model: Uint8Array, n: number, what = 'the model'): Uint8Array {
  if (!Number.isInteger(n) || n < 2 || n > 127) throw new GuardianError('INVALID_ARGUMENT', `batch ${n}: 2 to 127`);
  const out = Uint8Array.prototype.slice.call(model); // a copy (Buffer.prototype.slice would be a view)
  const { fields, graph } = graphOf(out, what);
  const graphFields = readFields(graph.payload as Uint8Array, what);
  const reshapeShapes = new Set(
    readGraph(out, what)
      .nodes.filter((node) => node.opType === 'Reshape')
      .map((node) => node.inputs[1] ?? ''),
  );
  const noBatch = (why: string) => new GuardianError('UNSUPPORTED_INPUT', `${what} has no batch axis: ${why}`);
  const sub = (f: Field | undefined, field: number) =>
    f?.payload ? readFields(f.payload, what).find((x) => x.field === field && x.payload) : undefined;
  // ValueInfoProto.type (2) → TypeProto.tensor_type (1) → shape (2) → first dim (1) → dim_value (1, a varint).
  const setFirstDim = (info: Field) => {
    const dim = sub(sub(sub(sub(info, 2), 1), 2), 1);
    const value = dim?.payload ? readFields(dim.payload, what).find((x) => x.field === 1 && x.wire === 0) : undefined;
    if (!dim?.payload || !value) throw noBatch('an input or output has no fixed first dimension');
    const at = offsetIn(out, dim.payload) + value.start + 1;
    if (out[at] !== 1) throw noBatch(`an input or output's first dimension is ${out[at]}, not 1`);
    out[at] = n;
  };
  const initializers = new Set<string>();
  for (const f of graphFields) {
    if (f.field !== 5 || !f.payload) continue;
    const tensor = readFields(f.payload, what);
    const name = tensor.find((x) => x.field === 8 && x.payload);
    const nameText = name?.payload ? text.decode(name.payload) : '';
    initializers.add(nameText);
    if (!reshapeShapes.has(nameText)) continue;
    // TensorProto: int64 data as raw_data (9, little-endian) or int64_data (7, packed varints).
    const raw = tensor.find((x) => x.field === 9 && x.payload);
    const packed = tensor.find((x) => x.field === 7 && x.payload);
    const at = raw?.payload ? offsetIn(out, raw.payload) : packed?.payload ? offsetIn(out, packed.payload) : -1;
    const first = raw?.payload ? new DataView(out.buffer, out.byteOffset + at, 8).getBigInt64(0, true) : out[at];
    if (at < 0 || (first !== 1n && first !== 1)) throw noBatch(`Reshape to a shape that does not start with 1`);
    out[at] = 0; // 0: "the input's dimension", i.e. the batch (the other bytes of a little-endian 1 are already 0)
  }
  for (const s of reshapeShapes)
    if (!initializers.has(s)) throw noBatch('a Reshape takes its shape from a computed tensor');
  for (const f of graphFields)
    if ((f.field === 11 && !initializers.has(nameOf(f, what))) || f.field === 12) setFirstDim(f);
  const payload = graph.payload as Uint8Array;
  const newGraph = concat(graphFields.filter((f) => f.field !== 13).map((f) => payload.subarray(f.start, f.end)));
  const parts = fields.map((f) =>
    f === graph
      ? Writer.create()
          .uint32((7 << 3) | 2)
          .bytes(newGraph)
          .finish()
      : out.subarray(f.start, f.end),
  );
  return concat(parts);
}

function nameOf(info: Field, what: string): string {
  const name = info.payload ? readFields(info.payload, what).find((x) => x.field === 1 && x.payload) : undefined;
  return name?.payload ? text.decode(name.payload) : '';
}
