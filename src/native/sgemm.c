/*
 * Batched single-precision matrix products through OpenBLAS, for TF.js's wasm backend. The
 * operands are Float32Array views of the wasm heap, used in place (no copy); the product is
 * written straight into the output tensor's memory.
 *
 *   sgemm(a, b, out, batch, m, n, k, transposeA, transposeB, strideA, strideB)
 *
 * a is [batch?, m, k] (or [batch?, k, m] when transposed), b is [batch?, k, n] (or [.., n, k]),
 * out is [batch, m, n]; a stride of 0 broadcasts that operand over the batch.
 */
#include <cblas.h>
#include "args.h"

napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value args[11];
  if (!arg_count(env, info, 11, args, "sgemm: expected 11 arguments")) return NULL;
  size_t la, lb, lc;
  float* a = arg_floats(env, args[0], &la, "sgemm: expected a Float32Array");
  float* b = arg_floats(env, args[1], &lb, "sgemm: expected a Float32Array");
  float* c = arg_floats(env, args[2], &lc, "sgemm: expected a Float32Array");
  if (a == NULL || b == NULL || c == NULL) return NULL;
  const int32_t batch = arg_int(env, args[3]), m = arg_int(env, args[4]), n = arg_int(env, args[5]), k = arg_int(env, args[6]);
  const bool ta = arg_bool(env, args[7]), tb = arg_bool(env, args[8]);
  const int32_t sa = arg_int(env, args[9]), sb = arg_int(env, args[10]);
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
