// FlashAttention forward for Hopper (sm_90a): wgmma (FA3-style) with a warp-specialized cp.async producer.
// One CTA per (Q tile of BM = 64 NWG rows, head, batch); NWG + 1 warpgroups:
//   warpgroup 0 = producer (setmaxnreg.dec): loads Q with the first K tile, then streams K / V tiles (BN keys) into
//     STAGES shared-memory stages (128-byte swizzle, wgmma.cuh) with cp.async; after each tile's copies land it runs
//     fence.proxy.async and arrives on that stage's "full" mbarrier (K and V have separate barriers), and it waits on
//     the stage's "empty" mbarrier before overwriting it.
//   warpgroups 1..NWG = consumers (setmaxnreg.inc), 64 query rows each: S = Q K^T as SS wgmma (Q and K K-major),
//     online softmax in registers (log2 domain, scale / softcap / masks exactly as the sm80 kernel: block_info.cuh),
//     P converted in registers to the RS A-fragment, O += P V as RS wgmma with V the MN-major B operand.
//     Intra-warpgroup overlap (FA3): S(n+1) = Q K(n+1)^T and O += P(n) V(n) are issued back to back (O rescaled
//     between them), the softmax of S(n+1) runs while the P V wgmma is in flight.
// Key tiles run from last to first (boundary tiles first), only tiles that straddle the mask / sequence end are
// masked. Rows that see no key: O = 0, LSE = -inf. Columns past d_qk / d_v are zero-filled (bucket of the larger).
#pragma once
#include "../block_info.cuh"
#include "wgmma.cuh"

namespace flash {
namespace sm90 {

template <typename T, int D, int NWG, int BN, int STAGES>
struct FwdSm90Traits {
  static constexpr int BM = 64 * NWG;
  static constexpr int kThreads = (NWG + 1) * 128;
  static constexpr int kQBytes = BM * D * 2;
  static constexpr int kKVBytes = BN * D * 2;  // one K or V stage
  static constexpr int kBarOff = kQBytes + 2 * STAGES * kKVBytes;
  static constexpr int kSmem = kBarOff + 4 * STAGES * 8 + 1024;  // + barriers + alignment slack
  // setmaxnreg budgets (multiples of 8; total <= 64K registers per CTA)
  static constexpr int kProducerRegs = NWG == 2 ? 40 : 32;
  static constexpr int kConsumerRegs = NWG == 2 ? 232 : 160;
  static_assert(D % 64 == 0 && BN % 16 == 0 && BN <= 256 && D <= 256, "tile shape");
  static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * NWG <= 65536, "register budget");
};

// Named barriers 1 and 2 (0 is __syncthreads) order the two consumer warpgroups' wgmma issue (pingpong).
__device__ __forceinline__ void named_bar_sync(int id, int n) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int n) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}

// PP (pingpong, NWG == 2 only): the two consumer warpgroups take turns issuing their GEMMs (FA3's
// warp_scheduler_barrier): warpgroup g waits on named barrier 1 + g before each issue phase and arrives on the other
// one after it, so one warpgroup's softmax runs while the other's GEMMs occupy the tensor cores.
template <typename T, int D, int NWG, int BN, int STAGES, bool PP>
__global__ void __launch_bounds__((NWG + 1) * 128, 1) flash_fwd_sm90_kernel(const FlashFwdParams p) {
#ifdef FLASH_SM90_ARCH
  using Tr = FwdSm90Traits<T, D, NWG, BN, STAGES>;
  constexpr int BM = Tr::BM;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t sbase = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = sbase;
  const uint32_t sK0 = sQ + Tr::kQBytes;                         // stage s: sK0 + s * kKVBytes
  const uint32_t sV0 = sK0 + STAGES * Tr::kKVBytes;              // stage s: sV0 + s * kKVBytes
  const uint32_t bar = sbase + Tr::kBarOff;                      // k_full[s], k_empty[s], v_full[s], v_empty[s]
  auto k_full = [&](int s) { return bar + 8 * s; };
  auto k_empty = [&](int s) { return bar + 8 * (STAGES + s); };
  auto v_full = [&](int s) { return bar + 8 * (2 * STAGES + s); };
  auto v_empty = [&](int s) { return bar + 8 * (3 * STAGES + s); };

  const int tid = threadIdx.x;
  const int h = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // last Q tiles first: under causal masks they are the longest
  if (m0 >= bi.sq) return;
  const int hk = h / (p.h_q / p.h_kv);
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int mlast = min(m0 + BM, bi.sq) - 1;
  int nmin, nmax;  // key tiles [nmin, nmax)
  mask.key_tiles(m0, mlast, BN, nmin, nmax);
  const int ntiles = nmax - nmin;

  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(k_full(s), 128);
      mbar_init(v_full(s), 128);
      mbar_init(k_empty(s), 128 * NWG);
      mbar_init(v_empty(s), 128 * NWG);
    }
  }
  __syncthreads();

  const int wg = tid / 128;
  if (wg == 0) {
    // ------------------------------------------------ producer ------------------------------------------------------
    warpgroup_reg_dealloc<Tr::kProducerRegs>();
    if (ntiles <= 0) return;
    const int ptid = tid;
    const T* Q = static_cast<const T*>(p.q);
    const T* K = static_cast<const T*>(p.k);
    const T* V = static_cast<const T*>(p.v);
    const int64_t qs = (int64_t)p.h_q * p.d_qk, ks = (int64_t)p.h_kv * p.d_qk, vs = (int64_t)p.h_kv * p.d_v;
    const T* gK = K + (int64_t)bi.k_start * ks + (int64_t)hk * p.d_qk;
    const T* gV = V + (int64_t)bi.k_start * vs + (int64_t)hk * p.d_v;
    const int qch = p.d_qk >> 3, vch = p.d_v >> 3;
    // Tile i (key tile nmax - 1 - i) goes to stage i % STAGES; one cp.async group for K, one for V. Order per
    // iteration i: K(i+1) issued, then K(i) and V(i) signalled, then V(i+1) issued (signalling tile i before waiting
    // on V(i+1)'s empty barrier, which the consumers release only after they got tile i: no deadlock).
    auto issue_k = [&](int i) {
      const int s = i % STAGES, n = nmax - 1 - i;
      mbar_wait(k_empty(s), ((i / STAGES) & 1) ^ 1);
      load_tile_sw128<T, BN, D, 128>(sK0 + s * Tr::kKVBytes, gK + (int64_t)n * BN * ks, ks, bi.sk - n * BN, qch, ptid, K);
      cp_async_commit();
    };
    auto issue_v = [&](int i) {
      const int s = i % STAGES, n = nmax - 1 - i;
      mbar_wait(v_empty(s), ((i / STAGES) & 1) ^ 1);
      load_tile_sw128<T, BN, D, 128>(sV0 + s * Tr::kKVBytes, gV + (int64_t)n * BN * vs, vs, bi.sk - n * BN, vch, ptid, V);
      cp_async_commit();
    };
    // Q joins tile 0's K group.
    load_tile_sw128<T, BM, D, 128>(sQ, Q + (int64_t)(bi.q_start + m0) * qs + (int64_t)h * p.d_qk, qs, bi.sq - m0, qch,
                                   ptid, Q);
    issue_k(0);
    issue_v(0);
    for (int i = 0; i < ntiles; ++i) {
      const int s = i % STAGES;
      if (i + 1 < ntiles) {
        issue_k(i + 1);
        cp_async_wait<2>();  // K(i) landed; V(i), K(i+1) may be in flight
        fence_proxy_async();
        mbar_arrive(k_full(s));
        cp_async_wait<1>();  // V(i) landed
        fence_proxy_async();
        mbar_arrive(v_full(s));
        issue_v(i + 1);
      } else {
        cp_async_wait<1>();
        fence_proxy_async();
        mbar_arrive(k_full(s));
        cp_async_wait<0>();
        fence_proxy_async();
        mbar_arrive(v_full(s));
      }
    }
    return;
  }

  // -------------------------------------------------- consumers -----------------------------------------------------
  warpgroup_reg_alloc<Tr::kConsumerRegs>();
  const int ctid = tid - 128 * wg, warp = ctid / 32, lane = ctid % 32;
  const int g = wg - 1;            // consumer index: rows 64 g .. 64 g + 63 of the Q tile
  const int wrow = 64 * g + 16 * warp;  // first tile row of this warp
  const ScoreXform sx(p.scale, p.softcap);
  const int r_lo = m0 + 64 * g, r_hi = min(m0 + 64 * g + 63, bi.sq - 1);  // this warpgroup's valid rows

  float acc_o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) acc_o[i] = 0.f;
  float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};
  uint32_t pa[BN / 16][4];  // P (A-fragments) of the tile whose P V is next

  // Mask + transform + online softmax of s (tile with first key j0), in place: s becomes P (f32); returns the O
  // rescale factors in corr. P is packed into A-fragments only after the previous P V wgmma completed (packing while
  // it runs would define wgmma input registers inside its pipeline stage: ptxas serializes, C7513).
  auto softmax = [&](float (&s)[BN / 2], int j0, float (&corr)[2]) {
    if (sx.transform) {
#pragma unroll
      for (int e = 0; e < BN / 2; ++e) {
        float th;
        s[e] = sx.apply(s[e], th);
      }
    }
    if (r_lo <= r_hi && !mask.tile_full(r_lo, r_hi, j0, j0 + BN - 1)) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        int lo, hi;
        mask.row_bounds(m0 + wrow + (lane >> 2) + r * 8, lo, hi);
        const int base = j0 + (lane & 3) * 2;
        lo = lo == INT_MIN ? INT_MIN : lo - base;
        hi -= base;
#pragma unroll
        for (int j = 0; j < BN / 8; ++j)
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const int jj = j * 8 + c;
            if (jj < lo || jj > hi) s[4 * j + 2 * r + c] = -INFINITY;
          }
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) mx = fmaxf(mx, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
      mx = quad_max(mx);
      const float mnew = fmaxf(row_m[r], mx);
      const float mref = mnew == -INFINITY ? 0.f : mnew * sx.mult;
      corr[r] = fast_exp2(row_m[r] * sx.mult - mref);
      row_m[r] = mnew;
      float l = row_l[r] * corr[r];
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) {
        const float p0 = fast_exp2(fmaf(s[4 * j + 2 * r], sx.mult, -mref));
        const float p1 = fast_exp2(fmaf(s[4 * j + 2 * r + 1], sx.mult, -mref));
        s[4 * j + 2 * r] = p0;
        s[4 * j + 2 * r + 1] = p1;
        l += p0 + p1;
      }
      row_l[r] = l;
    }
  };
  auto pack_p = [&](const float (&s)[BN / 2]) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      pa[kk][0] = pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
      pa[kk][1] = pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
      pa[kk][2] = pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
      pa[kk][3] = pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
    }
  };
  auto rescale_o = [&](const float (&corr)[2]) {
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      acc_o[4 * j + 0] *= corr[0];
      acc_o[4 * j + 1] *= corr[0];
      acc_o[4 * j + 2] *= corr[1];
      acc_o[4 * j + 3] *= corr[1];
    }
  };
  auto issue_s = [&](float (&s)[BN / 2], int stage) {
    const uint64_t dq = desc_kmajor<BM>(sQ, 64 * g, 0);
    const uint64_t dk = desc_kmajor<BN>(sK0 + stage * Tr::kKVBytes, 0, 0);
#pragma unroll
    for (int kst = 0; kst < D / 16; ++kst) {
      // k-step kst: panel kst / 4 (+ ROWS * 128 bytes each), 32 bytes per k-step inside the panel
      const uint32_t qo = (kst / 4) * BM * 128 + (kst % 4) * 32, ko = (kst / 4) * BN * 128 + (kst % 4) * 32;
      wgmma_ss<T, BN, 0, 0>(s, desc_add(dq, qo), desc_add(dk, ko), kst > 0);
    }
  };
  auto issue_pv = [&](int stage) {
    const uint64_t dv = desc_mnmajor<BN>(sV0 + stage * Tr::kKVBytes, 0, 0);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) wgmma_rs<T, D, 1>(acc_o, pa[kk], desc_add(dv, kk * 16 * 128), 1);
  };

  static_assert(!PP || NWG == 2, "pingpong needs two consumer warpgroups");
  // Issue phases per warpgroup: ntiles + 1 (first S, ntiles - 1 x (S, P V), last P V). Warpgroup 1 arrives once up
  // front so warpgroup 0 goes first, and skips its arrive in its last phase, so every barrier phase completes.
  auto pp_begin = [&]() {
    if (PP) named_bar_sync(1 + g, 256);
  };
  auto pp_end = [&](bool last) {
    if (PP && !(last && g == 1)) named_bar_arrive(2 - g, 256);
  };
  if (PP && g == 1 && ntiles > 0) named_bar_arrive(1, 256);
  if (ntiles > 0) {
    float corr[2];
    {  // first tile: S, softmax (O = 0: its rescale is harmless)
      float s[BN / 2];
      mbar_wait(k_full(0), 0);
      pp_begin();
      fence();
      issue_s(s, 0);
      commit_group();
      pp_end(false);
      wait_group<0>();
      fence_operand(s);
      mbar_arrive(k_empty(0));
      softmax(s, (nmax - 1) * BN, corr);
      pack_p(s);
    }
    // FA3 order per tile i: S(i) issued; O rescaled (by tile i-1's factors) while it runs; O += P(i-1) V(i-1)
    // issued; S(i) waited; softmax(S(i)) while P V runs; P V waited; P(i) packed.
    for (int i = 1; i < ntiles; ++i) {
      const int s_cur = i % STAGES, s_prev = (i - 1) % STAGES;
      float s[BN / 2];
      mbar_wait(k_full(s_cur), (i / STAGES) & 1);
      pp_begin();
      fence();
      issue_s(s, s_cur);
      commit_group();
      rescale_o(corr);
      mbar_wait(v_full(s_prev), ((i - 1) / STAGES) & 1);
      fence();
      issue_pv(s_prev);
      commit_group();
      pp_end(false);
      wait_group<1>();  // S done, P V may run on
      fence_operand(s);
      mbar_arrive(k_empty(s_cur));
      softmax(s, (nmax - 1 - i) * BN, corr);
      // Pin the softmax before the wait (the compiler may otherwise sink it below wait_group: no overlap).
      fence_operand(s);
      fence_operand(corr);
      fence_operand(row_l);
      wait_group<0>();
      fence_operand(acc_o);
      mbar_arrive(v_empty(s_prev));
      pack_p(s);
    }
    {  // last P V
      const int s_last = (ntiles - 1) % STAGES;
      rescale_o(corr);
      mbar_wait(v_full(s_last), ((ntiles - 1) / STAGES) & 1);
      pp_begin();
      fence();
      issue_pv(s_last);
      commit_group();
      pp_end(true);
      wait_group<0>();
      fence_operand(acc_o);
      mbar_arrive(v_empty(s_last));
    }
  }

  // Epilogue: normalize, write O (zeros for rows that saw no key) and LSE (-inf for those rows).
  T* O = static_cast<T*>(p.out);
  const int64_t os = (int64_t)p.h_q * p.d_v;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = quad_sum(row_l[r]);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int i = m0 + wrow + (lane >> 2) + r * 8;
    if (i < bi.sq) {
      T* orow = O + (int64_t)(bi.q_start + i) * os + (int64_t)h * p.d_v;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const int c = j * 8 + (lane & 3) * 2;
        if (c < p.d_v) {
          const uint32_t v = pack2<T>(acc_o[4 * j + 2 * r] * inv, acc_o[4 * j + 2 * r + 1] * inv);
          *reinterpret_cast<uint32_t*>(orow + c) = v;
        }
      }
      if (p.lse != nullptr && (lane & 3) == 0) {
        const float lse = l > 0.f ? (row_m[r] * sx.mult + log2f(l)) * kLn2 : -INFINITY;
        p.lse[(int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride +
              (p.lse_varlen_rows ? bi.q_start : 0) + i] = lse;
      }
    }
  }
#endif
}

}  // namespace sm90
}  // namespace flash
