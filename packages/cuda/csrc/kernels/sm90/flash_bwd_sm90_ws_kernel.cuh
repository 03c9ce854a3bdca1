// Hopper (sm_90a) FlashAttention backward, warp-specialized variant ("WS", v7; tuning candidate for D = 64).
// Same math as flash_bwd_sm90_kernel.cuh (read that first) with the two consumer warpgroups decoupled:
//   warpgroup 0 = producer (setmaxnreg.dec): loads K / V once and streams Q / dO / LSE / D tiles (BMQ rows) into
//     kStages stages with cp.async; after a tile's copies land it runs fence.proxy.async and arrives on the stage's
//     "full" mbarrier; it waits on the stage's "empty" mbarrier (arrived by every consumer thread once it no longer
//     reads the stage) before overwriting it.
//   warpgroups 1, 2 = consumers (setmaxnreg.inc), 64 keys each. Per Q tile: S^T, dP^T (SS), P^T, dS^T (registers),
//     dV += P^T dO, dK += dS^T Q (RS), then the warpgroup's OWN partial dQ = dS[:, own keys] K[own keys, :]
//     (BMQ / 64 wgmmas of m64 x D x k64, A = this warpgroup's 64 rows of the dS^T tile in shared memory, read
//     M-major) added to the f32 accumulator with RED.ADD.v2. No barrier couples the two consumer warpgroups (the
//     dS^T rows a warpgroup writes are read only by its own wgmma: fence.proxy.async + a 128-thread named barrier),
//     so one warpgroup's elementwise part can overlap the other's GEMMs. Cost: twice the RED traffic of the shared
//     dS^T scheme (each warpgroup adds BMQ x D partial sums instead of half of them).
//   dS^T is double-buffered by tile parity: a warp writes tile it+2's dS^T only after the named barrier of tile it+1,
//   which every warp of its warpgroup reaches after waiting for its tile-it dQ wgmmas (which read that buffer).
#pragma once
#include <type_traits>
#include "../block_info.cuh"
#include "../utils.cuh"
#include "bwd_sm90_ops.cuh"
#include "flash_bwd_sm90_kernel.cuh"  // kdesc, mndesc, opaque

namespace flash {
namespace sm90bwd {

template <int D, int BMQ>
struct WsTraits {
  static constexpr int kStages = 3;
  static constexpr int BN = 128, kThreads = 384;
  static_assert(D == 64 && (BMQ == 64 || BMQ == 128), "WS variant: D = 64, BMQ = 64 or 128");
  static constexpr int kTileK = BN * D * 2, kTileQ = BMQ * D * 2, kTileS = BN * BMQ * 2;
  static constexpr int oK = 0, oV = kTileK, oQ = 2 * kTileK, odO = oQ + kStages * kTileQ,
                       oS = odO + kStages * kTileQ, oL = oS + 2 * kTileS, oD = oL + kStages * BMQ * 4,
                       oBar = oD + kStages * BMQ * 4;
  static constexpr int kSmem = oBar + 2 * kStages * 8 + 1024;  // + full/empty mbarriers + alignment slack
#ifndef FLASH_WS_PREGS
#define FLASH_WS_PREGS 40
#define FLASH_WS_CREGS 232
#endif
  static constexpr int kProducerRegs = FLASH_WS_PREGS, kConsumerRegs = FLASH_WS_CREGS;
  static_assert(kProducerRegs + 2 * kConsumerRegs <= 512, "register budget");
};

__device__ __forceinline__ void ws_bar_sync(int id, int n) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void ws_bar_arrive(int id, int n) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}

// PP: the two consumer warpgroups take turns issuing their S^T / dP^T GEMMs (named barriers 3 and 4, FA3's
// warp_scheduler_barrier as in the sm90 forward), so one warpgroup's elementwise part runs under the other's GEMMs.
template <typename T, int D, int BMQ, bool PP>
__global__ void __launch_bounds__(384, 1)
    flash_bwd_sm90_ws_kernel(const FlashBwdParams bp, const float* __restrict__ dsum, float* __restrict__ dq_accum) {
#ifdef FLASH_SM90_ARCH
  using Tr = WsTraits<D, BMQ>;
  constexpr int NST = Tr::kStages;
  constexpr int BN = Tr::BN;
  constexpr int NS = BMQ / 2;   // S^T, dP^T accumulator floats per thread (m64 x BMQ)
  constexpr int NA = D / 2;     // dK, dV, each dQ half (m64 x D)
  constexpr int NH = BMQ / 64;  // dQ query halves
  constexpr int KQ = BMQ / 16;
  const FlashFwdParams& p = bp.fwd;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t sraw = smem_u32(smem_raw);
  const uint32_t sbase = (sraw + 1023u) & ~1023u;
  unsigned char* sgen = smem_raw + (sbase - sraw);
  const uint32_t sK = sbase + Tr::oK, sV = sbase + Tr::oV, sQ0 = sbase + Tr::oQ, sdO0 = sbase + Tr::odO,
                 sdS0 = sbase + Tr::oS, bar = sbase + Tr::oBar;
  float* sL0 = reinterpret_cast<float*>(sgen + Tr::oL);
  float* sD0 = reinterpret_cast<float*>(sgen + Tr::oD);
  auto full = [&](int s) { return bar + 8 * s; };
  auto empty = [&](int s) { return bar + 8 * (NST + s); };

  const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const int hk = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int j0 = blockIdx.x * BN;
  if (j0 >= bi.sk) return;
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int jlast = min(j0 + BN, bi.sk) - 1;
  int qlo, qhi;
  mask.query_range(j0, jlast, bi.sq, qlo, qhi);
  const int mmin = qlo / BMQ;
  const int nm = qhi > qlo ? (qhi + BMQ - 1) / BMQ - mmin : 0;
  const int group = p.h_q / p.h_kv;
  const int total = group * nm;

  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  const T* dO = static_cast<const T*>(bp.dout);
  const int64_t qs = (int64_t)p.h_q * p.d_qk, ks = (int64_t)p.h_kv * p.d_qk, vs = (int64_t)p.h_kv * p.d_v,
                os = (int64_t)p.h_q * p.d_v;
  const int qch = p.d_qk >> 3, vch = p.d_v >> 3;

  if (tid == 0) {
    for (int s = 0; s < NST; ++s) {
      sm90::mbar_init(full(s), 128);
      sm90::mbar_init(empty(s), 256);
    }
  }
  __syncthreads();

  if (wg == 0) {
    // ------------------------------------------------ producer ------------------------------------------------------
    sm90::warpgroup_reg_dealloc<Tr::kProducerRegs>();
    if (total <= 0) return;
    auto issue = [&](int it) {
      const int st = it % NST;
      sm90::mbar_wait(empty(st), ((it / NST) & 1) ^ 1);
      const int g = it / nm, m = mmin + it % nm;
      const int h = hk * group + g, i0 = m * BMQ;
      const int64_t row0 = bi.q_start + i0;
      sm90::load_tile_sw128<T, BMQ, D, 128>(sQ0 + st * Tr::kTileQ, Q + row0 * qs + (int64_t)h * p.d_qk, qs,
                                            bi.sq - i0, qch, tid, Q);
      sm90::load_tile_sw128<T, BMQ, D, 128>(sdO0 + st * Tr::kTileQ, dO + row0 * os + (int64_t)h * p.d_v, os,
                                            bi.sq - i0, vch, tid, dO);
      // raw LSE (rows past the sequence: 0; they have Q = dO = 0 so contribute nothing) and D
      for (int t = tid; t < BMQ; t += 128) {
        const int i = i0 + t;
        const bool ok = i < bi.sq;
        const float* src = p.lse + (int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride +
                           (p.lse_varlen_rows ? bi.q_start : 0) + i;
        cp_async4(smem_u32(sL0 + st * BMQ + t), ok ? src : p.lse, ok ? 4 : 0);
        cp_async4(smem_u32(sD0 + st * BMQ + t), ok ? dsum + (int64_t)(bi.q_start + i) * p.h_q + h : dsum, ok ? 4 : 0);
      }
      cp_async_commit();
    };
    // K and V join tile 0's group.
    sm90::load_tile_sw128<T, BN, D, 128>(sK, K + (int64_t)(bi.k_start + j0) * ks + (int64_t)hk * p.d_qk, ks,
                                         bi.sk - j0, qch, tid, K);
    sm90::load_tile_sw128<T, BN, D, 128>(sV, V + (int64_t)(bi.k_start + j0) * vs + (int64_t)hk * p.d_v, vs,
                                         bi.sk - j0, vch, tid, V);
    issue(0);
    for (int it = 0; it < total; ++it) {
      // Tile it+1 is issued before tile it is signalled: its empty wait needs tile it+1-NST <= it-2 released, which
      // needs only tiles <= it-2 full (already signalled), so no deadlock.
      if (it + 1 < total) {
        issue(it + 1);
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      sm90::fence_proxy_async();
      sm90::mbar_arrive(full(it % NST));
    }
    return;
  }

  // -------------------------------------------------- consumers ------------------------------------------------------
  sm90::warpgroup_reg_alloc<Tr::kConsumerRegs>();
  const int c = wg - 1;
  const int krow = c * 64;  // this warpgroup's keys within the tile
  const ScoreXform sx(p.scale, p.softcap);
  float acc_dk[NA], acc_dv[NA];
#pragma unroll
  for (int i = 0; i < NA; ++i) acc_dk[i] = acc_dv[i] = 0.f;
  // PP: warpgroup c waits on barrier 3 + c before its S^T / dP^T issue and arrives on 4 - c after it; warpgroup 1
  // arrives once up front (warpgroup 0 goes first) and skips its last arrive, so every barrier phase completes.
  if (PP && c == 1 && total > 0) ws_bar_arrive(3, 256);

  for (int it = 0; it < total; ++it) {
    const int st = it % NST;
    const int g = it / nm, i0 = (mmin + it % nm) * BMQ;
    const int h = hk * group + g;
    const uint32_t sQ = sQ0 + st * Tr::kTileQ, sdO = sdO0 + st * Tr::kTileQ;
    const uint32_t sdS = sdS0 + (it & 1) * Tr::kTileS;
    const float* sL = sL0 + st * BMQ;
    const float* sD = sD0 + st * BMQ;
    sm90::mbar_wait(full(st), (it / NST) & 1);

    const uint64_t dK0 = opaque(kdesc(sK + krow * 128)), dV0 = opaque(kdesc(sV + krow * 128));
    const uint64_t dQ0 = opaque(kdesc(sQ)), ddO0 = opaque(kdesc(sdO));
    float s[NS], dp[NS];
    if (PP) ws_bar_sync(3 + c, 256);
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
    if (PP && !(c == 1 && it == total - 1)) ws_bar_arrive(4 - c, 256);
    sm90::wait_group<0>();
    sm90::fence_operand(s);
    sm90::fence_operand(dp);

    const bool need_mask = !mask.tile_full(i0, min(i0 + BMQ, bi.sq) - 1, j0, j0 + BN - 1);
    int lo[2], hi[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      lo[r] = INT_MIN; hi[r] = INT_MAX;
      if (need_mask) {
        mask.col_bounds(j0 + krow + warp * 16 + (lane >> 2) + r * 8, lo[r], hi[r]);
        const int base = i0 + (lane & 3) * 2;
        lo[r] = lo[r] == INT_MIN ? INT_MIN : lo[r] - base;
        hi[r] = hi[r] == INT_MAX ? INT_MAX : hi[r] == INT_MIN ? INT_MIN : hi[r] - base;
      }
    }
    uint32_t pP[KQ][4], pS[KQ][4];
#pragma unroll
    for (int jn = 0; jn < BMQ / 8; ++jn) {
      const float2 l2 = *reinterpret_cast<const float2*>(sL + jn * 8 + (lane & 3) * 2);
      const float2 d2 = *reinterpret_cast<const float2*>(sD + jn * 8 + (lane & 3) * 2);
      const float nl0 = l2.x == -INFINITY ? -INFINITY : -l2.x * kLog2e;
      const float nl1 = l2.y == -INFINITY ? -INFINITY : -l2.y * kLog2e;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float t = s[4 * jn + e], th = 0.f;
        if (sx.transform) t = sx.apply(t, th);
        const int ii = jn * 8 + (e & 1);
        const bool vis = ii >= lo[e >> 1] && ii <= hi[e >> 1];
        const float pr = vis ? fast_exp2(fmaf(t, sx.mult, (e & 1) ? nl1 : nl0)) : 0.f;
        float ds = pr * (dp[4 * jn + e] - ((e & 1) ? d2.y : d2.x));
        if (sx.cap > 0.f) ds *= 1.f - th * th;
        s[4 * jn + e] = pr;
        dp[4 * jn + e] = ds;
      }
    }
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk) {
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        pP[kk][q] = pack2<T>(s[8 * kk + 2 * q], s[8 * kk + 2 * q + 1]);
        pS[kk][q] = pack2<T>(dp[8 * kk + 2 * q], dp[8 * kk + 2 * q + 1]);
      }
    }

    const uint64_t ddOt = opaque(mndesc(sdO, BMQ * 128)), dQt = opaque(mndesc(sQ, BMQ * 128));
    sm90::fence();
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk) sm90::wgmma_rs<T, D, 1>(acc_dv, pP[kk], sm90::desc_add(ddOt, kk * 2048), 1);
    sm90::commit_group();
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk) sm90::wgmma_rs<T, D, 1>(acc_dk, pS[kk], sm90::desc_add(dQt, kk * 2048), 1);
    sm90::commit_group();

    // This warpgroup's dS^T rows -> shared memory [BN keys][BMQ queries] (swizzled), buffer it & 1.
#pragma unroll
    for (int jn = 0; jn < BMQ / 8; ++jn)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int kr = krow + warp * 16 + (lane >> 2) + 8 * r, qc = jn * 8 + (lane & 3) * 2;
        *reinterpret_cast<uint32_t*>(sgen + Tr::oS + (it & 1) * Tr::kTileS + sm90::sw128_offset(BN, kr, qc)) =
            pS[jn >> 1][(jn & 1) * 2 + r];
      }
    sm90::fence_proxy_async();
    ws_bar_sync(1 + c, 128);

    // dQ_partial[query half hq] (m64 x D) = dS[hq queries, own keys] K[own keys, :]: A = dS^T panel hq read
    // M-major (rows = keys krow.., 16 per k-step), B = K rows krow.. N-major.
    // dV / dK wgmmas done first (in-order tensor pipe: costs only the issue bubble) so that pP / pS are free while
    // the dQ accumulators are live (register budget).
    sm90::wait_group<0>();
    sm90::fence_operand(acc_dk);
    sm90::fence_operand(acc_dv);
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk) { sm90::fence_operand(pP[kk]); sm90::fence_operand(pS[kk]); }
    float dqa[NH][NA];
    const uint64_t dS0 = opaque(mndesc(sdS, BN * 128)), dKt = opaque(mndesc(sK, BN * 128));
    sm90::fence();
#pragma unroll
    for (int hq = 0; hq < NH; ++hq)
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
        sm90::wgmma_ss<T, D, 1, 1>(dqa[hq], sm90::desc_add(dS0, hq * BN * 128 + (c * 4 + kk) * 2048),
                                   sm90::desc_add(dKt, (c * 4 + kk) * 2048), kk > 0);
    sm90::commit_group();
    sm90::wait_group<0>();
#pragma unroll
    for (int hq = 0; hq < NH; ++hq) sm90::fence_operand(dqa[hq]);
    sm90::mbar_arrive(empty(st));  // Q / dO / LSE / D of this stage no longer read by this thread

#pragma unroll
    for (int hq = 0; hq < NH; ++hq)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int i = i0 + hq * 64 + warp * 16 + (lane >> 2) + 8 * r;
        if (i < bi.sq) {
          float* row = dq_accum + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_qk;
#pragma unroll
          for (int jn = 0; jn < D / 8; ++jn) {
            const int cc = jn * 8 + (lane & 3) * 2;
            if (cc < p.d_qk) red_add_v2(row + cc, dqa[hq][4 * jn + 2 * r], dqa[hq][4 * jn + 2 * r + 1]);
          }
        }
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
        const int cc = jn * 8 + (lane & 3) * 2;
        if (cc < p.d_qk)
          *reinterpret_cast<uint32_t*>(dK + row * ks + (int64_t)hk * p.d_qk + cc) =
              pack2<T>(acc_dk[4 * jn + 2 * r] * p.scale, acc_dk[4 * jn + 2 * r + 1] * p.scale);
        if (cc < p.d_v)
          *reinterpret_cast<uint32_t*>(dV + row * vs + (int64_t)hk * p.d_v + cc) =
              pack2<T>(acc_dv[4 * jn + 2 * r], acc_dv[4 * jn + 2 * r + 1]);
      }
    }
  }
#endif
}

}  // namespace sm90bwd
}  // namespace flash
