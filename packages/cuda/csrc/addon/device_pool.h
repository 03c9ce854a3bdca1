// A caching device allocator (as PyTorch's): cudaMalloc/cudaFree are slow and synchronizing, so freed blocks are
// kept per size and reused. All device work runs on the one addon stream, so a block released while kernels that
// use it are still queued can be handed out again at once: its next use is queued after them.
#pragma once
#include <napi.h>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace flashattn {

enum class BlockKind { Tensor, Internal };

struct Block {
  void* ptr = nullptr;
  size_t size = 0;       // bytes reserved (rounded)
  size_t requested = 0;  // bytes asked for
  BlockKind kind = BlockKind::Tensor;
};

// Shared ownership: a tensor holds one reference, an in-flight copy holds another; the block goes back to the
// cache when the last one is dropped.
using BlockRef = std::shared_ptr<Block>;

// Throws a coded JS error (cudaErrorMemoryAllocation after emptying the cache and retrying once).
BlockRef Allocate(Napi::Env env, size_t bytes, BlockKind kind);

struct PoolStats {
  int64_t tensorBytes, tensors, internalBytes, reservedBytes, peakReservedBytes, peakTensorBytes;
};
PoolStats GetPoolStats();
void ResetPeaks();
// Frees the cached (unused) blocks back to the driver.
void EmptyCache();

}  // namespace flashattn
