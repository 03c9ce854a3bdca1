// Hopper (sm_90a) FlashAttention backward with wgmma, non-deterministic mode (dQ accumulated in f32 with bulk
// reductions from shared memory, or RED.ADD).
// One CTA per (key tile of 128, kv head, batch): two warpgroups, each owning 64 keys (wgmma M = 64). K and V stay
// in 128-byte-swizzled shared memory; the CTA loops over the query heads of the GQA group and the Q tiles (BMQ rows)
// that can see the key tile (block_info's query range), Q / dO / LSE / D in 3 cp.async stages (prefetch distance 2).
// Per Q tile, per warpgroup (5 GEMMs):
//   S^T  = K Q^T   and  dP^T = V dO^T   SS wgmma, both operands K-major
//   P^T  = exp2(S^T * scale log2e - LSE log2e) (mask, softcap as flash_bwd_kernel.cuh), dS^T = P^T (dP^T - D)
//   dV  += P^T dO  and  dK  += dS^T Q     RS wgmma (A = accumulator -> A-fragment identity), B MN-major
//   dS^T -> shared memory (fence.proxy.async + barrier), dQ_partial = dS K   SS wgmma, A and B MN-major,
//   split over the two warpgroups (BMQ = 64: by head-dim halves; BMQ = 128: by query halves), added to an f32
//   accumulator (zeroed first; converted to the dtype by bwd_convert_dq_kernel): BULK = staged in shared memory and
//   added by cp.reduce.async.bulk (one per row), else RED.ADD.v2 from registers.
// V7 (template flag, default since v7): tiles that need no mask and have no softcap / score transform run a second,
// select-free copy of the elementwise loop (same arithmetic); see Traits.
#pragma once
#include <type_traits>
#include "../block_info.cuh"
#include "../bwd_p_ds.cuh"
#include "../utils.cuh"
#include "bwd_sm90_ops.cuh"

namespace flash {
namespace sm90bwd {

template <int D, int BMQ, bool BULK, bool V7 = false>
struct Traits {
  // V7 (2026-11-21 v7): fast elementwise path for tiles without mask / softcap (same arithmetic, no per-element
  // mask / softcap selects). kPipeDq (off): the RED of tile it's dQ deferred under tile it+1's S^T / dP^T GEMMs with
  // the dS^T tile double-buffered; ptxas serializes the wgmmas then (C7514: accumulator registers of a completed
  // wgmma read while later ones are in flight) and spills 50 B at D = 64, so it is compiled out.
  static constexpr bool kPipeDq = false;
  static constexpr int kSdsBufs = kPipeDq ? 2 : 1;
  static constexpr int kStages = 3;  // Q / dO / LSE / D stages (prefetch distance 2)
  static constexpr int BN = 128, kThreads = 256;
  static_assert(D % 64 == 0 && D <= 128, "head-dim buckets 64 and 128");
  static_assert(BMQ == 64 || (BMQ == 128 && D == 64), "S^T and dP^T accumulators must fit next to dK and dV");
  static constexpr bool kDqSplitN = BMQ == 64;       // dQ: warpgroup g takes columns [g D/2, (g+1) D/2)
  static_assert(!kDqSplitN || (D / 2) % 64 == 0, "dQ column halves must be whole 64-column panels");
  static constexpr int kDqN = kDqSplitN ? D / 2 : D;  // else warpgroup g takes query rows [64 g, 64 g + 64)
  static constexpr int kTileK = BN * D * 2, kTileQ = BMQ * D * 2, kTileS = BN * BMQ * 2;
  // BULK: dQ partial staged as f32 [dQ rows][D + 8] (the pad makes the float2 stores conflict-free), then one
  // cp.reduce.async.bulk .add.f32 per row into the accumulator (FA3's scheme) instead of per-thread RED.
  static constexpr int kDqRows = kDqSplitN ? BMQ : 128, kDqStride = D + 8;
  static constexpr int kTileDq = BULK ? kDqRows * kDqStride * 4 : 0;
  static constexpr int oK = 0, oV = kTileK, oQ = 2 * kTileK, odO = oQ + kStages * kTileQ,
                       oS = odO + kStages * kTileQ, oDq = oS + kSdsBufs * kTileS, oL = oDq + kTileDq, oD = oL + kStages * BMQ * 4;
  static constexpr int kSmem = oD + kStages * BMQ * 4 + 1024;  // + slack to align the base to 1024
};

// Descriptors (layout conventions of sm90/wgmma.cuh): K-major operand at a shared address (row group start +
// 32-byte k offsets inside a 64-column panel); MN-major operand at a shared address with the tile's panel stride.
__device__ __forceinline__ uint64_t kdesc(uint32_t addr) { return sm90::make_desc(addr, 16, 1024); }
__device__ __forceinline__ uint64_t mndesc(uint32_t addr, uint32_t panel_bytes) {
  return sm90::make_desc(addr, panel_bytes, 1024);
}

__device__ __forceinline__ uint64_t opaque(uint64_t x) {
  asm volatile("" : "+l"(x));
  return x;
}

template <typename T, int D, int BMQ, bool BULK, bool V7 = false>
__global__ void __launch_bounds__(256, 1)
    flash_bwd_sm90_kernel(const FlashBwdParams bp, const float* __restrict__ dsum, float* __restrict__ dq_accum) {
#ifdef FLASH_SM90_ARCH  // sm90/wgmma.cuh: sm_90a device pass only
  using Tr = Traits<D, BMQ, BULK, V7>;
  constexpr bool PIPE = Tr::kPipeDq;
  constexpr int NST = Tr::kStages;
  constexpr int BN = Tr::BN, THREADS = Tr::kThreads;
  constexpr int NS = BMQ / 2;      // S^T, dP^T accumulator floats per thread (m64 x BMQ)
  constexpr int NA = D / 2;        // dK, dV (m64 x D)
  constexpr int DQN = Tr::kDqN;    // dQ wgmma N
  constexpr int NQ = DQN / 2;
  constexpr int KQ = BMQ / 16;     // k-steps of the dV / dK GEMMs
  const FlashFwdParams& p = bp.fwd;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t sraw = smem_u32(smem_raw);
  const uint32_t sbase = (sraw + 1023u) & ~1023u;
  unsigned char* sgen = smem_raw + (sbase - sraw);
  const uint32_t sK = sbase + Tr::oK, sV = sbase + Tr::oV, sQ0 = sbase + Tr::oQ, sdO0 = sbase + Tr::odO,
                 sdS = sbase + Tr::oS, sDqa = sbase + Tr::oDq;
  float* sL0 = reinterpret_cast<float*>(sgen + Tr::oL);
  float* sD0 = reinterpret_cast<float*>(sgen + Tr::oD);
  float* sDq = reinterpret_cast<float*>(sgen + Tr::oDq);

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
  const int krow = wg * 64;  // this warpgroup's keys within the tile

  float acc_dk[NA], acc_dv[NA];
#pragma unroll
  for (int i = 0; i < NA; ++i) acc_dk[i] = acc_dv[i] = 0.f;

  auto issue = [&](int it, int st) {
    const int g = it / nm, m = mmin + it % nm;
    const int h = hk * group + g, i0 = m * BMQ;
    const int64_t row0 = bi.q_start + i0;
    sm90::load_tile_sw128<T, BMQ, D, THREADS>(sQ0 + st * Tr::kTileQ, Q + row0 * qs + (int64_t)h * p.d_qk, qs, bi.sq - i0, qch, tid,
                                Q);
    sm90::load_tile_sw128<T, BMQ, D, THREADS>(sdO0 + st * Tr::kTileQ, dO + row0 * os + (int64_t)h * p.d_v, os, bi.sq - i0, vch,
                                tid, dO);
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

  // One bulk reduction per valid dQ row of tile `it` (thread t < kDqRows takes row t): sDq row -> accumulator row.
  auto bulk_dq = [&](int it) {
    if (tid < Tr::kDqRows) {
      const int g = it / nm, i = (mmin + it % nm) * BMQ + tid;
      if (i < bi.sq) {
        const int h = hk * group + g;
        bulk_reduce_add_f32(dq_accum + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_qk,
                            sDqa + tid * Tr::kDqStride * 4, p.d_qk * 4);
      }
      bulk_commit();
    }
  };

  const int qrow0 = Tr::kDqSplitN ? 0 : wg * 64, col0 = Tr::kDqSplitN ? wg * (D / 2) : 0;
  // RED.ADD.v2 of this thread's dQ partial of the Q tile at rows i0_ (query head h_).
  auto red_dq = [&](const float (&dq)[NQ], int i0_, int h_) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = i0_ + qrow0 + warp * 16 + (lane >> 2) + 8 * r;
      if (i < bi.sq) {
        float* row = dq_accum + ((int64_t)(bi.q_start + i) * p.h_q + h_) * p.d_qk + col0;
#pragma unroll
        for (int jn = 0; jn < DQN / 8; ++jn) {
          const int c = jn * 8 + (lane & 3) * 2;
          if (col0 + c < p.d_qk) red_add_v2(row + c, dq[4 * jn + 2 * r], dq[4 * jn + 2 * r + 1]);
        }
      }
    }
  };
  float dqa[NQ];     // PIPE: tile it-1's dQ partial, reduced under tile it's S^T / dP^T GEMMs
  int pend_i0 = 0, pend_h = 0;

  if (total > 0) {
    sm90::load_tile_sw128<T, BN, D, THREADS>(sK, K + (int64_t)(bi.k_start + j0) * ks + (int64_t)hk * p.d_qk, ks, bi.sk - j0, qch,
                               tid, K);
    sm90::load_tile_sw128<T, BN, D, THREADS>(sV, V + (int64_t)(bi.k_start + j0) * vs + (int64_t)hk * p.d_v, vs, bi.sk - j0, vch,
                               tid, V);
    issue(0, 0);
    cp_async_commit();
    if (total > 1) issue(1, 1);
    cp_async_commit();
    // Barriers per Q tile: A (tile `it` landed; also: every thread finished tile it-1, so its stage and dS^T tile
    // are free) and B (dS^T complete). Tile it+2 is prefetched after B into the stage tile it-1 used.
    for (int it = 0; it < total; ++it) {
      const int st = it % NST;
      cp_async_wait<1>();  // this thread's copies of tile `it` (tile it+1 may still be in flight)
      sm90::fence_proxy_async();  // cp.async writes (generic proxy) are read by wgmma (async proxy)
      __syncthreads();  // A
      if constexpr (BULK) {
        if (it > 0) bulk_dq(it - 1);  // tile it-1's dQ partial (written before A) -> accumulator
      }
      const int g = it / nm, i0 = (mmin + it % nm) * BMQ;
      const int h = hk * group + g;
      const uint32_t sQ = sQ0 + st * Tr::kTileQ, sdO = sdO0 + st * Tr::kTileQ;
      const float* sL = sL0 + st * BMQ;
      const float* sD = sD0 + st * BMQ;

      // Base descriptors of this iteration, made opaque so the compiler does not hoist one 64-bit descriptor per
      // k-step out of the loop (register pressure); k-steps add constants to the start-address field.
      const uint64_t dK0 = opaque(kdesc(sK + krow * 128)), dV0 = opaque(kdesc(sV + krow * 128));
      const uint64_t dQ0 = opaque(kdesc(sQ)), ddO0 = opaque(kdesc(sdO));
      // S^T = K Q^T, dP^T = V dO^T (this warpgroup's 64 keys x BMQ queries), K-major operands.
      float s[NS], dp[NS];
      sm90::fence();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint32_t ko = (kk >> 2) * BN * 128 + (kk & 3) * 32, qo = (kk >> 2) * BMQ * 128 + (kk & 3) * 32;
        sm90::wgmma_ss<T, BMQ, 0, 0>(s, sm90::desc_add(dK0, ko), sm90::desc_add(dQ0, qo), kk > 0);
      }
      sm90::commit_group();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint32_t ko = (kk >> 2) * BN * 128 + (kk & 3) * 32, qo = (kk >> 2) * BMQ * 128 + (kk & 3) * 32;
        sm90::wgmma_ss<T, BMQ, 0, 0>(dp, sm90::desc_add(dV0, ko), sm90::desc_add(ddO0, qo), kk > 0);
      }
      sm90::commit_group();
      if constexpr (PIPE) {
        if (it > 0) {
          sm90::wait_group<2>();  // tile it-1's dQ wgmma (issued before S^T / dP^T) done
          sm90::fence_operand(dqa);
          red_dq(dqa, pend_i0, pend_h);
        }
      }
      sm90::wait_group<0>();
      sm90::fence_operand(s);
      sm90::fence_operand(dp);

      const bool need_mask = !mask.tile_full(i0, min(i0 + BMQ, bi.sq) - 1, j0, j0 + BN - 1);
      int lo[2], hi[2];  // visible query columns (tile-local, relative to this lane's first column) per key row
      key_row_col_bounds(mask, need_mask, j0 + krow + warp * 16 + (lane >> 2), i0 + (lane & 3) * 2, lo, hi);
      uint32_t pP[KQ][4], pS[KQ][4];
      bwd_p_ds<BMQ>(s, dp, sL, sD, lo, hi, sx, V7 && !need_mask && !sx.transform, lane);
#pragma unroll
      for (int kk = 0; kk < KQ; ++kk) {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          pP[kk][q] = pack2<T>(s[8 * kk + 2 * q], s[8 * kk + 2 * q + 1]);
          pS[kk][q] = pack2<T>(dp[8 * kk + 2 * q], dp[8 * kk + 2 * q + 1]);
        }
      }

      const uint64_t ddOt = opaque(mndesc(sdO, BMQ * 128)), dQt = opaque(mndesc(sQ, BMQ * 128));
      // dV += P^T dO, dK += dS^T Q (A from registers, B = dO / Q MN-major: N = head dim, K = queries).
      sm90::fence();
#pragma unroll
      for (int kk = 0; kk < KQ; ++kk) sm90::wgmma_rs<T, D, 1>(acc_dv, pP[kk], sm90::desc_add(ddOt, kk * 2048), 1);
      sm90::commit_group();
#pragma unroll
      for (int kk = 0; kk < KQ; ++kk) sm90::wgmma_rs<T, D, 1>(acc_dk, pS[kk], sm90::desc_add(dQt, kk * 2048), 1);
      sm90::commit_group();

      // dS^T -> shared memory [BN keys][BMQ queries] (swizzled), for dQ = dS K across both warpgroups.
#pragma unroll
      for (int jn = 0; jn < BMQ / 8; ++jn)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int kr = krow + warp * 16 + (lane >> 2) + 8 * r, qc = jn * 8 + (lane & 3) * 2;
          *reinterpret_cast<uint32_t*>(sgen + Tr::oS + (PIPE ? (it & 1) * Tr::kTileS : 0) +
                                       sm90::sw128_offset(BN, kr, qc)) = pS[jn >> 1][(jn & 1) * 2 + r];
        }
      sm90::fence_proxy_async();
      if constexpr (BULK) {
        if (tid < Tr::kDqRows) bulk_wait_read();  // the previous bulk reduction has read sDq
      }
      __syncthreads();  // B
      if (it + 2 < total) issue(it + 2, (it + 2) % NST);
      cp_async_commit();  // (possibly empty group: keeps wait<1> counting right)

      // dQ_partial (m64 x DQN) = dS K: A = dS^T tile read M-major (queries contiguous), B = K N-major.
      const uint64_t dS0 = opaque(mndesc(sdS + (PIPE ? (it & 1) * Tr::kTileS : 0), BN * 128)), dKt = opaque(mndesc(sK, BN * 128));
      sm90::fence();
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        const uint32_t ao = Tr::kDqSplitN ? kk * 2048 : wg * BN * 128 + kk * 2048;
        const uint32_t bo = Tr::kDqSplitN ? wg * ((D / 2) / 64) * BN * 128 + kk * 2048 : kk * 2048;
        sm90::wgmma_ss<T, DQN, 1, 1>(dqa, sm90::desc_add(dS0, ao), sm90::desc_add(dKt, bo), kk > 0);
      }
      sm90::commit_group();
      if constexpr (PIPE) {
        sm90::wait_group<1>();  // dV, dK done (pP / pS free); dQ stays in flight into the next iteration
      } else {
        sm90::wait_group<0>();
        sm90::fence_operand(dqa);
      }
      sm90::fence_operand(acc_dk);
      sm90::fence_operand(acc_dv);
#pragma unroll
      for (int kk = 0; kk < KQ; ++kk) { sm90::fence_operand(pP[kk]); sm90::fence_operand(pS[kk]); }

      if constexpr (PIPE) {
        pend_i0 = i0;
        pend_h = h;
      } else if constexpr (BULK) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float* row = sDq + (qrow0 + warp * 16 + (lane >> 2) + 8 * r) * Tr::kDqStride + col0 + (lane & 3) * 2;
#pragma unroll
          for (int jn = 0; jn < DQN / 8; ++jn)
            *reinterpret_cast<float2*>(row + jn * 8) = make_float2(dqa[4 * jn + 2 * r], dqa[4 * jn + 2 * r + 1]);
        }
        sm90::fence_proxy_async();  // read by the bulk copy engine after the next barrier
      } else {
        red_dq(dqa, i0, h);
      }
    }
    if constexpr (PIPE) {
      sm90::wait_group<0>();
      sm90::fence_operand(dqa);
      red_dq(dqa, pend_i0, pend_h);
    }
    if constexpr (BULK) {
      __syncthreads();
      bulk_dq(total - 1);
      if (tid < Tr::kDqRows) bulk_wait_all();
    }
  }

  T* dK = static_cast<T*>(bp.dk);
  T* dV = static_cast<T*>(bp.dv);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = j0 + krow + warp * 16 + (lane >> 2) + 8 * r;
    if (j < bi.sk) {
      const int64_t row = bi.k_start + j;
#pragma unroll
      for (int jn = 0; jn < D / 8; ++jn) {
        const int c = jn * 8 + (lane & 3) * 2;
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
