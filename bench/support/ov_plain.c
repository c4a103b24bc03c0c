// Plain OpenVINO for the detect bench (bench/plain-runtime.ts): a compiled model and one infer request, used
// straight through the OpenVINO C API with nothing around them, to time against the product's OpenVINO backend
// (src/edge/detect/backends/openvino.ts). Compiled by the bench at run time against .vendor/openvino/include and
// linked against .vendor/openvino/libs/libopenvino_c.so.* (rpath).
//
//   ov_plain MODEL TENSORS SIZE COUNT THREADS
//
// TENSORS is a raw file of COUNT float32 tensors of 1x3xSIZExSIZE, one after the other. The model is compiled for CPU
// with the backend's properties (PERFORMANCE_HINT LATENCY, INFERENCE_PRECISION_HINT f32, INFERENCE_NUM_THREADS), each
// tensor is wrapped in place once (ov_tensor_create_from_host_ptr), then "ready" is printed. After that every line on
// stdin is a number W: W untimed inferences (warm-up) and then one timed, synchronous ov_infer_request_infer per
// tensor, printed as one JSON line {"ms":[...]} (milliseconds per inference, CLOCK_MONOTONIC around the infer call
// alone; setting the input tensor is outside it). EOF ends the program. Errors go to stderr, exit status 1.
#define _POSIX_C_SOURCE 200809L

#include <openvino/c/openvino.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(ov_status_e status, const char *what) {
  if (status == OK) return;
  const char *msg = ov_get_last_err_msg();
  fprintf(stderr, "ov_plain: %s failed: %s (%s)\n", what, msg ? msg : "", ov_get_error_info(status));
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: ov_plain MODEL TENSORS SIZE COUNT THREADS\n");
    return 2;
  }
  const char *model_path = argv[1];
  const char *tensors_path = argv[2];
  const long size = strtol(argv[3], NULL, 10);
  const long count = strtol(argv[4], NULL, 10);
  const char *threads = argv[5];
  if (size <= 0 || count <= 0) {
    fprintf(stderr, "ov_plain: bad SIZE or COUNT\n");
    return 2;
  }

  const size_t per = (size_t)3 * (size_t)size * (size_t)size;
  float *data = malloc(per * (size_t)count * sizeof(float));
  FILE *f = fopen(tensors_path, "rb");
  if (!data || !f || fread(data, sizeof(float), per * (size_t)count, f) != per * (size_t)count) {
    fprintf(stderr, "ov_plain: could not read %ld tensors from %s\n", count, tensors_path);
    return 1;
  }
  fclose(f);

  ov_core_t *core = NULL;
  ov_model_t *model = NULL;
  ov_compiled_model_t *compiled = NULL;
  ov_infer_request_t *request = NULL;
  check(ov_core_create(&core), "creating the core");
  check(ov_core_read_model(core, model_path, NULL, &model), "reading the model");
  // The same properties as the product's backend; property_args_size counts keys and values (3 pairs = 6).
  check(ov_core_compile_model(core, model, "CPU", 6, &compiled, ov_property_key_hint_performance_mode, "LATENCY",
                              ov_property_key_hint_inference_precision, "f32", ov_property_key_inference_num_threads,
                              threads),
        "compiling for CPU");
  check(ov_compiled_model_create_infer_request(compiled, &request), "creating an infer request");

  int64_t dims[4] = {1, 3, size, size};
  ov_shape_t shape;
  check(ov_shape_create(4, dims, &shape), "making the input shape");
  ov_tensor_t **inputs = calloc((size_t)count, sizeof(ov_tensor_t *));
  double *ms = calloc((size_t)count, sizeof(double));
  if (!inputs || !ms) return 1;
  for (long i = 0; i < count; i++)
    check(ov_tensor_create_from_host_ptr(F32, shape, data + per * (size_t)i, &inputs[i]), "wrapping a tensor");
  ov_shape_free(&shape);

  printf("ready\n");
  fflush(stdout);

  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    const long warmup = strtol(line, NULL, 10);
    for (long w = 0; w < warmup; w++) {
      check(ov_infer_request_set_input_tensor_by_index(request, 0, inputs[w % count]), "setting the input");
      check(ov_infer_request_infer(request), "inference");
    }
    for (long i = 0; i < count; i++) {
      check(ov_infer_request_set_input_tensor_by_index(request, 0, inputs[i]), "setting the input");
      const double t0 = now_ms();
      check(ov_infer_request_infer(request), "inference");
      ms[i] = now_ms() - t0;
    }
    printf("{\"ms\":[");
    for (long i = 0; i < count; i++) printf("%s%.4f", i ? "," : "", ms[i]);
    printf("]}\n");
    fflush(stdout);
  }

  for (long i = 0; i < count; i++) ov_tensor_free(inputs[i]);
  ov_infer_request_free(request);
  ov_compiled_model_free(compiled);
  ov_model_free(model);
  ov_core_free(core);
  free(inputs);
  free(ms);
  free(data);
  return 0;
}
