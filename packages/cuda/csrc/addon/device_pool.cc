#include "device_pool.h"

#include <map>
#include <mutex>

#include "cuda_context.h"

namespace flashattn {

namespace {

std::mutex g_mutex;
std::multimap<size_t, void*> g_free;  // size -> ptr, cached blocks
PoolStats g_stats{};

size_t RoundSize(size_t bytes) {
  if (bytes == 0) return 0;
  const size_t small = 512, large = 2u << 20;
  if (bytes < (1u << 20)) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

void EmptyCacheLocked() {
  for (auto& [size, ptr] : g_free) {
    cudaFree(ptr);
    g_stats.reservedBytes -= static_cast<int64_t>(size);
  }
  g_free.clear();
}

void Release(Block* b) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (b->kind == BlockKind::Tensor) {
    g_stats.tensorBytes -= static_cast<int64_t>(b->requested);
    g_stats.tensors -= 1;
  } else {
    g_stats.internalBytes -= static_cast<int64_t>(b->requested);
  }
  if (b->ptr) {
    if (Ctx().shuttingDown) {
      cudaFree(b->ptr);  // may fail harmlessly while the runtime unloads
    } else {
      g_free.emplace(b->size, b->ptr);
    }
  }
  delete b;
}

// Counts a block handed out (caller holds g_mutex).
BlockRef Track(Block* b) {
  if (b->kind == BlockKind::Tensor) {
    g_stats.tensorBytes += static_cast<int64_t>(b->requested);
    g_stats.tensors += 1;
    if (g_stats.tensorBytes > g_stats.peakTensorBytes) g_stats.peakTensorBytes = g_stats.tensorBytes;
  } else {
    g_stats.internalBytes += static_cast<int64_t>(b->requested);
  }
  return BlockRef(b, Release);
}

}  // namespace

BlockRef Allocate(Napi::Env env, size_t bytes, BlockKind kind) {
  EnsureContext(env);
  const size_t size = RoundSize(bytes);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (size > 0) {
      // Best fit among cached blocks, but never more than twice the size (no hoarding of huge blocks).
      auto it = g_free.lower_bound(size);
      if (it != g_free.end() && it->first <= 2 * size) {
        ptr = it->second;
        const size_t got = it->first;
        g_free.erase(it);
        return Track(new Block{ptr, got, bytes, kind});
      }
      cudaError_t err = cudaMalloc(&ptr, size);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        EmptyCacheLocked();
        err = cudaMalloc(&ptr, size);
      }
      if (err != cudaSuccess) {
        std::string what = "cudaMalloc(" + std::to_string(bytes) + " bytes)";
        throw CudaError(env, err, what);
      }
      g_stats.reservedBytes += static_cast<int64_t>(size);
      if (g_stats.reservedBytes > g_stats.peakReservedBytes) g_stats.peakReservedBytes = g_stats.reservedBytes;
    }
    return Track(new Block{ptr, size, bytes, kind});
  }
}

PoolStats GetPoolStats() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_stats;
}

void ResetPeaks() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_stats.peakReservedBytes = g_stats.reservedBytes;
  g_stats.peakTensorBytes = g_stats.tensorBytes;
}

void EmptyCache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  EmptyCacheLocked();
}

}  // namespace flashattn
