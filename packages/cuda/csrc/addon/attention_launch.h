// forward()/backward(): fill FlashFwdParams/FlashBwdParams from a JS object, poison the outputs (0xFF bytes = NaN in
// every dtype), queue the kernels on the addon stream, and return a Promise (or nothing, for timing loops).
#pragma once
#include <napi.h>

namespace flashattn {

Napi::Value Forward(const Napi::CallbackInfo& info);
Napi::Value Backward(const Napi::CallbackInfo& info);
// Whether the kernels (flash_fwd, flash_bwd, flash_bwd_workspace_bytes) were linked in.
bool KernelsLinked();

}  // namespace flashattn
