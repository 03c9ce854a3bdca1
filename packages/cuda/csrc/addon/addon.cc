// flashattn_cuda.node: the host side of @flashattn/cuda. Exports (see src/addon-types.ts for the JS view):
//   probe(), DeviceBuffer, Timer, forward(), backward(), synchronize(), memInfo(), stats(), resetPeaks(),
//   emptyCache(), kernelsLinked, buildInfo.
#include <napi.h>
#include <cuda_runtime.h>
#include <string>

#include "addon_data.h"
#include "attention_launch.h"
#include "completion_thread.h"
#include "cuda_context.h"
#include "device_buffer.h"
#include "device_pool.h"
#include "stream_work.h"
#include "timer.h"

namespace flashattn {

void ClearOffsetsCache();

namespace {

// Never throws: reports what the CUDA runtime finds. The TS side turns codes into sentences.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  r.Set("driverVersion", driver);
  r.Set("runtimeVersion", runtime);
  r.Set("kernelsLinked", KernelsLinked());
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaSuccess && count == 0) err = cudaErrorNoDevice;
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.Set("ok", false);
    r.Set("code", cudaGetErrorName(err));
    r.Set("message", cudaGetErrorString(err));
    return r;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.Set("ok", false);
    r.Set("code", cudaGetErrorName(err));
    r.Set("message", cudaGetErrorString(err));
    return r;
  }
  r.Set("ok", true);
  r.Set("deviceCount", count);
  r.Set("name", prop.name);
  r.Set("major", prop.major);
  r.Set("minor", prop.minor);
  r.Set("totalMemory", static_cast<double>(prop.totalGlobalMem));
  r.Set("multiProcessors", prop.multiProcessorCount);
  return r;
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) { return WhenStreamDone(info.Env()); }

Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnsureContext(env);
  size_t free = 0, total = 0;
  Check(env, cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  Napi::Object r = Napi::Object::New(env);
  r.Set("free", static_cast<double>(free));
  r.Set("total", static_cast<double>(total));
  return r;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  PoolStats s = GetPoolStats();
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("tensorBytes", static_cast<double>(s.tensorBytes));
  r.Set("tensors", static_cast<double>(s.tensors));
  r.Set("internalBytes", static_cast<double>(s.internalBytes));
  r.Set("reservedBytes", static_cast<double>(s.reservedBytes));
  r.Set("peakReservedBytes", static_cast<double>(s.peakReservedBytes));
  r.Set("peakTensorBytes", static_cast<double>(s.peakTensorBytes));
  return r;
}

Napi::Value ResetPeaksJs(const Napi::CallbackInfo& info) {
  ResetPeaks();
  return info.Env().Undefined();
}

// Frees cached blocks and cached offsets (the cache would otherwise keep device memory reserved).
Napi::Value EmptyCacheJs(const Napi::CallbackInfo& info) {
  ClearOffsetsCache();
  EmptyCache();
  return info.Env().Undefined();
}

Napi::Value SetCompletion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string mode = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (mode != "worker" && mode != "thread")
    throw CodedError(env, "ERR_INVALID_ARG_VALUE", "setCompletion: expected 'worker' or 'thread'");
  GetAddonData(env).useCompletionThread = mode == "thread";
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->deviceBuffer = Napi::Persistent(DeviceBuffer::Define(env));
  data->timer = Napi::Persistent(Timer::Define(env));
  env.SetInstanceData<AddonData>(data);
  // When the last environment tears down, finalizers may still release blocks: free those directly instead of
  // caching them (and stop touching CUDA objects that the process is about to drop).
  Ctx().liveEnvs++;
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        StopCompletionThread(*static_cast<Napi::Env*>(arg));
        delete static_cast<Napi::Env*>(arg);
        Ctx().shuttingDown = --Ctx().liveEnvs == 0;
      },
      new Napi::Env(env));

  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("DeviceBuffer", data->deviceBuffer.Value());
  exports.Set("Timer", data->timer.Value());
  exports.Set("forward", Napi::Function::New(env, Forward, "forward"));
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  exports.Set("memInfo", Napi::Function::New(env, MemInfo, "memInfo"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("resetPeaks", Napi::Function::New(env, ResetPeaksJs, "resetPeaks"));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCacheJs, "emptyCache"));
  exports.Set("setCompletion", Napi::Function::New(env, SetCompletion, "setCompletion"));
  exports.Set("kernelsLinked", Napi::Boolean::New(env, KernelsLinked()));
  Napi::Object build = Napi::Object::New(env);
  build.Set("cudaRuntime", CUDART_VERSION);
  build.Set("napiVersion", NAPI_VERSION);
  exports.Set("buildInfo", build);
  return exports;
}

}  // namespace
}  // namespace flashattn

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return flashattn::Init(env, exports); }

NODE_API_MODULE(flashattn_cuda, InitModule)
