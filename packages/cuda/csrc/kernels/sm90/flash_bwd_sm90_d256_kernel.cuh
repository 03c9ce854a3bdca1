// Hopper (sm_90a) FlashAttention backward with wgmma for the head-dim-256 bucket (v8), non-deterministic mode (dQ
// accumulated in f32 with RED.ADD.v2; zeroed first and converted by bwd_convert_dq_kernel, as the D <= 128 kernel).
// At D = 256 the dK and dV accumulators of 64 keys are 128 f32 registers each per thread of one warpgroup, so the
// work of one key tile is split differently from flash_bwd_sm90_kernel.cuh:
//   CTA = 64 keys (one key tile) x (kv head, batch), 256 threads = 2 warpgroups; Q tiles of BMQ = 64 queries.
//   S^T = K Q^T, dP^T = V dO^T (64 keys x 64 queries): warpgroup g computes the 32 queries [32 g, 32 g + 32)
//     (SS wgmma m64n32k16, 16 k-steps, both K-major) and their P^T / dS^T (elementwise as the D <= 128 kernel),
//     written (f16/bf16) to two swizzled [64 keys][64 queries] smem tiles; fence.proxy.async + barrier B.
//   dV[:, 128 g .. +128] += P^T dO[:, 128 g ..]   SS wgmma m64n128k16 (A = P^T tile K-major, B = dO MN-major)
//   dK[:, 128 g .. +128] += dS^T Q[:, 128 g ..]   SS wgmma m64n128k16
//   dQ[:, 128 g .. +128]  = dS K[:, 128 g ..]     SS wgmma m64n128k16 (A = dS^T tile M-major, B = K N-major),
//     RED.ADD.v2 into the accumulator from registers.
// So each warpgroup owns half of the head dim of dK / dV (64 + 64 registers) and dQ (64), and S^T / dP^T are computed
// once per CTA (5 GEMMs, no duplicated work). Shared memory: K, V (32 KB each), Q / dO in 2 stages (32 KB each per
// stage), P^T / dS^T (8 KB each), LSE / D: ~209 KB; prefetch distance 1 (tile it+1 loads during tile it).
#pragma once
#include <type_traits>
#include "../block_info.cuh"
#include "../bwd_p_ds.cuh"
#include "../utils.cuh"
#include "bwd_sm90_ops.cuh"

namespace flash {
namespace sm90bwd {

struct TraitsD256 {
  static constexpr int D = 256, BN = 64, BMQ = 64, kThreads = 256, kStages = 2;
  static constexpr int kTileK = BN * D * 2, kTileQ = BMQ * D * 2, kTileS = BN * BMQ * 2;
  static constexpr int oK = 0, oV = kTileK, oQ = 2 * kTileK, odO = oQ + kStages * kTileQ, oP = odO + kStages * kTileQ,
                       oS = oP + kTileS, oL = oS + kTileS, oD = oL + kStages * BMQ * 4;
  static constexpr int kSmem = oD + kStages * BMQ * 4 + 1024;  // + slack to align the base to 1024
  static_assert(kSmem <= 227 * 1024, "shared memory");
};

__device__ __forceinline__ uint64_t kdesc256(uint32_t addr) { return sm90::make_desc(addr, 16, 1024); }
__device__ __forceinline__ uint64_t mndesc256(uint32_t addr, uint32_t panel_bytes) {
  return sm90::make_desc(addr, panel_bytes, 1024);
}
__device__ __forceinline__ uint64_t opaque256(uint64_t x) {
  asm volatile("" : "+l"(x));
  return x;
}

template <typename T, bool V7>
__global__ void __launch_bounds__(256, 1)
    flash_bwd_sm90_d256_kernel(const FlashBwdParams bp, const float* __restrict__ dsum, float* __restrict__ dq_accum) {
#ifdef FLASH_SM90_ARCH  // sm90/wgmma.cuh: sm_90a device pass only
  using Tr = TraitsD256;
  constexpr int D = Tr::D, BN = Tr::BN, BMQ = Tr::BMQ, NST = Tr::kStages, THREADS = Tr::kThreads;
  constexpr int QW = BMQ / 2;   // queries of S^T / dP^T per warpgroup (wgmma N)
  constexpr int NS = QW / 2;    // S^T, dP^T accumulator floats per thread (m64 x 32)
  constexpr int DH = D / 2;     // head-dim half per warpgroup (dK, dV, dQ wgmma N)
  constexpr int NA = DH / 2;    // dK, dV, dQ accumulator floats per thread (m64 x 128)
  const FlashFwdParams& p = bp.fwd;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t sraw = smem_u32(smem_raw);
  const uint32_t sbase = (sraw + 1023u) & ~1023u;
  unsigned char* sgen = smem_raw + (sbase - sraw);
  const uint32_t sK = sbase + Tr::oK, sV = sbase + Tr::oV, sQ0 = sbase + Tr::oQ, sdO0 = sbase + Tr::odO,
                 sP = sbase + Tr::oP, sdS = sbase + Tr::oS;
  float* sL0 = reinterpret_cast<float*>(sgen + Tr::oL);
  float* sD0 = reinterpret_cast<float*>(sgen + Tr::oD);

  const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const int hk = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int j0 = blockIdx.x * BN;
  if (j0 >= bi.sk) return;
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int jlast = min(j0 + BN, bi.sk) - 1;
  int mmin, nm;  // Q tiles mmin .. mmin + nm - 1
  mask.query_tiles(j0, jlast, bi.sq, BMQ, mmin, nm);
  const int group = p.h_q / p.h_kv;
  const int total = group * nm;

  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  const T* dO = static_cast<const T*>(bp.dout);
  const int64_t qs = (int64_t)p.h_q * p.d_qk, ks = (int64_t)p.h_kv * p.d_qk, vs = (int64_t)p.h_kv * p.d_v,
                os = (int64_t)p.h_q * p.d_v;
  const int qch = p.d_qk >> 3, vch = p.d_v >> 3;
  const ScoreXform sx(p.scale, p.softcap);
  const int qw0 = wg * QW;  // this warpgroup's queries within the Q tile (S^T / dP^T columns)
  const int col0 = wg * DH; // this warpgroup's head-dim half (dK / dV / dQ columns)

  float acc_dk[NA], acc_dv[NA];
#pragma unroll
  for (int i = 0; i < NA; ++i) acc_dk[i] = acc_dv[i] = 0.f;

  auto issue = [&](int it, int st) {
    const int g = it / nm, m = mmin + it % nm;
    const int h = hk * group + g, i0 = m * BMQ;
    const int64_t row0 = bi.q_start + i0;
    sm90::load_tile_sw128<T, BMQ, D, THREADS>(sQ0 + st * Tr::kTileQ, Q + row0 * qs + (int64_t)h * p.d_qk, qs,
                                              bi.sq - i0, qch, tid, Q);
    sm90::load_tile_sw128<T, BMQ, D, THREADS>(sdO0 + st * Tr::kTileQ, dO + row0 * os + (int64_t)h * p.d_v, os,
                                              bi.sq - i0, vch, tid, dO);
    if (tid < BMQ) {  // raw LSE (rows past the sequence: 0; they have Q = dO = 0 so contribute nothing)
      const int i = i0 + tid;
      const bool ok = i < bi.sq;
      const float* src = p.lse + (int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride +
                         (p.lse_varlen_rows ? bi.q_start : 0) + i;
      cp_async4(smem_u32(sL0 + st * BMQ + tid), ok ? src : p.lse, ok ? 4 : 0);
    } else if (tid < 2 * BMQ) {
      const int t = tid - BMQ, i = i0 + t;
      const bool ok = i < bi.sq;
      cp_async4(smem_u32(sD0 + st * BMQ + t), ok ? dsum + (int64_t)(bi.q_start + i) * p.h_q + h : dsum, ok ? 4 : 0);
    }
  };

  if (total > 0) {
    sm90::load_tile_sw128<T, BN, D, THREADS>(sK, K + (int64_t)(bi.k_start + j0) * ks + (int64_t)hk * p.d_qk, ks,
                                             bi.sk - j0, qch, tid, K);
    sm90::load_tile_sw128<T, BN, D, THREADS>(sV, V + (int64_t)(bi.k_start + j0) * vs + (int64_t)hk * p.d_v, vs,
                                             bi.sk - j0, vch, tid, V);
    issue(0, 0);
    cp_async_commit();
    // Barriers per Q tile: A (tile `it` landed; every thread finished tile it-1: its Q / dO stage and the P^T / dS^T
    // tiles are free, so tile it+1 is prefetched into that stage right after A) and B (P^T / dS^T complete).
    for (int it = 0; it < total; ++it) {
      const int st = it % NST;
      cp_async_wait<0>();         // this thread's copies of tile `it`
      sm90::fence_proxy_async();  // cp.async writes (generic proxy) are read by wgmma (async proxy)
      __syncthreads();            // A
      if (it + 1 < total) issue(it + 1, (it + 1) % NST);
      cp_async_commit();
      const int g = it / nm, i0 = (mmin + it % nm) * BMQ;
      const int h = hk * group + g;
      const uint32_t sQ = sQ0 + st * Tr::kTileQ, sdO = sdO0 + st * Tr::kTileQ;
      const float* sL = sL0 + st * BMQ + qw0;
      const float* sD = sD0 + st * BMQ + qw0;

      const uint64_t dK0 = opaque256(kdesc256(sK)), dV0 = opaque256(kdesc256(sV));
      const uint64_t dQ0 = opaque256(kdesc256(sQ + qw0 * 128)), ddO0 = opaque256(kdesc256(sdO + qw0 * 128));
      // S^T = K Q^T, dP^T = V dO^T (64 keys x this warpgroup's 32 queries), K-major operands.
      float s[NS], dp[NS];
      sm90::fence();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint32_t ko = (kk >> 2) * BN * 128 + (kk & 3) * 32, qo = (kk >> 2) * BMQ * 128 + (kk & 3) * 32;
        sm90::wgmma_ss<T, QW, 0, 0>(s, sm90::desc_add(dK0, ko), sm90::desc_add(dQ0, qo), kk > 0);
      }
      sm90::commit_group();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint32_t ko = (kk >> 2) * BN * 128 + (kk & 3) * 32, qo = (kk >> 2) * BMQ * 128 + (kk & 3) * 32;
        sm90::wgmma_ss<T, QW, 0, 0>(dp, sm90::desc_add(dV0, ko), sm90::desc_add(ddO0, qo), kk > 0);
      }
      sm90::commit_group();
      sm90::wait_group<0>();
      sm90::fence_operand(s);
      sm90::fence_operand(dp);

      const bool need_mask = !mask.tile_full(i0, min(i0 + BMQ, bi.sq) - 1, j0, j0 + BN - 1);
      int lo[2], hi[2];  // visible query columns (relative to this lane's first column) per key row
      key_row_col_bounds(mask, need_mask, j0 + warp * 16 + (lane >> 2), i0 + qw0 + (lane & 3) * 2, lo, hi);
      bwd_p_ds<QW>(s, dp, sL, sD, lo, hi, sx, V7 && !need_mask && !sx.transform, lane);

      // P^T, dS^T -> shared memory [BN keys][BMQ queries] (swizzled), this warpgroup's query columns.
#pragma unroll
      for (int jn = 0; jn < QW / 8; ++jn)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int kr = warp * 16 + (lane >> 2) + 8 * r, qc = qw0 + jn * 8 + (lane & 3) * 2;
          const int off = sm90::sw128_offset(BN, kr, qc);
          *reinterpret_cast<uint32_t*>(sgen + Tr::oP + off) = pack2<T>(s[4 * jn + 2 * r], s[4 * jn + 2 * r + 1]);
          *reinterpret_cast<uint32_t*>(sgen + Tr::oS + off) = pack2<T>(dp[4 * jn + 2 * r], dp[4 * jn + 2 * r + 1]);
        }
      sm90::fence_proxy_async();
      __syncthreads();  // B

      // dV_half += P^T dO_half, dK_half += dS^T Q_half: A = P^T / dS^T tile K-major (K = queries), B MN-major.
      // dQ_half = dS K_half: A = dS^T tile M-major (M = queries, K = keys), B = K N-major.
      const uint64_t dPt = opaque256(kdesc256(sP)), dSt = opaque256(kdesc256(sdS));
      const uint64_t ddOt = opaque256(mndesc256(sdO + (col0 / 64) * BMQ * 128, BMQ * 128));
      const uint64_t dQt = opaque256(mndesc256(sQ + (col0 / 64) * BMQ * 128, BMQ * 128));
      const uint64_t dSm = opaque256(mndesc256(sdS, BN * 128));
      const uint64_t dKt = opaque256(mndesc256(sK + (col0 / 64) * BN * 128, BN * 128));
      float dqa[NA];
      sm90::fence();
#pragma unroll
      for (int kk = 0; kk < BMQ / 16; ++kk)
        sm90::wgmma_ss<T, DH, 0, 1>(acc_dv, sm90::desc_add(dPt, kk * 32), sm90::desc_add(ddOt, kk * 2048), 1);
      sm90::commit_group();
#pragma unroll
      for (int kk = 0; kk < BMQ / 16; ++kk)
        sm90::wgmma_ss<T, DH, 0, 1>(acc_dk, sm90::desc_add(dSt, kk * 32), sm90::desc_add(dQt, kk * 2048), 1);
      sm90::commit_group();
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk)
        sm90::wgmma_ss<T, DH, 1, 1>(dqa, sm90::desc_add(dSm, kk * 2048), sm90::desc_add(dKt, kk * 2048), kk > 0);
      sm90::commit_group();
      sm90::wait_group<0>();
      sm90::fence_operand(acc_dv);
      sm90::fence_operand(acc_dk);
      sm90::fence_operand(dqa);

      // RED.ADD.v2 of this thread's dQ partial (rows i0 + 16 warp + lane / 4 + 8 r, columns col0 + ...).
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int i = i0 + warp * 16 + (lane >> 2) + 8 * r;
        if (i < bi.sq) {
          float* row = dq_accum + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_qk + col0;
#pragma unroll
          for (int jn = 0; jn < DH / 8; ++jn) {
            const int c = jn * 8 + (lane & 3) * 2;
            if (col0 + c < p.d_qk) red_add_v2(row + c, dqa[4 * jn + 2 * r], dqa[4 * jn + 2 * r + 1]);
          }
        }
      }
    }
  }

  T* dK = static_cast<T*>(bp.dk);
  T* dV = static_cast<T*>(bp.dv);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = j0 + warp * 16 + (lane >> 2) + 8 * r;
    if (j < bi.sk) {
      const int64_t row = bi.k_start + j;
#pragma unroll
      for (int jn = 0; jn < DH / 8; ++jn) {
        const int c = col0 + jn * 8 + (lane & 3) * 2;
        if (c < p.d_qk)
          *reinterpret_cast<uint32_t*>(dK + row * ks + (int64_t)hk * p.d_qk + c) =
              pack2<T>(acc_dk[4 * jn + 2 * r] * p.scale, acc_dk[4 * jn + 2 * r + 1] * p.scale);
        if (c < p.d_v)
          *reinterpret_cast<uint32_t*>(dV + row * vs + (int64_t)hk * p.d_v + c) =
              pack2<T>(acc_dv[4 * jn + 2 * r], acc_dv[4 * jn + 2 * r + 1]);
      }
    }
  }
#endif
}

}  // namespace sm90bwd
}  // namespace flash
