// GPU-side timing with CUDA events on the addon stream, for benchmarks: start(), queue work, stop(),
// then elapsed() -> Promise<milliseconds> (waits off the main thread).
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

namespace flashattn {

class Timer : public Napi::ObjectWrap<Timer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Timer(const Napi::CallbackInfo& info);
  ~Timer() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Elapsed(const Napi::CallbackInfo& info);
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace flashattn
