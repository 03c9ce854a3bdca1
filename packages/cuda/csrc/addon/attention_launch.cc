#include "attention_launch.h"

#include <cmath>
#include <cstring>
#include <list>
#include <string>
#include <unordered_map>

#include "../flash_params.h"
#include "cuda_context.h"
#include "device_buffer.h"
#include "device_pool.h"
#include "stream_work.h"

// Weak: an addon built without kernel sources still loads, and probe() says the kernels are missing.
#pragma weak flash_fwd
#pragma weak flash_bwd
#pragma weak flash_bwd_workspace_bytes
// Optional: the kernels may size the forward scratch themselves (README, "Addon design"); the current ones do not.
extern "C" int64_t flash_fwd_workspace_bytes(const FlashFwdParams* p) __attribute__((weak));

namespace flashattn {

bool KernelsLinked() { return &flash_fwd != nullptr && &flash_bwd != nullptr && &flash_bwd_workspace_bytes != nullptr; }

namespace {

Napi::Error ArgError(Napi::Env env, const std::string& msg) { return CodedError(env, "ERR_INVALID_ARG_TYPE", msg); }

// cu_seqlens live on the device; the same offsets recur call after call, so keep the last few uploaded (LRU).
class OffsetsCache {
 public:
  const int32_t* Get(Napi::Env env, Napi::Value v, const char* name) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw ArgError(env, std::string("params.") + name + ": expected an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    std::string key(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.pos);
      return static_cast<const int32_t*>(it->second.block->ptr);
    }
    BlockRef b = Allocate(env, key.size(), BlockKind::Internal);
    // Small pageable copy: staged by the driver, does not wait for the device.
    Check(env, cudaMemcpyAsync(b->ptr, key.data(), key.size(), cudaMemcpyHostToDevice, Ctx().stream),
          "cudaMemcpyAsync(cu_seqlens)");
    lru_.push_front(key);
    map_.emplace(key, Entry{b, lru_.begin()});
    if (map_.size() > kCapacity) {
      map_.erase(lru_.back());  // stream-ordered release: queued uses still precede any reuse
      lru_.pop_back();
    }
    return static_cast<const int32_t*>(b->ptr);
  }
  void Clear() {
    map_.clear();
    lru_.clear();
  }

 private:
  static constexpr size_t kCapacity = 64;
  struct Entry {
    BlockRef block;
    std::list<std::string>::iterator pos;
  };
  std::list<std::string> lru_;
  std::unordered_map<std::string, Entry> map_;
};

OffsetsCache& Offsets() {
  static OffsetsCache c;
  return c;
}

// Fills the shape/mask part of FlashFwdParams from the JS params object (built once per Problem by
// src/launch-params.ts). The scalars travel packed in one Float64Array (`packed`, order below) so a call reads three
// properties instead of seventeen; the named fields stay on the object for people reading it.
enum Packed { kBatch, kHQ, kHKV, kDQK, kDV, kMaxQ, kMaxK, kLseBatch, kLseHead, kLseVarlen, kScale, kSoftcap, kWinL, kWinR,
              kDtype, kPackedLength };

void FillShape(Napi::Env env, Napi::Object o, FlashFwdParams& p) {
  Napi::Value pv = o.Get("packed");
  if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      pv.As<Napi::Float64Array>().ElementLength() != kPackedLength)
    throw ArgError(env, "params.packed: expected a Float64Array of " + std::to_string(kPackedLength) + " numbers");
  const double* v = pv.As<Napi::Float64Array>().Data();
  static const char* names[] = {"batch", "hQ", "hKV", "dQK", "dV", "maxSeqlenQ", "maxSeqlenK", "lseBatchStride",
                                "lseHeadStride", "lseVarlenRows", "scale", "softcap", "windowLeft", "windowRight", "dtype"};
  auto i32 = [&](int k) {
    if (std::floor(v[k]) != v[k] || v[k] < -2147483648.0 || v[k] > 2147483647.0)
      throw ArgError(env, std::string("params.") + names[k] + ": expected a 32-bit integer");
    return static_cast<int32_t>(v[k]);
  };
  p.batch = i32(kBatch);
  p.h_q = i32(kHQ);
  p.h_kv = i32(kHKV);
  p.d_qk = i32(kDQK);
  p.d_v = i32(kDV);
  p.max_seqlen_q = i32(kMaxQ);
  p.max_seqlen_k = i32(kMaxK);
  p.lse_batch_stride = static_cast<int64_t>(v[kLseBatch]);
  p.lse_head_stride = static_cast<int64_t>(v[kLseHead]);
  p.lse_varlen_rows = i32(kLseVarlen);
  p.scale = static_cast<float>(v[kScale]);
  p.softcap = static_cast<float>(v[kSoftcap]);
  p.window_left = i32(kWinL);
  p.window_right = i32(kWinR);
  const int32_t dt = i32(kDtype);
  if (dt < FLASH_F32 || dt > FLASH_BF16) throw ArgError(env, "params.dtype: expected 0 (f32), 1 (f16) or 2 (bf16)");
  p.dtype = static_cast<FlashDtype>(dt);
  p.cu_seqlens_q = Offsets().Get(env, o.Get("cuSeqlensQ"), "cuSeqlensQ");
  p.cu_seqlens_k = Offsets().Get(env, o.Get("cuSeqlensK"), "cuSeqlensK");
}

// Bits of the `mode` argument (src/addon-types.ts).
constexpr int kModeWait = 1;      // return a Promise settled when the stream has run the kernels
constexpr int kModeNoPoison = 2;  // benchmarks: skip the NaN fill (it would be timed)

int Mode(Napi::Value v) { return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0; }

void Poison(Napi::Env env, const BlockRef& b, bool on = true) {
  if (on && b && b->requested) Check(env, cudaMemsetAsync(b->ptr, 0xFF, b->requested, Ctx().stream), "cudaMemsetAsync(poison)");
}

void RequireKernels(Napi::Env env) {
  if (!KernelsLinked())
    throw CodedError(env, "ERR_NO_KERNELS", "the addon was built without the CUDA kernels (packages/cuda/csrc/kernels)");
}

// Forward scratch (FlashFwdParams.scratch): only when the kernels export flash_fwd_workspace_bytes to size it.
int64_t FwdScratchBytes(const FlashFwdParams& p) {
  return &flash_fwd_workspace_bytes != nullptr ? flash_fwd_workspace_bytes(&p) : 0;
}

void Launched(Napi::Env env, cudaError_t err, const char* unsupported, const char* what) {
  if (unsupported) throw CodedError(env, "ERR_UNSUPPORTED", unsupported);
  if (err != cudaSuccess) ThrowCuda(env, err, what);
}

}  // namespace

void ClearOffsetsCache() { Offsets().Clear(); }

// forward(params, q, k, v, out, lse | null, mode) -> Promise<void> | undefined
Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireKernels(env);
  EnsureContext(env);
  if (info.Length() < 7 || !info[0].IsObject()) throw ArgError(env, "forward(params, q, k, v, out, lse, mode)");
  Napi::Object o = info[0].As<Napi::Object>();
  FlashFwdParams p{};
  FillShape(env, o, p);
  BlockRef q = DeviceBuffer::BlockOf(env, info[1], "q");
  BlockRef k = DeviceBuffer::BlockOf(env, info[2], "k");
  BlockRef v = DeviceBuffer::BlockOf(env, info[3], "v");
  BlockRef out = DeviceBuffer::BlockOf(env, info[4], "out");
  BlockRef lse = info[5].IsNull() || info[5].IsUndefined() ? nullptr : DeviceBuffer::BlockOf(env, info[5], "lse");
  const int mode = Mode(info[6]);
  const bool wait = mode & kModeWait, poison = !(mode & kModeNoPoison);
  p.q = q->ptr;
  p.k = k->ptr;
  p.v = v->ptr;
  p.out = out->ptr;
  p.lse = lse ? static_cast<float*>(lse->ptr) : nullptr;
  Poison(env, out, poison);
  Poison(env, lse, poison);
  BlockRef scratch;
  const int64_t scratchBytes = FwdScratchBytes(p);
  if (scratchBytes > 0) {
    scratch = Allocate(env, static_cast<size_t>(scratchBytes), BlockKind::Internal);
    Poison(env, scratch, poison);
    p.scratch = scratch->ptr;
    p.scratch_bytes = scratchBytes;
  }
  const char* unsupported = nullptr;
  cudaGetLastError();
  cudaError_t err = flash_fwd(&p, Ctx().stream, &unsupported);
  Launched(env, err, unsupported, "flash_fwd");
  // scratch is released here, stream-ordered: its next user is queued after this kernel.
  return wait ? WhenStreamDone(env) : env.Undefined();
}

// backward(params, q, k, v, out, dout, lse, dq, dk, dv, deterministic, mode) -> Promise<void> | undefined
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireKernels(env);
  EnsureContext(env);
  if (info.Length() < 12 || !info[0].IsObject())
    throw ArgError(env, "backward(params, q, k, v, out, dout, lse, dq, dk, dv, deterministic, mode)");
  Napi::Object o = info[0].As<Napi::Object>();
  FlashBwdParams p{};
  FillShape(env, o, p.fwd);
  BlockRef q = DeviceBuffer::BlockOf(env, info[1], "q");
  BlockRef k = DeviceBuffer::BlockOf(env, info[2], "k");
  BlockRef v = DeviceBuffer::BlockOf(env, info[3], "v");
  BlockRef out = DeviceBuffer::BlockOf(env, info[4], "out");
  BlockRef dout = DeviceBuffer::BlockOf(env, info[5], "dout");
  BlockRef lse = DeviceBuffer::BlockOf(env, info[6], "lse");
  BlockRef dq = DeviceBuffer::BlockOf(env, info[7], "dq");
  BlockRef dk = DeviceBuffer::BlockOf(env, info[8], "dk");
  BlockRef dv = DeviceBuffer::BlockOf(env, info[9], "dv");
  p.deterministic = info[10].ToBoolean() ? 1 : 0;
  const int mode = Mode(info[11]);
  const bool wait = mode & kModeWait, poison = !(mode & kModeNoPoison);
  p.fwd.q = q->ptr;
  p.fwd.k = k->ptr;
  p.fwd.v = v->ptr;
  p.fwd.out = out->ptr;
  p.fwd.lse = static_cast<float*>(lse->ptr);
  p.dout = dout->ptr;
  p.dq = dq->ptr;
  p.dk = dk->ptr;
  p.dv = dv->ptr;
  Poison(env, dq, poison);
  Poison(env, dk, poison);
  Poison(env, dv, poison);
  BlockRef scratch;
  const int64_t scratchBytes = flash_bwd_workspace_bytes(&p);
  if (scratchBytes > 0) {
    scratch = Allocate(env, static_cast<size_t>(scratchBytes), BlockKind::Internal);
    Poison(env, scratch, poison);  // kernels must initialize what they read (the cache hands out used memory anyway)
    p.scratch = scratch->ptr;
    p.scratch_bytes = scratchBytes;
  }
  const char* unsupported = nullptr;
  cudaGetLastError();
  cudaError_t err = flash_bwd(&p, Ctx().stream, &unsupported);
  Launched(env, err, unsupported, "flash_bwd");
  return wait ? WhenStreamDone(env) : env.Undefined();
}

}  // namespace flashattn
