// C entry points (flash_params.h): validation of what the kernels support, head-dim bucket dispatch, the backward
// preprocess (D = rowsum(dO * O)) and workspace sizing.
#include "launch.h"
#include "utils.cuh"
#include "sm90/flash_bwd_sm90.h"
namespace flash {  // sm90 wgmma forward (sm90/flash_fwd_sm90_hdim{64,128,256}.cu)
template <typename T, int D> cudaError_t run_fwd_sm90(const FlashFwdParams& p, cudaStream_t stream);
}
#ifdef FLASH_VARIANTS
#include <cstdlib>
namespace flash {
cudaError_t run_fwd_variant(const FlashFwdParams& p, int bucket, int variant, cudaStream_t s);
}
#endif

namespace flash {
namespace {

int bucket_for(int d) {
  for (int b : kBuckets)
    if (d <= b) return b;
  return 0;
}

const char* check(const FlashFwdParams& p) {
  if (p.dtype != FLASH_F32 && p.dtype != FLASH_F16 && p.dtype != FLASH_BF16) return "dtype not f32, f16 or bf16";
  if (p.d_qk <= 0 || p.d_qk % 8 != 0) return "headDim must be a positive multiple of 8 for cuda";
  if (p.d_v <= 0 || p.d_v % 8 != 0) return "headDimV must be a positive multiple of 8 for cuda";
  if (p.d_qk > 256) return "headDim > 256 not supported by cuda";
  if (p.d_v > 256) return "headDimV > 256 not supported by cuda";
  if (p.h_q <= 0 || p.h_kv <= 0 || p.h_q % p.h_kv != 0) return "nheadsQ must be a positive multiple of nheadsKV";
  if (p.batch < 0 || p.max_seqlen_q < 0 || p.max_seqlen_k < 0) return "negative batch or sequence length";
  if (p.window_left < -1 || p.window_right < -1) return "window bounds must be >= -1 (-1 = unbounded)";
  if (p.h_q > 65535 || p.batch > 65535) return "nheads or batch > 65535 not supported by cuda (grid limit)";
  // 16-byte cp.async / float4 loads: base pointers must be 16-byte aligned (cudaMalloc gives 256).
  for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.out)})
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return "q, k, v and out must be 16-byte aligned device pointers";
  return nullptr;
}

// One warp per row. VEC (tuning builds only): each lane reads one 16-byte chunk of O and dO (d_v <= 256 = 32 chunks; rows are
// 16-byte aligned: base pointers checked, d_v % 8 == 0) instead of d_v / 32 two-byte loads.
template <typename T, bool VEC>
__global__ void bwd_preprocess_kernel(const FlashBwdParams bp, float* __restrict__ dsum) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int h = blockIdx.y, b = blockIdx.z;
  const int q0 = bp.fwd.cu_seqlens_q[b], sq = bp.fwd.cu_seqlens_q[b + 1] - q0;
  const int i = blockIdx.x * 8 + warp;
  if (i >= sq) return;
  const int64_t off = ((int64_t)(q0 + i) * bp.fwd.h_q + h) * bp.fwd.d_v;
  const T* o = static_cast<const T*>(bp.fwd.out) + off;
  const T* d = static_cast<const T*>(bp.dout) + off;
  float acc = 0.f;
  if (VEC) {
    if (lane * 8 < bp.fwd.d_v) {
      const uint4 ov = *reinterpret_cast<const uint4*>(o + lane * 8);
      const uint4 dv = *reinterpret_cast<const uint4*>(d + lane * 8);
      const T* oe = reinterpret_cast<const T*>(&ov);
      const T* de = reinterpret_cast<const T*>(&dv);
#pragma unroll
      for (int c = 0; c < 8; ++c) acc = fmaf(to_float<T>(oe[c]), to_float<T>(de[c]), acc);
    }
  } else {
    for (int c = lane; c < bp.fwd.d_v; c += 32) acc = fmaf(to_float<T>(o[c]), to_float<T>(d[c]), acc);
  }
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, s);
  if (lane == 0) dsum[(int64_t)(q0 + i) * bp.fwd.h_q + h] = acc;
}

template <typename T>
cudaError_t launch_preprocess(const FlashBwdParams& p, float* dsum, cudaStream_t stream) {
  dim3 grid((p.fwd.max_seqlen_q + 7) / 8, p.fwd.h_q, p.fwd.batch);
#ifdef FLASH_BWD_AB
  // A/B tuning build: FLASH_BWD_AB_VEC=1 uses the vectorized form in non-deterministic mode. It passed the tests
  // but measured no faster (BENCHMARKS.md, v5), so the shipped build keeps the scalar loop.
  const char* v = getenv("FLASH_BWD_AB_VEC");
  const bool vec = !p.deterministic && v && atoi(v) == 1;
#else
  const bool vec = false;
#endif
  if (vec) bwd_preprocess_kernel<T, true><<<grid, 256, 0, stream>>>(p, dsum);
  else bwd_preprocess_kernel<T, false><<<grid, 256, 0, stream>>>(p, dsum);
  return cudaGetLastError();
}

template <typename T>
cudaError_t dispatch_fwd(const FlashFwdParams& p, int bucket, cudaStream_t s) {
  switch (bucket) {
    case 32: return run_fwd<T, 32>(p, s);
    case 64: return run_fwd<T, 64>(p, s);
    case 96: return run_fwd<T, 96>(p, s);
    case 128: return run_fwd<T, 128>(p, s);
    case 160: return run_fwd<T, 160>(p, s);
    case 192: return run_fwd<T, 192>(p, s);
    case 224: return run_fwd<T, 224>(p, s);
    default: return run_fwd<T, 256>(p, s);
  }
}
template <typename T>
cudaError_t dispatch_bwd(const FlashBwdParams& p, const float* dsum, float* dqa, int bucket, cudaStream_t s) {
  switch (bucket) {
    case 32: return run_bwd<T, 32>(p, dsum, dqa, s);
    case 64: return run_bwd<T, 64>(p, dsum, dqa, s);
    case 96: return run_bwd<T, 96>(p, dsum, dqa, s);
    case 128: return run_bwd<T, 128>(p, dsum, dqa, s);
    case 160: return run_bwd<T, 160>(p, dsum, dqa, s);
    case 192: return run_bwd<T, 192>(p, dsum, dqa, s);
    case 224: return run_bwd<T, 224>(p, dsum, dqa, s);
    default: return run_bwd<T, 256>(p, dsum, dqa, s);
  }
}

// A window bound at least sq + sk wide constrains nothing; make it -1 so the kernels' int index arithmetic
// (i + sk - sq +- bound) cannot overflow for huge bounds.
FlashFwdParams normalized(const FlashFwdParams& p) {
  FlashFwdParams q = p;
  const int64_t span = (int64_t)p.max_seqlen_q + p.max_seqlen_k;
  if (q.window_left >= span) q.window_left = -1;
  if (q.window_right >= span) q.window_right = -1;
  return q;
}

int64_t dsum_bytes(const FlashFwdParams& p) {
  return ((int64_t)p.batch * p.max_seqlen_q * p.h_q * (int64_t)sizeof(float) + 255) / 256 * 256;
}

}  // namespace
}  // namespace flash

using namespace flash;

extern "C" cudaError_t flash_fwd(const FlashFwdParams* params, cudaStream_t stream, const char** unsupported) {
  const FlashFwdParams norm = normalized(*params);
  const FlashFwdParams* p = &norm;
  if (const char* why = check(*p)) {
    if (unsupported) *unsupported = why;
    return cudaErrorNotSupported;
  }
  if (p->batch == 0 || p->max_seqlen_q == 0) return cudaSuccess;
  if (p->dtype == FLASH_F32) return run_fwd_f32(*p, stream);
  const int bucket = bucket_for(p->d_qk > p->d_v ? p->d_qk : p->d_v);
#ifdef FLASH_VARIANTS
  if (const char* v = getenv("FLASH_FWD_VARIANT")) {
    const cudaError_t e = run_fwd_variant(*p, bucket, atoi(v), stream);
    if (e != cudaErrorNotSupported) return e;
  }
#endif
  // sm90 wgmma forward: CC 9.0, f16/bf16, buckets 64/128/256, unless FLASHATTN_CUDA_SM90=0 (read per call).
  if ((bucket == 64 || bucket == 128 || bucket == 256) && bwd_sm90_device() && sm90_env_enabled()) {
    const bool f16 = p->dtype == FLASH_F16;
    const cudaError_t e =
        bucket == 64    ? (f16 ? run_fwd_sm90<__half, 64>(*p, stream) : run_fwd_sm90<__nv_bfloat16, 64>(*p, stream))
        : bucket == 128 ? (f16 ? run_fwd_sm90<__half, 128>(*p, stream) : run_fwd_sm90<__nv_bfloat16, 128>(*p, stream))
                        : (f16 ? run_fwd_sm90<__half, 256>(*p, stream) : run_fwd_sm90<__nv_bfloat16, 256>(*p, stream));
    if (e != cudaErrorNotSupported) return e;  // NotSupported: no sm_90a image in this build (or d256 switched off) -> mma.sync kernels
  }
  return p->dtype == FLASH_F16 ? dispatch_fwd<__half>(*p, bucket, stream)
                               : dispatch_fwd<__nv_bfloat16>(*p, bucket, stream);
}

// Half types: D rowsums [total_q, h_q] f32, then (non-deterministic, head dims <= 128) the f32 dQ accumulator.
static int bucket_of(const FlashFwdParams& p) { return bucket_for(p.d_qk > p.d_v ? p.d_qk : p.d_v); }
static int64_t dq_accum_bytes(const FlashBwdParams& p) {
  // sm90 wgmma backward (non-deterministic mode, buckets <= 128 and 256, CC 9.0): f32 dQ accumulator. Sized whether or not
  // FLASHATTN_CUDA_SM90=0 switches the path off, so the workspace does not depend on the environment.
  if (bwd_sm90_eligible(p, bucket_of(p.fwd)))
    return (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q * p.fwd.d_qk * (int64_t)sizeof(float);
#ifndef FLASH_ATOMIC_DQ
  return 0;  // both modes run the deterministic kernels (see flash_bwd_launch.cuh)
#endif
  if (p.deterministic || bucket_of(p.fwd) > 128) return 0;
  return (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q * p.fwd.d_qk * (int64_t)sizeof(float);
}
static int64_t workspace_bytes(const FlashBwdParams& p) {
  return p.fwd.dtype == FLASH_F32 ? bwd_f32_workspace_bytes(p) : dsum_bytes(p.fwd) + dq_accum_bytes(p);
}

extern "C" int64_t flash_bwd_workspace_bytes(const FlashBwdParams* p) { return workspace_bytes(*p); }

extern "C" cudaError_t flash_bwd(const FlashBwdParams* params, cudaStream_t stream, const char** unsupported) {
  FlashBwdParams norm = *params;
  norm.fwd = normalized(params->fwd);
  const FlashBwdParams* p = &norm;
  const char* why = check(p->fwd);
  if (!why && p->fwd.lse == nullptr) why = "backward needs the forward LSE";
  for (const void* ptr : {p->dout, static_cast<const void*>(p->dq), static_cast<const void*>(p->dk),
                          static_cast<const void*>(p->dv)})
    if (!why && reinterpret_cast<uintptr_t>(ptr) % 16 != 0) why = "dout, dq, dk and dv must be 16-byte aligned device pointers";
  if (!why && (p->scratch == nullptr || p->scratch_bytes < workspace_bytes(*p)) && workspace_bytes(*p) > 0)
    why = "backward workspace missing or smaller than flash_bwd_workspace_bytes()";
  if (why) {
    if (unsupported) *unsupported = why;
    return cudaErrorNotSupported;
  }
  if (p->fwd.batch == 0) return cudaSuccess;
  if (p->fwd.max_seqlen_q == 0 && p->fwd.max_seqlen_k == 0) return cudaSuccess;
  if (p->fwd.dtype == FLASH_F32) return run_bwd_f32(*p, stream);
  float* dsum = static_cast<float*>(p->scratch);
  cudaError_t e = cudaSuccess;
  if (p->fwd.max_seqlen_q > 0) {
    e = p->fwd.dtype == FLASH_F16 ? launch_preprocess<__half>(*p, dsum, stream)
                                  : launch_preprocess<__nv_bfloat16>(*p, dsum, stream);
    if (e != cudaSuccess) return e;
  }
  const int bucket = bucket_for(p->fwd.d_qk > p->fwd.d_v ? p->fwd.d_qk : p->fwd.d_v);
  float* dqa = dq_accum_bytes(*p) > 0 ? reinterpret_cast<float*>(static_cast<char*>(p->scratch) + dsum_bytes(p->fwd))
                                       : nullptr;
  if (dqa && bwd_sm90_eligible(*p, bucket) && sm90_env_enabled()) {
    const bool f16 = p->fwd.dtype == FLASH_F16;
    e = bwd_sm90_kernel_dim(bucket) == 64
            ? (f16 ? run_bwd_sm90<__half, 64>(*p, dsum, dqa, stream) : run_bwd_sm90<__nv_bfloat16, 64>(*p, dsum, dqa, stream))
        : bwd_sm90_kernel_dim(bucket) == 128
            ? (f16 ? run_bwd_sm90<__half, 128>(*p, dsum, dqa, stream)
                   : run_bwd_sm90<__nv_bfloat16, 128>(*p, dsum, dqa, stream))
            : (f16 ? run_bwd_sm90<__half, 256>(*p, dsum, dqa, stream)
                   : run_bwd_sm90<__nv_bfloat16, 256>(*p, dsum, dqa, stream));
    if (e != cudaErrorNotSupported) return e;  // NotSupported: no sm_90a image in this build (or d256 switched off) -> mma.sync kernels
  }
  return p->fwd.dtype == FLASH_F16 ? dispatch_bwd<__half>(*p, dsum, dqa, bucket, stream)
                                   : dispatch_bwd<__nv_bfloat16>(*p, dsum, dqa, bucket, stream);
}
