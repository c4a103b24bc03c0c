// Nearest-neighbour distance to a memory bank, as a three-node ONNX graph run by onnxruntime (MLAS matmul is an order
// of magnitude faster than a JS loop): min_k ||x - b_k||² = ||x||² + min_k (||b_k||² - 2 x·b_k). The graph is written
// here in the protobuf wire format (ModelProto → GraphProto → NodeProto/TensorProto/ValueInfoProto, field numbers of
// onnx.proto), with the bank as an initializer, and loaded from memory.
import '../detect/backends/ort-privacy.ts';

import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs/minimal.js';

const { Writer } = protobuf;
type W = protobuf.Writer;

const LEN = 2;
const VARINT = 0;
const FLOAT = 1; // TensorProto.DataType.FLOAT
const INTS = 7; // AttributeProto.AttributeType.INTS
const INT = 2;

const tag = (w: W, field: number, wire: number) => w.uint32((field << 3) | wire);

function valueInfo(w: W, field: number, name: string, dims: (number | string)[]): void {
  tag(w, field, LEN).fork();
  tag(w, 1, LEN).string(name);
  tag(w, 2, LEN).fork(); // TypeProto
  tag(w, 1, LEN).fork(); // tensor_type
  tag(w, 1, VARINT).int32(FLOAT);
  tag(w, 2, LEN).fork(); // shape
  for (const d of dims) {
    tag(w, 1, LEN).fork();
    if (typeof d === 'number') tag(w, 1, VARINT).int64(d);
    else tag(w, 2, LEN).string(d);
    w.ldelim();
  }
  w.ldelim().ldelim().ldelim().ldelim();
}

function initializer(w: W, name: string, dims: number[], data: Float32Array): void {
  tag(w, 5, LEN).fork();
  for (const d of dims) tag(w, 1, VARINT).int64(d);
  tag(w, 2, VARINT).int32(FLOAT);
  tag(w, 8, LEN).string(name);
  tag(w, 9, LEN).bytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // little-endian like x86/ARM
  w.ldelim();
}

function node(
  w: W,
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: { name: string; ints?: number[]; int?: number }[] = [],
): void {
  tag(w, 1, LEN).fork();
  for (const i of inputs) tag(w, 1, LEN).string(i);
  for (const o of outputs) tag(w, 2, LEN).string(o);
  tag(w, 3, LEN).string(`${op}_${outputs[0]}`);
  tag(w, 4, LEN).string(op);
  for (const a of attrs) {
    tag(w, 5, LEN).fork();
    tag(w, 1, LEN).string(a.name);
    if (a.ints) {
      for (const v of a.ints) tag(w, 8, VARINT).int64(v);
      tag(w, 20, VARINT).int32(INTS);
    } else {
      tag(w, 3, VARINT).int64(a.int ?? 0);
      tag(w, 20, VARINT).int32(INT);
    }
    w.ldelim();
  }
  w.ldelim();
}

/** ONNX model: input x [n, dim] → output d2 [n], the squared distance of each row to its nearest bank row (minus ||x||²). */
export function nearestGraph(bank: Float32Array, dim: number): Uint8Array {
  const k = bank.length / dim;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`bank of ${bank.length} floats is not rows of ${dim}`);
  const weights = new Float32Array(dim * k); // -2 · bankᵀ, [dim, k]
  const norms = new Float32Array(k);
  for (let r = 0; r < k; r++) {
    let s = 0;
    for (let c = 0; c < dim; c++) {
      const v = bank[r * dim + c] as number;
      weights[c * k + r] = -2 * v;
      s += v * v;
    }
    norms[r] = s;
  }
  const w = Writer.create();
  tag(w, 1, VARINT).int64(8); // ir_version
  tag(w, 2, LEN).string('guardian');
  tag(w, 7, LEN).fork(); // graph
  node(w, 'MatMul', ['x', 'w'], ['xw']);
  node(w, 'Add', ['xw', 'norms'], ['dist']);
  node(
    w,
    'ReduceMin',
    ['dist'],
    ['d2'],
    [
      { name: 'axes', ints: [1] },
      { name: 'keepdims', int: 0 },
    ],
  );
  tag(w, 2, LEN).string('nearest');
  initializer(w, 'w', [dim, k], weights);
  initializer(w, 'norms', [k], norms);
  valueInfo(w, 11, 'x', ['n', dim]);
  valueInfo(w, 12, 'd2', ['n']);
  w.ldelim();
  tag(w, 8, LEN).fork(); // opset_import
  tag(w, 1, LEN).string('');
  tag(w, 2, VARINT).int64(13);
  w.ldelim();
  return w.finish();
}

/** Nearest-neighbour distances to a fixed bank. */
export class NearestNeighbours {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly dim: number,
    readonly size: number,
  ) {}

  static async create(bank: Float32Array, dim: number, threads = 1): Promise<NearestNeighbours> {
    const session = await ort.InferenceSession.create(nearestGraph(bank, dim), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new NearestNeighbours(session, dim, bank.length / dim);
  }

  /** Euclidean distance of each of the `rows` vectors in `x` (row-major) to its nearest bank vector. */
  async distances(x: Float32Array, rows: number): Promise<Float32Array> {
    if (!rows) return new Float32Array(0);
    const input = x.length === rows * this.dim ? x : x.subarray(0, rows * this.dim);
    const out = await this.session.run({ x: new ort.Tensor('float32', input, [rows, this.dim]) });
    const d2 = out.d2?.data as Float32Array;
    const result = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < this.dim; c++) {
        const v = input[r * this.dim + c] as number;
        s += v * v;
      }
      result[r] = Math.sqrt(Math.max(0, s + (d2[r] as number)));
    }
    return result;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
