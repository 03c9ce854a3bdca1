#include "cuda_context.h"

#include <mutex>
#include <vector>

namespace flashattn {

Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Error CudaError(Napi::Env env, cudaError_t err, const std::string& what) {
  cudaGetLastError();  // clear, so the error is reported once, here
  return CodedError(env, cudaGetErrorName(err), what + ": " + cudaGetErrorString(err));
}

void ThrowCuda(Napi::Env env, cudaError_t err, const char* what) { throw CudaError(env, err, what); }

Context& Ctx() {
  static Context ctx;
  return ctx;
}

void EnsureContext(Napi::Env env) {
  Context& c = Ctx();
  if (c.stream) return;
  Check(env, cudaSetDevice(0), "cudaSetDevice(0)");
  cudaStream_t s = nullptr;
  Check(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  c.device = 0;
  c.stream = s;
}

static std::mutex g_eventMutex;
static std::vector<cudaEvent_t> g_events;

cudaEvent_t AcquireEvent(Napi::Env env) {
  {
    std::lock_guard<std::mutex> lock(g_eventMutex);
    if (!g_events.empty()) {
      cudaEvent_t ev = g_events.back();
      g_events.pop_back();
      return ev;
    }
  }
  cudaEvent_t ev = nullptr;
  Check(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
  return ev;
}

void ReleaseEvent(cudaEvent_t ev) {
  std::lock_guard<std::mutex> lock(g_eventMutex);
  g_events.push_back(ev);
}

}  // namespace flashattn
