// Awaiting the stream from JS without blocking the event loop: record an event on the addon stream (main thread),
// then wait for it off the main thread and settle a Promise back on it: by default on the addon's own completion
// thread (completion_thread.h), or with FLASHATTN_CUDA_COMPLETION=worker on a libuv worker (Napi::AsyncWorker).
// Host<->device copies always run on a libuv worker (pageable copies would otherwise stall the event loop).
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

#include "device_pool.h"

namespace flashattn {

// Promise that resolves when all work queued on the stream so far has finished (rejects with the CUDA error).
Napi::Value WhenStreamDone(Napi::Env env);

enum class CopyDirection { HostToDevice, DeviceToHost };

// Copies between a JS typed array and a device block on the stream; the Promise settles when the copy is done.
// Holds the typed array and the block until then (so dispose() during a copy is safe).
Napi::Value CopyAsync(Napi::Env env, CopyDirection dir, Napi::TypedArray host, BlockRef block);

}  // namespace flashattn
