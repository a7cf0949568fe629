/* Argument helpers shared by the addon's functions: typed-array views (used in place, no copy),
 * integers, numbers and booleans. Each helper throws a JavaScript error and returns a sentinel on a
 * wrong argument; callers return NULL right after. */
#ifndef PINKFLOW_ARGS_H
#define PINKFLOW_ARGS_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline float* arg_floats(napi_env env, napi_value v, size_t* length, const char* who) {
  napi_typedarray_type type;
  void* data = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, who);
    return NULL;
  }
  return (float*)data;
}

static inline int32_t arg_int(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

static inline double arg_number(napi_env env, napi_value v) {
  double x = 0;
  napi_get_value_double(env, v, &x);
  return x;
}

static inline bool arg_bool(napi_env env, napi_value v) {
  bool x = false;
  napi_get_value_bool(env, v, &x);
  return x;
}

static inline bool arg_count(napi_env env, napi_callback_info info, size_t want, napi_value* args, const char* who) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != want) {
    napi_throw_error(env, NULL, who);
    return false;
  }
  return true;
}

napi_value Sgemm(napi_env env, napi_callback_info info);
napi_value Gelu(napi_env env, napi_callback_info info);
napi_value GeluGrad(napi_env env, napi_callback_info info);
napi_value LayerNorm(napi_env env, napi_callback_info info);
napi_value LayerNormGrad(napi_env env, napi_callback_info info);
napi_value Softmax(napi_env env, napi_callback_info info);
napi_value SoftmaxGrad(napi_env env, napi_callback_info info);
napi_value Split(napi_env env, napi_callback_info info);
#endif
