/*
 * Fused element-wise kernels for TF.js's wasm backend, forward and backward, over the wasm heap in
 * place and on every core (OpenMP). Each replaces a chain of small single-threaded wasm kernels:
 *
 *   gelu(x, y, n)                           y = x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))
 *   geluGrad(x, dy, dx, n)
 *   layerNorm(x, g, b, y, rows, c, eps)     per row of c: (x − mean)/√(var + eps) · g + b
 *   layerNormGrad(x, g, dy, dx, dg, db, rows, c, eps)
 *   softmax(x, mask | null, y, rows, cols, scale, rowsPerBatch, tq, maskBatch, maskRows)
 *                                           y = softmax(scale · x + mask) over each row
 *   softmaxGrad(y, dy, dx, rows, cols, scale)
 *   split(x, [out…], outer, inner, [size…]) x [outer, Σsize, inner] → out_i [outer, size_i, inner]
 *
 * Results never depend on the number of threads: element-wise and per-row work has one writer per
 * element, and the sums over rows (layer norm's dg, db) are taken over a fixed number of chunks of
 * rows and then added in chunk order. A given input gives the same bits on any machine's threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"

/* Below this many elements a kernel runs on one thread (starting threads costs more). */
#define PARALLEL_MIN 32768
/* Chunks of rows for the row sums of layer norm's backward; fixed, so the sum order is too. */
#define CHUNKS 16

/*
 * exp and tanh written to vectorise (libm's are scalar calls): exp(x) = 2^k · e^r with
 * k = round(x / ln 2), r = x − k·ln 2 split in two parts for accuracy, e^r by its Taylor series to
 * r⁷ (|r| ≤ ln 2 / 2, error about one float ulp), and 2^k built in the exponent bits.
 * tanh(u) = 1 − 2 / (1 + e^{2u}), with u clamped to ±9, where tanh is 1 to float precision.
 */
static inline float exp_vec(float x) {
  /* Below −87, e^x is under the smallest normal float: 0, as libm's expf rounds it (a masked
   * attention score is −1e9; keeping tiny subnormals would slow every later product by 100×). */
  const float keep = x < -87.0f ? 0.0f : 1.0f;
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  /* Round to nearest by adding and subtracting 1.5·2²³ (no rounding instruction needed). */
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union { int32_t i; float f; } scale = { .i = ((int32_t)k + 127) << 23 };
  return keep * p * scale.f;
}

static inline float tanh_vec(float u) {
  u = u < -9.0f ? -9.0f : u;
  u = u > 9.0f ? 9.0f : u;
  return 1.0f - 2.0f / (1.0f + exp_vec(2.0f * u));
}

static const float GELU_S = 0.7978845608028654f; /* √(2/π) */
static const float GELU_A = 0.044715f;

#define SHORT(env, who) (napi_throw_range_error(env, NULL, who " operand shorter than its shape"), (napi_value)NULL)

napi_value Gelu(napi_env env, napi_callback_info info) {
  napi_value args[3];
  if (!arg_count(env, info, 3, args, "gelu: expected 3 arguments")) return NULL;
  size_t lx, ly;
  const float* x = arg_floats(env, args[0], &lx, "gelu: expected a Float32Array");
  float* y = arg_floats(env, args[1], &ly, "gelu: expected a Float32Array");
  if (x == NULL || y == NULL) return NULL;
  const int64_t n = arg_int(env, args[2]);
  if ((size_t)n > lx || (size_t)n > ly) return SHORT(env, "gelu:");
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float t = tanh_vec(GELU_S * (v + GELU_A * v * v * v));
    y[i] = 0.5f * v * (1.0f + t);
  }
  return NULL;
}

napi_value GeluGrad(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!arg_count(env, info, 4, args, "geluGrad: expected 4 arguments")) return NULL;
  size_t lx, ld, lo;
  const float* x = arg_floats(env, args[0], &lx, "geluGrad: expected a Float32Array");
  const float* dy = arg_floats(env, args[1], &ld, "geluGrad: expected a Float32Array");
  float* dx = arg_floats(env, args[2], &lo, "geluGrad: expected a Float32Array");
  if (x == NULL || dy == NULL || dx == NULL) return NULL;
  const int64_t n = arg_int(env, args[3]);
  if ((size_t)n > lx || (size_t)n > ld || (size_t)n > lo) return SHORT(env, "geluGrad:");
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float t = tanh_vec(GELU_S * (v + GELU_A * v * v * v));
    const float du = GELU_S * (1.0f + 3.0f * GELU_A * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
  }
  return NULL;
}

/* Mean and 1/√(var + eps) of one row. */
static inline void row_moments(const float* x, int32_t c, float eps, float* mean, float* rstd) {
  float s = 0.0f;
  for (int32_t j = 0; j < c; j++) s += x[j];
  const float m = s / (float)c;
  float q = 0.0f;
  for (int32_t j = 0; j < c; j++) {
    const float d = x[j] - m;
    q += d * d;
  }
  *mean = m;
  *rstd = 1.0f / sqrtf(q / (float)c + eps);
}

napi_value LayerNorm(napi_env env, napi_callback_info info) {
  napi_value args[7];
  if (!arg_count(env, info, 7, args, "layerNorm: expected 7 arguments")) return NULL;
  size_t lx, lg, lb, ly;
  const float* x = arg_floats(env, args[0], &lx, "layerNorm: expected a Float32Array");
  const float* g = arg_floats(env, args[1], &lg, "layerNorm: expected a Float32Array");
  const float* b = arg_floats(env, args[2], &lb, "layerNorm: expected a Float32Array");
  float* y = arg_floats(env, args[3], &ly, "layerNorm: expected a Float32Array");
  if (x == NULL || g == NULL || b == NULL || y == NULL) return NULL;
  const int32_t rows = arg_int(env, args[4]), c = arg_int(env, args[5]);
  const float eps = (float)arg_number(env, args[6]);
  const size_t n = (size_t)rows * c;
  if (n > lx || n > ly || (size_t)c > lg || (size_t)c > lb) return SHORT(env, "layerNorm:");
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int32_t r = 0; r < rows; r++) {
    const float* xr = x + (size_t)r * c;
    float* yr = y + (size_t)r * c;
    float mean, rstd;
    row_moments(xr, c, eps, &mean, &rstd);
    for (int32_t j = 0; j < c; j++) yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
  }
  return NULL;
}

napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  napi_value args[9];
  if (!arg_count(env, info, 9, args, "layerNormGrad: expected 9 arguments")) return NULL;
  size_t lx, lg, ld, ldx, ldg, ldb;
  const float* x = arg_floats(env, args[0], &lx, "layerNormGrad: expected a Float32Array");
  const float* g = arg_floats(env, args[1], &lg, "layerNormGrad: expected a Float32Array");
  const float* dy = arg_floats(env, args[2], &ld, "layerNormGrad: expected a Float32Array");
  float* dx = arg_floats(env, args[3], &ldx, "layerNormGrad: expected a Float32Array");
  float* dg = arg_floats(env, args[4], &ldg, "layerNormGrad: expected a Float32Array");
  float* db = arg_floats(env, args[5], &ldb, "layerNormGrad: expected a Float32Array");
  if (x == NULL || g == NULL || dy == NULL || dx == NULL || dg == NULL || db == NULL) return NULL;
  const int32_t rows = arg_int(env, args[6]), c = arg_int(env, args[7]);
  const float eps = (float)arg_number(env, args[8]);
  const size_t n = (size_t)rows * c;
  if (n > lx || n > ld || n > ldx || (size_t)c > lg || (size_t)c > ldg || (size_t)c > ldb) return SHORT(env, "layerNormGrad:");
  float* partial = calloc((size_t)CHUNKS * 2 * c, sizeof(float));
  if (partial == NULL) {
    napi_throw_error(env, NULL, "layerNormGrad: out of memory");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int32_t k = 0; k < CHUNKS; k++) {
    float* pg = partial + (size_t)k * 2 * c;
    float* pb = pg + c;
    const int32_t r0 = (int32_t)((int64_t)rows * k / CHUNKS), r1 = (int32_t)((int64_t)rows * (k + 1) / CHUNKS);
    for (int32_t r = r0; r < r1; r++) {
      const float* xr = x + (size_t)r * c;
      const float* dyr = dy + (size_t)r * c;
      float* dxr = dx + (size_t)r * c;
      float mean, rstd;
      row_moments(xr, c, eps, &mean, &rstd);
      float sum = 0.0f, dot = 0.0f;
      for (int32_t j = 0; j < c; j++) {
        const float xhat = (xr[j] - mean) * rstd;
        const float gy = dyr[j] * g[j];
        sum += gy;
        dot += gy * xhat;
        pg[j] += dyr[j] * xhat;
        pb[j] += dyr[j];
      }
      sum /= (float)c;
      dot /= (float)c;
      for (int32_t j = 0; j < c; j++) {
        const float xhat = (xr[j] - mean) * rstd;
        dxr[j] = rstd * (dyr[j] * g[j] - sum - xhat * dot);
      }
    }
  }
  for (int32_t j = 0; j < c; j++) {
    float sg = 0.0f, sb = 0.0f;
    for (int32_t k = 0; k < CHUNKS; k++) {
      sg += partial[(size_t)k * 2 * c + j];
      sb += partial[(size_t)k * 2 * c + c + j];
    }
    dg[j] = sg;
    db[j] = sb;
  }
  free(partial);
  return NULL;
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  napi_value args[10];
  if (!arg_count(env, info, 10, args, "softmax: expected 10 arguments")) return NULL;
  size_t lx, lm = 0, ly;
  const float* x = arg_floats(env, args[0], &lx, "softmax: expected a Float32Array");
  napi_valuetype mt;
  napi_typeof(env, args[1], &mt);
  const float* mask = mt == napi_null ? NULL : arg_floats(env, args[1], &lm, "softmax: expected a Float32Array or null mask");
  float* y = arg_floats(env, args[2], &ly, "softmax: expected a Float32Array");
  if (x == NULL || y == NULL || (mt != napi_null && mask == NULL)) return NULL;
  const int32_t rows = arg_int(env, args[3]), cols = arg_int(env, args[4]);
  const float scale = (float)arg_number(env, args[5]);
  const int32_t perBatch = arg_int(env, args[6]), tq = arg_int(env, args[7]), maskBatch = arg_int(env, args[8]), maskRows = arg_int(env, args[9]);
  const size_t n = (size_t)rows * cols;
  if (n > lx || n > ly || perBatch <= 0 || tq <= 0) return SHORT(env, "softmax:");
  if (mask != NULL && (size_t)maskBatch * maskRows * cols > lm) return SHORT(env, "softmax: mask");
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int32_t r = 0; r < rows; r++) {
    const float* xr = x + (size_t)r * cols;
    float* yr = y + (size_t)r * cols;
    const float* mr = NULL;
    if (mask != NULL) {
      const int32_t b = maskBatch == 1 ? 0 : r / perBatch;
      const int32_t t = maskRows == 1 ? 0 : r % tq;
      mr = mask + ((size_t)b * maskRows + t) * cols;
    }
    float max = -INFINITY;
    for (int32_t j = 0; j < cols; j++) {
      const float z = scale * xr[j] + (mr == NULL ? 0.0f : mr[j]);
      yr[j] = z;
      if (z > max) max = z;
    }
    float sum = 0.0f;
    for (int32_t j = 0; j < cols; j++) {
      const float e = exp_vec(yr[j] - max);
      yr[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int32_t j = 0; j < cols; j++) yr[j] *= inv;
  }
  return NULL;
}

napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  napi_value args[6];
  if (!arg_count(env, info, 6, args, "softmaxGrad: expected 6 arguments")) return NULL;
  size_t ly, ld, lo;
  const float* y = arg_floats(env, args[0], &ly, "softmaxGrad: expected a Float32Array");
  const float* dy = arg_floats(env, args[1], &ld, "softmaxGrad: expected a Float32Array");
  float* dx = arg_floats(env, args[2], &lo, "softmaxGrad: expected a Float32Array");
  if (y == NULL || dy == NULL || dx == NULL) return NULL;
  const int32_t rows = arg_int(env, args[3]), cols = arg_int(env, args[4]);
  const float scale = (float)arg_number(env, args[5]);
  const size_t n = (size_t)rows * cols;
  if (n > ly || n > ld || n > lo) return SHORT(env, "softmaxGrad:");
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int32_t r = 0; r < rows; r++) {
    const float* yr = y + (size_t)r * cols;
    const float* dr = dy + (size_t)r * cols;
    float* out = dx + (size_t)r * cols;
    float dot = 0.0f;
    for (int32_t j = 0; j < cols; j++) dot += yr[j] * dr[j];
    for (int32_t j = 0; j < cols; j++) out[j] = scale * yr[j] * (dr[j] - dot);
  }
  return NULL;
}

napi_value Split(napi_env env, napi_callback_info info) {
  napi_value args[5];
  if (!arg_count(env, info, 5, args, "split: expected 5 arguments")) return NULL;
  size_t lx;
  const float* x = arg_floats(env, args[0], &lx, "split: expected a Float32Array");
  if (x == NULL) return NULL;
  const int32_t outer = arg_int(env, args[2]), inner = arg_int(env, args[3]);
  uint32_t parts = 0, nsizes = 0;
  napi_get_array_length(env, args[1], &parts);
  napi_get_array_length(env, args[4], &nsizes);
  if (parts == 0 || parts != nsizes || parts > 64) {
    napi_throw_range_error(env, NULL, "split: expected 1 to 64 outputs, one size each");
    return NULL;
  }
  float* outs[64];
  size_t widths[64], offsets[64], total = 0;
  for (uint32_t i = 0; i < parts; i++) {
    napi_value o, s;
    size_t lo;
    napi_get_element(env, args[1], i, &o);
    napi_get_element(env, args[4], i, &s);
    outs[i] = arg_floats(env, o, &lo, "split: expected Float32Array outputs");
    if (outs[i] == NULL) return NULL;
    widths[i] = (size_t)arg_int(env, s) * inner;
    offsets[i] = total;
    total += widths[i];
    if ((size_t)outer * widths[i] > lo) return SHORT(env, "split: output");
  }
  if ((size_t)outer * total > lx) return SHORT(env, "split:");
#pragma omp parallel for schedule(static) if ((size_t)outer * total >= PARALLEL_MIN)
  for (int32_t r = 0; r < outer; r++) {
    for (uint32_t i = 0; i < parts; i++) memcpy(outs[i] + (size_t)r * widths[i], x + (size_t)r * total + offsets[i], widths[i] * sizeof(float));
  }
  return NULL;
}
