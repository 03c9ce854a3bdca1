// sm90 backward: the few PTX wrappers it needs beyond sm90/wgmma.cuh (vector RED into the f32 dQ accumulator,
// 4-byte cp.async for LSE / D rows, a scalar register fence).
#pragma once
#include "wgmma.cuh"

namespace flash {
namespace sm90bwd {

// red.global.add.v2.f32 (sm_90): one 8-byte reduction per pair of dQ columns (8-byte aligned: the accumulator base
// is 256-byte aligned, column pairs start at even indices).
__device__ __forceinline__ void red_add_v2(float* p, float a, float b) {
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(a), "f"(b) : "memory");
}
__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

// Bulk (copy-engine) reduction smem -> global: dst[0..bytes) += src (f32), bytes % 16 == 0, both 16-byte aligned.
__device__ __forceinline__ void bulk_reduce_add_f32(float* dst, uint32_t src, int bytes) {
  asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(dst), "r"(src),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }

}  // namespace sm90bwd
}  // namespace flash
