// A device allocation owned by a JS object: dispose() returns it to the cache at once; the finalizer does the same
// if JS drops the object undisposed (a safety net, not the way to free).
#pragma once
#include <napi.h>

#include "device_pool.h"

namespace flashattn {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DeviceBuffer(const Napi::CallbackInfo& info);

  // The block, or a coded JS error if disposed (or v is not a DeviceBuffer).
  static BlockRef BlockOf(Napi::Env env, Napi::Value v, const char* name);
  static bool Is(Napi::Env env, Napi::Value v);

 private:
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);

  BlockRef block_;
  double bytes_ = 0;
};

}  // namespace flashattn
