// Process-wide CUDA state of the addon: the device, the one stream every operation is enqueued on (in JS call
// order, from the main thread), an event pool, and the JS error helpers. Single stream = stream-ordered reuse of
// pooled memory is safe without extra synchronization.
#pragma once
#include <napi.h>
#include <cuda_runtime.h>
#include <string>

namespace flashattn {

// Throws a JS Error whose `code` is the CUDA error name (e.g. "cudaErrorMemoryAllocation"). Clears CUDA's
// last-error state first so a later unrelated check does not report it again.
[[noreturn]] void ThrowCuda(Napi::Env env, cudaError_t err, const char* what);
Napi::Error CudaError(Napi::Env env, cudaError_t err, const std::string& what);
Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message);

inline void Check(Napi::Env env, cudaError_t err, const char* what) {
  if (err != cudaSuccess) ThrowCuda(env, err, what);
}

struct Context {
  int device = -1;
  cudaStream_t stream = nullptr;
  bool shuttingDown = false;
  int liveEnvs = 0;  // Node-API environments (main thread, workers) that loaded the addon
};

Context& Ctx();
// Selects device 0 and creates the stream once; throws a coded JS error on failure.
void EnsureContext(Napi::Env env);

// Events without timing, reused: recording one and waiting for it off the main thread is how async work completes.
cudaEvent_t AcquireEvent(Napi::Env env);
void ReleaseEvent(cudaEvent_t ev);

}  // namespace flashattn
