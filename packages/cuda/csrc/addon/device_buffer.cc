#include "device_buffer.h"

#include <cmath>

#include "addon_data.h"
#include "cuda_context.h"
#include "stream_work.h"

namespace flashattn {

Napi::Function DeviceBuffer::Define(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {
                         InstanceAccessor<&DeviceBuffer::Bytes>("bytes"),
                         InstanceAccessor<&DeviceBuffer::Disposed>("disposed"),
                         InstanceMethod<&DeviceBuffer::Dispose>("dispose"),
                         InstanceMethod<&DeviceBuffer::Upload>("upload"),
                         InstanceMethod<&DeviceBuffer::Download>("download"),
                     });
}

// new DeviceBuffer(bytes): allocates (from the cache when it can). OOM throws code cudaErrorMemoryAllocation.
DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  double bytes = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(bytes >= 0) || std::floor(bytes) != bytes || bytes > 9007199254740991.0) {
    throw CodedError(env, "ERR_INVALID_ARG_VALUE", "DeviceBuffer(bytes): expected a non-negative integer");
  }
  block_ = Allocate(env, static_cast<size_t>(bytes), BlockKind::Tensor);
  bytes_ = bytes;
}

bool DeviceBuffer::Is(Napi::Env env, Napi::Value v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(GetAddonData(env).deviceBuffer.Value());
}

BlockRef DeviceBuffer::BlockOf(Napi::Env env, Napi::Value v, const char* name) {
  if (!Is(env, v)) throw CodedError(env, "ERR_INVALID_ARG_TYPE", std::string(name) + ": expected a DeviceBuffer");
  DeviceBuffer* b = Unwrap(v.As<Napi::Object>());
  if (!b->block_) throw CodedError(env, "ERR_DISPOSED", std::string(name) + ": device buffer was disposed");
  return b->block_;
}

Napi::Value DeviceBuffer::Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), bytes_); }

Napi::Value DeviceBuffer::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !block_);
}

Napi::Value DeviceBuffer::Dispose(const Napi::CallbackInfo& info) {
  block_.reset();
  return info.Env().Undefined();
}

static Napi::TypedArray HostArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw CodedError(info.Env(), "ERR_INVALID_ARG_TYPE", "expected a typed array");
  return info[0].As<Napi::TypedArray>();
}

// buffer.upload(typedArray) -> Promise<void>
Napi::Value DeviceBuffer::Upload(const Napi::CallbackInfo& info) {
  Napi::TypedArray host = HostArg(info);
  return CopyAsync(info.Env(), CopyDirection::HostToDevice, host, BlockOf(info.Env(), Value(), "upload"));
}

// buffer.download(typedArray) -> Promise<void>, filling the array
Napi::Value DeviceBuffer::Download(const Napi::CallbackInfo& info) {
  Napi::TypedArray host = HostArg(info);
  return CopyAsync(info.Env(), CopyDirection::DeviceToHost, host, BlockOf(info.Env(), Value(), "download"));
}

}  // namespace flashattn
