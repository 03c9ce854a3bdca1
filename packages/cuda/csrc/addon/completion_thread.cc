#include "completion_thread.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "addon_data.h"
#include "cuda_context.h"

namespace flashattn {

namespace {

struct Pending {
  cudaEvent_t event;
  Napi::Promise::Deferred deferred;
  cudaError_t err = cudaSuccess;
};

class CompletionThread {
 public:
  explicit CompletionThread(Napi::Env env) {
    Napi::Function noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    tsfn_ = Napi::ThreadSafeFunction::New(env, noop, "flashattn:cuda:completion", 0, 1);
    tsfn_.Unref(env);  // only keeps the process alive while something is pending
    thread_ = std::thread([this] { Run(); });
  }

  void Add(Napi::Env env, Pending* p) {
    if (pending_++ == 0) tsfn_.Ref(env);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(p);
    }
    cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    tsfn_.Release();
  }

 private:
  void Run() {
    for (;;) {
      Pending* p;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        p = queue_.front();
        queue_.pop_front();
      }
      p->err = cudaEventSynchronize(p->event);
      napi_status s = tsfn_.NonBlockingCall(p, [this](Napi::Env env, Napi::Function, Pending* q) { Settle(env, q); });
      if (s != napi_ok) ReleaseEvent(p->event);  // environment closing: nobody awaits any more
    }
  }

  // Main thread.
  void Settle(Napi::Env env, Pending* p) {
    Napi::HandleScope scope(env);
    if (p->err != cudaSuccess) p->deferred.Reject(CudaError(env, p->err, "waiting for the stream").Value());
    else p->deferred.Resolve(env.Undefined());
    ReleaseEvent(p->event);
    delete p;
    if (--pending_ == 0) tsfn_.Unref(env);
  }

  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool stop_ = false;
  int pending_ = 0;  // main thread only
};

}  // namespace

Napi::Value WhenStreamDoneByThread(Napi::Env env) {
  EnsureContext(env);
  AddonData& data = GetAddonData(env);
  if (!data.completion) data.completion = new CompletionThread(env);
  cudaEvent_t ev = AcquireEvent(env);
  cudaError_t err = cudaEventRecord(ev, Ctx().stream);
  if (err != cudaSuccess) {
    ReleaseEvent(ev);
    ThrowCuda(env, err, "cudaEventRecord");
  }
  auto* p = new Pending{ev, Napi::Promise::Deferred::New(env)};
  Napi::Promise promise = p->deferred.Promise();
  static_cast<CompletionThread*>(data.completion)->Add(env, p);
  return promise;
}

void StopCompletionThread(Napi::Env env) {
  AddonData& data = GetAddonData(env);
  if (!data.completion) return;
  auto* t = static_cast<CompletionThread*>(data.completion);
  t->Stop();
  delete t;
  data.completion = nullptr;
}

}  // namespace flashattn
