// Second way to await the stream (besides Napi::AsyncWorker on the libuv pool): one dedicated thread per
// environment waits for recorded events in order and settles the Promises through a ThreadSafeFunction. It does not
// share libuv's 4-thread pool with fs/dns/crypto work, and it costs no per-operation work-item allocation.
// The default; FLASHATTN_CUDA_COMPLETION=worker selects the AsyncWorker path. README has the measured difference.
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

namespace flashattn {

// Records an event on the stream and returns a Promise settled (from the completion thread) when it is reached.
Napi::Value WhenStreamDoneByThread(Napi::Env env);
// Stops the thread of this environment (at environment teardown).
void StopCompletionThread(Napi::Env env);

}  // namespace flashattn
