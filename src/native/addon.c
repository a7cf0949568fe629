/*
 * pinkflow_native: kernels for TF.js's wasm backend, over the wasm heap in place. The fused
 * element-wise kernels (fused.c) are always built; the matmul (sgemm.c) only over OpenBLAS
 * (PINKFLOW_OPENBLAS). See src/model/WasmKernels.ts for how they are registered.
 */
#include "args.h"

static void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static napi_value Init(napi_env env, napi_value exports) {
#ifdef PINKFLOW_OPENBLAS
  export_fn(env, exports, "sgemm", Sgemm);
#endif
  export_fn(env, exports, "gelu", Gelu);
  export_fn(env, exports, "geluGrad", GeluGrad);
  export_fn(env, exports, "layerNorm", LayerNorm);
  export_fn(env, exports, "layerNormGrad", LayerNormGrad);
  export_fn(env, exports, "softmax", Softmax);
  export_fn(env, exports, "softmaxGrad", SoftmaxGrad);
  export_fn(env, exports, "split", Split);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
