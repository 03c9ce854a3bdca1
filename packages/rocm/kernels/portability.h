// The one place the kernels meet their compiler. The kernel sources use only the subset of HIP that is also
// CUDA (threadIdx/blockIdx/blockDim, __syncthreads, extern __shared__, expf/logf/tanhf, __float_as_uint), so the
// same file compiles with hipcc (AMD) and nvcc (NVIDIA). Nothing here or in the portable kernels assumes a
// wavefront/warp of 32: reductions go through shared memory, never through lane shuffles.
#pragma once

#if defined(__HIP__) || defined(__HIPCC__)
#include <hip/hip_runtime.h>
#define FA_PLATFORM_HIP 1
#elif defined(__CUDACC__)
#define FA_PLATFORM_CUDA 1
#elif defined(FA_PLATFORM_EMU)
// CPU emulation for CI (emu/cpu_runtime.h, included before this header, supplies the GPU built-ins).
#else
#error "compile with hipcc (HIP_PLATFORM=amd) or nvcc"
#endif

// Exported kernel names must survive unmangled for hipModuleGetFunction / cuModuleGetFunction.
#define FA_KERNEL extern "C" __global__ void __launch_bounds__(256)
#define FA_INLINE __device__ __forceinline__

// The MFMA matrix-core path exists only for CDNA GPUs (wavefront 64).
#if defined(__gfx908__) || defined(__gfx90a__) || defined(__gfx940__) || defined(__gfx941__) || defined(__gfx942__)
#define FA_HAS_MFMA 1
#endif
