// Per-environment data (constructors), so the addon is safe to load in worker threads too.
#pragma once
#include <napi.h>

namespace flashattn {

struct AddonData {
  Napi::FunctionReference deviceBuffer;
  Napi::FunctionReference timer;
  void* completion = nullptr;  // CompletionThread (completion_thread.cc), made on first use
  bool useCompletionThread = true;  // measured faster than the AsyncWorker path (README)
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace flashattn
