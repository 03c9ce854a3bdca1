#include "stream_work.h"

#include <cstring>
#include <string>

#include "addon_data.h"
#include "completion_thread.h"
#include "cuda_context.h"

namespace flashattn {

namespace {

class StreamWorker : public Napi::AsyncWorker {
 public:
  explicit StreamWorker(Napi::Env env) : Napi::AsyncWorker(env, "flashattn:cuda"), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~StreamWorker() override {
    if (event_) ReleaseEvent(event_);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (err_ != cudaSuccess) deferred_.Reject(CudaError(Env(), err_, what_).Value());
    else deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  cudaEvent_t event_ = nullptr;
  cudaError_t err_ = cudaSuccess;
  std::string what_ = "stream";
};

class WaitWorker : public StreamWorker {
 public:
  WaitWorker(Napi::Env env, cudaEvent_t ev) : StreamWorker(env) { event_ = ev; what_ = "waiting for the stream"; }
  void Execute() override { err_ = cudaEventSynchronize(event_); }
};

class CopyWorker : public StreamWorker {
 public:
  CopyWorker(Napi::Env env, CopyDirection dir, Napi::TypedArray host, BlockRef block)
      : StreamWorker(env), dir_(dir), block_(std::move(block)) {
    hostRef_ = Napi::Persistent(host.As<Napi::Object>());
    Napi::ArrayBuffer ab = host.ArrayBuffer();
    hostPtr_ = static_cast<char*>(ab.Data()) + host.ByteOffset();
    bytes_ = host.ByteLength();
    event_ = AcquireEvent(env);
    what_ = dir == CopyDirection::HostToDevice ? "upload (cudaMemcpyAsync host to device)"
                                               : "download (cudaMemcpyAsync device to host)";
  }
  void Execute() override {
    if (bytes_ == 0) return;
    cudaStream_t s = Ctx().stream;
    err_ = dir_ == CopyDirection::HostToDevice
               ? cudaMemcpyAsync(block_->ptr, hostPtr_, bytes_, cudaMemcpyHostToDevice, s)
               : cudaMemcpyAsync(hostPtr_, block_->ptr, bytes_, cudaMemcpyDeviceToHost, s);
    if (err_ == cudaSuccess) err_ = cudaEventRecord(event_, s);
    if (err_ == cudaSuccess) err_ = cudaEventSynchronize(event_);
  }

 private:
  CopyDirection dir_;
  BlockRef block_;
  Napi::ObjectReference hostRef_;
  void* hostPtr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace

Napi::Value WhenStreamDone(Napi::Env env) {
  if (GetAddonData(env).useCompletionThread) return WhenStreamDoneByThread(env);
  EnsureContext(env);
  cudaEvent_t ev = AcquireEvent(env);
  cudaError_t err = cudaEventRecord(ev, Ctx().stream);
  if (err != cudaSuccess) {
    ReleaseEvent(ev);
    ThrowCuda(env, err, "cudaEventRecord");
  }
  auto* w = new WaitWorker(env, ev);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value CopyAsync(Napi::Env env, CopyDirection dir, Napi::TypedArray host, BlockRef block) {
  EnsureContext(env);
  if (host.ByteLength() > block->requested) {
    throw CodedError(env, "ERR_OUT_OF_RANGE",
                     "host array of " + std::to_string(host.ByteLength()) + " bytes does not fit a device buffer of " +
                         std::to_string(block->requested) + " bytes");
  }
  auto* w = new CopyWorker(env, dir, host, std::move(block));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace flashattn
