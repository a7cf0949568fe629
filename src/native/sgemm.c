/*
 * pinkflow_sgemm: batched single-precision matrix products through OpenBLAS, for TF.js's wasm
 * backend. The operands are Float32Array views of the wasm heap, used in place (no copy); the
 * product is written straight into the output tensor's memory.
 *
 *   sgemm(a, b, out, batch, m, n, k, transposeA, transposeB, strideA, strideB)
 *
 * a is [batch?, m, k] (or [batch?, k, m] when transposed), b is [batch?, k, n] (or [.., n, k]),
 * out is [batch, m, n]; a stride of 0 broadcasts that operand over the batch.
 */
#include <cblas.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

static float* floats(napi_env env, napi_value v, size_t* length) {
  napi_typedarray_type type;
  void* data = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "sgemm: expected a Float32Array");
    return NULL;
  }
  return (float*)data;
}

static int32_t integer(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

static bool boolean(napi_env env, napi_value v) {
  bool x = false;
  napi_get_value_bool(env, v, &x);
  return x;
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value args[11];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != 11) {
    napi_throw_error(env, NULL, "sgemm: expected 11 arguments");
    return NULL;
  }
  size_t la, lb, lc;
  float* a = floats(env, args[0], &la);
  float* b = floats(env, args[1], &lb);
  float* c = floats(env, args[2], &lc);
  if (a == NULL || b == NULL || c == NULL) return NULL;
  const int32_t batch = integer(env, args[3]), m = integer(env, args[4]), n = integer(env, args[5]), k = integer(env, args[6]);
  const bool ta = boolean(env, args[7]), tb = boolean(env, args[8]);
  const int32_t sa = integer(env, args[9]), sb = integer(env, args[10]);
  if ((size_t)batch * m * n > lc || (size_t)(batch - 1) * sa + (size_t)m * k > la || (size_t)(batch - 1) * sb + (size_t)k * n > lb) {
    napi_throw_range_error(env, NULL, "sgemm: operand shorter than its shape");
    return NULL;
  }
  for (int32_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a + (size_t)i * sa, ta ? m : k, b + (size_t)i * sb, tb ? k : n, 0.0f, c + (size_t)i * m * n, n);
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, NULL, &fn);
  napi_set_named_property(env, exports, "sgemm", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
