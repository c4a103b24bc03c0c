// Exposes internal tensors of an ONNX model as extra graph outputs, by editing the protobuf wire format directly:
// ModelProto.graph (field 7) gets more GraphProto.output entries (field 12, repeated ValueInfoProto). Repeated fields
// may appear anywhere in a message, so the new outputs are appended to the graph's bytes and every other byte of the
// model is copied as it was (no schema, nothing re-encoded, nothing unknown lost). The edited model lives in memory
// (onnxruntime takes a buffer), so nothing is written next to the shared model or anywhere else.
import protobuf from 'protobufjs/minimal.js';

import { GuardianError } from '../../shared/errors.ts';

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
