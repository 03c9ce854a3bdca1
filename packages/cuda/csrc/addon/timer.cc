#include "timer.h"

#include "cuda_context.h"

namespace flashattn {

namespace {

class ElapsedWorker : public Napi::AsyncWorker {
 public:
  ElapsedWorker(Napi::Env env, Napi::Object timer, cudaEvent_t a, cudaEvent_t b)
      : Napi::AsyncWorker(env, "flashattn:cuda:timer"), deferred_(Napi::Promise::Deferred::New(env)), a_(a), b_(b) {
    timerRef_ = Napi::Persistent(timer);  // keeps the events alive until we are done
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override {
    err_ = cudaEventSynchronize(b_);
    if (err_ == cudaSuccess) err_ = cudaEventElapsedTime(&ms_, a_, b_);
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (err_ != cudaSuccess) deferred_.Reject(CudaError(Env(), err_, "timer").Value());
    else deferred_.Resolve(Napi::Number::New(Env(), ms_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference timerRef_;
  cudaEvent_t a_, b_;
  cudaError_t err_ = cudaSuccess;
  float ms_ = 0;
};

}  // namespace

Napi::Function Timer::Define(Napi::Env env) {
  return DefineClass(env, "Timer",
                     {
                         InstanceMethod<&Timer::Start>("start"),
                         InstanceMethod<&Timer::Stop>("stop"),
                         InstanceMethod<&Timer::Elapsed>("elapsed"),
                     });
}

Timer::Timer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Timer>(info) {
  Napi::Env env = info.Env();
  EnsureContext(env);
  Check(env, cudaEventCreate(&start_), "cudaEventCreate");
  cudaError_t err = cudaEventCreate(&stop_);
  if (err != cudaSuccess) {
    cudaEventDestroy(start_);
    start_ = nullptr;
    ThrowCuda(env, err, "cudaEventCreate");
  }
}

Timer::~Timer() {
  if (Ctx().shuttingDown) return;
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
}

Napi::Value Timer::Start(const Napi::CallbackInfo& info) {
  Check(info.Env(), cudaEventRecord(start_, Ctx().stream), "cudaEventRecord(start)");
  return info.Env().Undefined();
}

Napi::Value Timer::Stop(const Napi::CallbackInfo& info) {
  Check(info.Env(), cudaEventRecord(stop_, Ctx().stream), "cudaEventRecord(stop)");
  return info.Env().Undefined();
}

Napi::Value Timer::Elapsed(const Napi::CallbackInfo& info) {
  auto* w = new ElapsedWorker(info.Env(), Value(), start_, stop_);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace flashattn
