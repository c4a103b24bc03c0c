// OpenVINO through its C API (libopenvino_c from the `openvino` PyPI wheel, which `npm run setup` unpacks into
// .vendor/openvino/libs), called with koffi. No Python at run time. Device CPU here, GPU where an Intel iGPU exists.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import koffi from 'koffi';

import { projectRoot } from '../../../shared/paths.ts';
import type { InferenceBackend, OutputTensor } from '../types.ts';

const F32 = 4; // ov_element_type_e: DYNAMIC, BOOLEAN, BF16, F16, F32, ...

export function openVinoLibDir(): string {
  return process.env.GUARDIAN_OPENVINO_LIBS ?? join(projectRoot, '.vendor', 'openvino', 'libs');
}

interface OvApi {
  lib: koffi.IKoffiLib;
  coreCreate: koffi.KoffiFunction;
  readModel: koffi.KoffiFunction;
  readModelFromMemory: koffi.KoffiFunction;
  compileModel: koffi.KoffiFunction;
  createInferRequest: koffi.KoffiFunction;
  tensorFromHostPtr: koffi.KoffiFunction;
  setInputTensor: koffi.KoffiFunction;
  infer: koffi.KoffiFunction;
  getOutputTensor: koffi.KoffiFunction;
  compiledOutputsSize: koffi.KoffiFunction;
  tensorData: koffi.KoffiFunction;
  tensorShape: koffi.KoffiFunction;
  tensorSize: koffi.KoffiFunction;
  shapeFree: koffi.KoffiFunction;
  tensorFree: koffi.KoffiFunction;
  requestFree: koffi.KoffiFunction;
  compiledFree: koffi.KoffiFunction;
  modelFree: koffi.KoffiFunction;
  coreFree: koffi.KoffiFunction;
  lastError: koffi.KoffiFunction;
  errorInfo: koffi.KoffiFunction;
  shapeType: koffi.IKoffiCType;
}

let api: OvApi | undefined;

function load(): OvApi {
  if (api) return api;
  const dir = openVinoLibDir();
  const file = existsSync(dir) ? readdirSync(dir).find((f) => /^libopenvino_c\.so(\.\d+)*$/.test(f)) : undefined;
  if (!file) throw new Error(`OpenVINO runtime not found in ${dir} (npm run setup unpacks it from the openvino wheel)`);
  const lib = koffi.load(join(dir, file));
  const shapeType = koffi.struct('ov_shape_t', { rank: 'int64_t', dims: 'int64_t *' });
  const f = (sig: string) => lib.func(sig);
  api = {
    lib,
    shapeType,
    coreCreate: f('int ov_core_create(_Out_ void **core)'),
    readModel: f('int ov_core_read_model(void *core, const char *path, const char *bin, _Out_ void **model)'),
    readModelFromMemory: f(
      'int ov_core_read_model_from_memory_buffer(void *core, const uint8_t *model, size_t size, void *weights, _Out_ void **out)',
    ),
    compileModel: f(
      'int ov_core_compile_model(void *core, void *model, const char *device, size_t n, _Out_ void **compiled, ...)',
    ),
    createInferRequest: f('int ov_compiled_model_create_infer_request(void *compiled, _Out_ void **request)'),
    tensorFromHostPtr: f(
      'int ov_tensor_create_from_host_ptr(int type, ov_shape_t shape, void *ptr, _Out_ void **tensor)',
    ),
    setInputTensor: f('int ov_infer_request_set_input_tensor_by_index(void *request, size_t index, void *tensor)'),
    infer: f('int ov_infer_request_infer(void *request)'),
    getOutputTensor: f(
      'int ov_infer_request_get_output_tensor_by_index(void *request, size_t index, _Out_ void **tensor)',
    ),
    compiledOutputsSize: f('int ov_compiled_model_outputs_size(void *compiled, _Out_ size_t *size)'),
    tensorData: f('int ov_tensor_data(void *tensor, _Out_ void **data)'),
    tensorShape: f('int ov_tensor_get_shape(void *tensor, _Out_ ov_shape_t *shape)'),
    tensorSize: f('int ov_tensor_get_size(void *tensor, _Out_ size_t *size)'),
    shapeFree: f('int ov_shape_free(ov_shape_t *shape)'),
    tensorFree: f('void ov_tensor_free(void *tensor)'),
    requestFree: f('void ov_infer_request_free(void *request)'),
    compiledFree: f('void ov_compiled_model_free(void *compiled)'),
    modelFree: f('void ov_model_free(void *model)'),
    coreFree: f('void ov_core_free(void *core)'),
    lastError: f('const char *ov_get_last_err_msg()'),
    errorInfo: f('const char *ov_get_error_info(int status)'),
  };
  return api;
}

function check(a: OvApi, status: number, what: string): void {
  if (status === 0) return;
  let detail = '';
  try {
    detail = String(a.lastError() ?? '') || String(a.errorInfo(status) ?? '');
  } catch {
    detail = `status ${status}`;
  }
  throw new Error(`OpenVINO: ${what} failed: ${detail.trim() || `status ${status}`}`);
}

/** `model`: a path, or the model's bytes (an edited copy, such as a batch-N one; ONNX keeps its weights inside). */
export async function createOpenVinoBackend(
  model: string | Uint8Array,
  device: string,
  threads: number,
): Promise<InferenceBackend> {
  const a = load();
  const core = [null];
  check(a, a.coreCreate(core), 'creating the core');
  const ovModel = [null];
  const compiled = [null];
  const request = [null];
  try {
    if (typeof model === 'string') check(a, a.readModel(core[0], model, null, ovModel), `reading ${model}`);
    else check(a, a.readModelFromMemory(core[0], model, model.length, null, ovModel), 'reading the model');
    const props: unknown[] = ['str', 'PERFORMANCE_HINT', 'str', 'LATENCY'];
    if (device === 'CPU') {
      // Full precision: on CPUs with bf16 units OpenVINO would otherwise trade accuracy for speed.
      props.push('str', 'INFERENCE_PRECISION_HINT', 'str', 'f32');
      if (threads > 0) props.push('str', 'INFERENCE_NUM_THREADS', 'str', String(threads));
    }
    check(
      a,
      a.compileModel(core[0], ovModel[0], device, props.length / 2, compiled, ...props),
      `compiling for ${device}`,
    );
    check(a, a.createInferRequest(compiled[0], request), 'creating an infer request');
  } catch (err) {
    if (compiled[0]) a.compiledFree(compiled[0]);
    if (ovModel[0]) a.modelFree(ovModel[0]);
    a.coreFree(core[0]);
    throw err;
  }
  const nOut = [0];
  check(a, a.compiledOutputsSize(compiled[0], nOut), 'counting outputs');
  let busy: Promise<unknown> = Promise.resolve();

  const runOnce = async (input: Float32Array, size: number, batch: number): Promise<OutputTensor[]> => {
    const dims = new BigInt64Array([BigInt(batch), 3n, BigInt(size), BigInt(size)]);
    const tensor = [null];
    // The input tensor wraps the JS buffer in place: no copy.
    check(a, a.tensorFromHostPtr(F32, { rank: 4, dims }, input, tensor), 'wrapping the input');
    try {
      check(a, a.setInputTensor(request[0], 0, tensor[0]), 'setting the input');
      // Inference runs on koffi's worker thread so the event loop stays free.
      const status = await new Promise<number>((resolve, reject) =>
        a.infer.async(request[0], (err: unknown, res: number) => (err ? reject(err) : resolve(res))),
      );
      check(a, status, 'inference');
    } finally {
      a.tensorFree(tensor[0]);
    }
    const outputs: OutputTensor[] = [];
    for (let i = 0; i < (nOut[0] ?? 0); i++) {
      const out = [null];
      check(a, a.getOutputTensor(request[0], i, out), 'reading an output');
      try {
        const shape = {} as { rank: number; dims: unknown };
        check(a, a.tensorShape(out[0], shape), 'reading an output shape');
        const rank = Number(shape.rank);
        const shapeDims = koffi.decode(shape.dims, 'int64_t', rank) as (number | bigint)[];
        a.shapeFree(shape);
        const count = [0];
        check(a, a.tensorSize(out[0], count), 'reading an output size');
        const ptr = [null];
        check(a, a.tensorData(out[0], ptr), 'reading output data');
        // Copy out: the output memory belongs to the infer request and is reused by the next inference.
        const data = new Float32Array(koffi.view(ptr[0], Number(count[0]) * 4) as ArrayBuffer).slice();
        outputs.push({ data, dims: shapeDims.map(Number) });
      } finally {
        a.tensorFree(out[0]);
      }
    }
    return outputs;
  };

  return {
    name: 'openvino',
    device,
    run(input: Float32Array, size: number, batch = 1): Promise<OutputTensor[]> {
      // One infer request per backend: calls are serialised.
      const next = busy.then(() => runOnce(input, size, batch));
      busy = next.catch(() => undefined);
      return next;
    },
    async close() {
      await busy;
      a.requestFree(request[0]);
      a.compiledFree(compiled[0]);
      a.modelFree(ovModel[0]);
      a.coreFree(core[0]);
    },
  };
}
