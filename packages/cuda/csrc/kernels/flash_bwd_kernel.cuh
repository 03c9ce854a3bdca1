// FlashAttention-2 backward on tensor cores, race-free (deterministic in both modes):
//  * dq kernel: one block per (Q tile, head, batch), warps own 16 query rows; streams K/V tiles (2-stage cp.async),
//    recomputes S = Q K^T and dP = dO V^T, dS = P (dP - D), dQ += dS K (K read with ldmatrix.trans).
//  * dkdv kernel: one block per (K/V tile, kv head, batch), warps own 16 key rows; loops over the query heads of the
//    GQA group and the Q tiles that can see the tile (2-stage cp.async for Q, dO, LSE, D); computes S^T = K Q^T and
//    dP^T = V dO^T directly in the key-row layout so P^T / dS^T are already A operands: dV += P^T dO,
//    dK += dS^T Q. GQA sums over the group inside the block: no atomics, no dK/dV workspace.
//  Head dims > 128 split dK and dV into two passes (template flags) to stay within 255 registers.
#pragma once
#include "block_info.cuh"
#include "bwd_p_ds.cuh"
#include "tile_io.cuh"

namespace flash {

template <typename T, int D, int BN, int NW, int MT = 1>
struct DqTraits {
  static constexpr int BM = 16 * NW * MT;  // each warp owns MT m16 tiles of query rows
  static constexpr int kThreads = NW * 32;
  static constexpr int kSmem = (2 * BM + 4 * BN) * SmemRow<D>::kStride * (int)sizeof(T);
};

__device__ __forceinline__ float lse_log2(const FlashFwdParams& p, const BlockInfo& bi, int b, int h, int i) {
  const float l = p.lse[(int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride +
                        (p.lse_varlen_rows ? bi.q_start : 0) + i];
  return l == -INFINITY ? INFINITY : l * kLog2e;  // +inf makes P = 0 for rows that saw no key
}

// MT = m16 tiles per warp: every K/V fragment read from shared memory feeds MT MMAs (MT = 2 halves the
// ldmatrix traffic per MMA of the K/V operands, the bound of the MT = 1 kernel).
template <typename T, int D, int BN, int NW, int MT = 1>
__global__ void __launch_bounds__(NW * 32) flash_bwd_dq_kernel(const FlashBwdParams bp, const float* __restrict__ dsum) {
  using Tr = DqTraits<T, D, BN, NW, MT>;
  constexpr int BM = Tr::BM, THREADS = Tr::kThreads, NT = BN / 8, DT = D / 8, SR = SmemRow<D>::kStride;
  const FlashFwdParams& p = bp.fwd;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sdO = sQ + BM * SR;
  T* sK0 = sdO + BM * SR;  // [2][BN][SR]
  T* sV0 = sK0 + 2 * BN * SR;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int h = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // longest (causal) Q tiles first
  if (m0 >= bi.sq) return;
  const int hk = h / (p.h_q / p.h_kv);
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int mlast = min(m0 + BM, bi.sq) - 1;
  int nmin, nmax;  // key tiles [nmin, nmax)
  mask.key_tiles(m0, mlast, BN, nmin, nmax);

  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  const T* dO = static_cast<const T*>(bp.dout);
  const int64_t qs = (int64_t)p.h_q * p.d_qk, ks = (int64_t)p.h_kv * p.d_qk, vs = (int64_t)p.h_kv * p.d_v,
                os = (int64_t)p.h_q * p.d_v;
  const T* gQ = Q + (int64_t)(bi.q_start + m0) * qs + (int64_t)h * p.d_qk;
  const T* gdO = dO + (int64_t)(bi.q_start + m0) * os + (int64_t)h * p.d_v;
  const T* gK = K + (int64_t)bi.k_start * ks + (int64_t)hk * p.d_qk;
  const T* gV = V + (int64_t)bi.k_start * vs + (int64_t)hk * p.d_v;
  const int qch = p.d_qk >> 3, vch = p.d_v >> 3;
  const ScoreXform sx(p.scale, p.softcap);
  const int wrow = warp * 16 * MT;

  float rl[MT][2], rd[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = m0 + wrow + mt * 16 + (lane >> 2) + 8 * r;
      rl[mt][r] = i < bi.sq ? lse_log2(p, bi, b, h, i) : INFINITY;
      rd[mt][r] = i < bi.sq ? dsum[(int64_t)(bi.q_start + i) * p.h_q + h] : 0.f;
    }

  float acc[MT][DT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][dt][e] = 0.f;

  if (nmax > nmin) {
    load_tile<T, BM, D, THREADS>(sQ, gQ, qs, bi.sq - m0, qch, tid, Q);
    load_tile<T, BM, D, THREADS>(sdO, gdO, os, bi.sq - m0, vch, tid, dO);
    load_tile<T, BN, D, THREADS>(sK0, gK + (int64_t)(nmax - 1) * BN * ks, ks, bi.sk - (nmax - 1) * BN, qch, tid, K);
    load_tile<T, BN, D, THREADS>(sV0, gV + (int64_t)(nmax - 1) * BN * vs, vs, bi.sk - (nmax - 1) * BN, vch, tid, V);
    cp_async_commit();
    const uint32_t sQa = smem_u32(sQ), sdOa = smem_u32(sdO);
    int st = 0;
    for (int n = nmax - 1; n >= nmin; --n, st ^= 1) {
      if (n > nmin) {
        T* nK = sK0 + (st ^ 1) * BN * SR;
        T* nV = sV0 + (st ^ 1) * BN * SR;
        load_tile<T, BN, D, THREADS>(nK, gK + (int64_t)(n - 1) * BN * ks, ks, bi.sk - (n - 1) * BN, qch, tid, K);
        load_tile<T, BN, D, THREADS>(nV, gV + (int64_t)(n - 1) * BN * vs, vs, bi.sk - (n - 1) * BN, vch, tid, V);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      const uint32_t sKa = smem_u32(sK0 + st * BN * SR), sVa = smem_u32(sV0 + st * BN * SR);

      float s[MT][NT][4], dp[MT][NT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] = dp[mt][nt][e] = 0.f;
#pragma unroll
      for (int kst = 0; kst < D / 16; ++kst) {
        {  // all k-steps: columns past the head dim are zero-filled
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(a[mt], sQa + 2 * a_frag_off<D>(wrow + mt * 16, kst * 16, lane));
#pragma unroll
          for (int np = 0; np < NT / 2; ++np) {
            uint32_t bb[4];
            ldmatrix_x4(bb, sKa + 2 * b_frag_off<D>(np * 16, kst * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(s[mt][2 * np], a[mt], bb[0], bb[1]);
              mma16816<T>(s[mt][2 * np + 1], a[mt], bb[2], bb[3]);
            }
          }
        }
        {  // all k-steps: columns past the head dim are zero-filled
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(a[mt], sdOa + 2 * a_frag_off<D>(wrow + mt * 16, kst * 16, lane));
#pragma unroll
          for (int np = 0; np < NT / 2; ++np) {
            uint32_t bb[4];
            ldmatrix_x4(bb, sVa + 2 * b_frag_off<D>(np * 16, kst * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(dp[mt][2 * np], a[mt], bb[0], bb[1]);
              mma16816<T>(dp[mt][2 * np + 1], a[mt], bb[2], bb[3]);
            }
          }
        }
      }

      const int j0 = n * BN;
      const bool need_mask = !mask.tile_full(m0, mlast, j0, j0 + BN - 1);
      uint32_t pa[MT][BN / 16][4];  // dS as f16/bf16 A fragments (the C->A fragment identity)
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        int lo[2], hi[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          lo[r] = INT_MIN; hi[r] = INT_MAX;
          if (need_mask) {
            mask.row_bounds(m0 + wrow + mt * 16 + (lane >> 2) + r * 8, lo[r], hi[r]);
            lo[r] = lo[r] == INT_MIN ? INT_MIN : lo[r] - j0 - (lane & 3) * 2;
            hi[r] -= j0 + (lane & 3) * 2;
          }
        }
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            float t = s[mt][nt][e], th = 0.f;
            if (sx.transform) t = sx.apply(t, th);
            const int jj = nt * 8 + (e & 1);
            const bool vis = jj >= lo[e >> 1] && jj <= hi[e >> 1];
            const float pr = vis ? fast_exp2(fmaf(t, sx.mult, -rl[mt][e >> 1])) : 0.f;
            float ds = pr * (dp[mt][nt][e] - rd[mt][e >> 1]);
            if (sx.cap > 0.f) ds *= 1.f - th * th;
            s[mt][nt][e] = ds;
          }
#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk) {
          pa[mt][kk][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          pa[mt][kk][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          pa[mt][kk][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          pa[mt][kk][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
      }

#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
#pragma unroll
        for (int dq = 0; dq < D / 16; ++dq) {
          {  // all k-steps: columns past the head dim are zero-filled
            uint32_t bb[4];
            ldmatrix_x4_trans(bb, sKa + 2 * bt_frag_off<D>(kk * 16, dq * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(acc[mt][2 * dq], pa[mt][kk], bb[0], bb[1]);
              mma16816<T>(acc[mt][2 * dq + 1], pa[mt][kk], bb[2], bb[3]);
            }
          }
        }
      }
      __syncthreads();  // stage st is overwritten by the next iteration's prefetch
    }
  }

  T* dQ = static_cast<T*>(bp.dq);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = m0 + wrow + mt * 16 + (lane >> 2) + r * 8;
      if (i < bi.sq) {
        T* row = dQ + (int64_t)(bi.q_start + i) * qs + (int64_t)h * p.d_qk;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const int c = dt * 8 + (lane & 3) * 2;
          if (c < p.d_qk)
            *reinterpret_cast<uint32_t*>(row + c) =
                pack2<T>(acc[mt][dt][2 * r] * p.scale, acc[mt][dt][2 * r + 1] * p.scale);
        }
      }
    }
}

template <typename T, int D, int BMQ, int NW, int MT = 1>
struct DkdvTraits {
  static constexpr int BN = 16 * NW * MT;  // each warp owns MT m16 tiles of key rows
  static constexpr int kThreads = NW * 32;
  static constexpr int kSdsStride = BMQ + 8;  // dS^T staging [BN][BMQ + 8] (atomic-dQ variant)
  static constexpr int kSmemBase =
      (2 * BN + 4 * BMQ) * SmemRow<D>::kStride * (int)sizeof(T) + 4 * BMQ * (int)sizeof(float);
  static constexpr int kSmemAtomic = kSmemBase + BN * kSdsStride * (int)sizeof(T);
};

// DQ_ATOMIC (non-deterministic mode, D <= 128): the block also forms dQ_partial = dS K for each Q tile (dS^T staged
// in shared memory, 2-D warp tiling) and adds it to an f32 accumulator with RED.ADD; the dq kernel is skipped.
// MT = m16 tiles of key rows per warp (every Q / dO fragment read from shared memory feeds MT MMAs).
template <typename T, int D, int BMQ, int NW, bool DO_DK, bool DO_DV, bool DQ_ATOMIC, int MT = 1>
__global__ void __launch_bounds__(NW * 32)
    flash_bwd_dkdv_kernel(const FlashBwdParams bp, const float* __restrict__ dsum, float* __restrict__ dq_accum) {
  using Tr = DkdvTraits<T, D, BMQ, NW, MT>;
  constexpr int BN = Tr::BN, THREADS = Tr::kThreads, NT = BMQ / 8, DT = D / 8, SR = SmemRow<D>::kStride;
  const FlashFwdParams& p = bp.fwd;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sK = reinterpret_cast<T*>(smem_raw);
  T* sV = sK + BN * SR;
  T* sQ0 = sV + BN * SR;         // [2][BMQ][SR]
  T* sdO0 = sQ0 + 2 * BMQ * SR;  // [2][BMQ][SR]
  float* sL0 = reinterpret_cast<float*>(sdO0 + 2 * BMQ * SR);  // [2][BMQ]
  float* sD0 = sL0 + 2 * BMQ;                                  // [2][BMQ]
  T* sdS = reinterpret_cast<T*>(sD0 + 2 * BMQ);                // [BN][BMQ + 8] (DQ_ATOMIC)
  static_assert(!DQ_ATOMIC || (DO_DK && MT == 1 && NW == 8 && BMQ == 64 && (D / 2) % 16 == 0), "atomic dQ tiling");

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
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
  const int wrow = warp * 16 * MT;
  constexpr int KT = DO_DK ? DT : 1, VT = DO_DV ? DT : 1;

  float acc_k[MT][KT][4], acc_v[MT][VT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < KT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_k[mt][dt][e] = 0.f;
#pragma unroll
    for (int dt = 0; dt < VT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_v[mt][dt][e] = 0.f;
  }

  auto issue = [&](int it, int st) {
    const int g = it / nm, m = mmin + it % nm;
    const int h = hk * group + g, i0 = m * BMQ;
    const int64_t row0 = bi.q_start + i0;
    load_tile<T, BMQ, D, THREADS>(sQ0 + st * BMQ * SR, Q + row0 * qs + (int64_t)h * p.d_qk, qs, bi.sq - i0, qch, tid, Q);
    load_tile<T, BMQ, D, THREADS>(sdO0 + st * BMQ * SR, dO + row0 * os + (int64_t)h * p.d_v, os, bi.sq - i0, vch, tid,
                                  dO);
    for (int t = tid; t < BMQ; t += THREADS) {
      const int i = i0 + t;
      sL0[st * BMQ + t] = i < bi.sq ? lse_log2(p, bi, b, h, i) : INFINITY;
      sD0[st * BMQ + t] = i < bi.sq ? dsum[(int64_t)(bi.q_start + i) * p.h_q + h] : 0.f;
    }
  };

  if (total > 0) {
    const T* gK = K + (int64_t)(bi.k_start + j0) * ks + (int64_t)hk * p.d_qk;
    const T* gV = V + (int64_t)(bi.k_start + j0) * vs + (int64_t)hk * p.d_v;
    load_tile<T, BN, D, THREADS>(sK, gK, ks, bi.sk - j0, qch, tid, K);
    if (DO_DK) load_tile<T, BN, D, THREADS>(sV, gV, vs, bi.sk - j0, vch, tid, V);
    issue(0, 0);
    cp_async_commit();
    const uint32_t sKa = smem_u32(sK), sVa = smem_u32(sV);
    for (int it = 0; it < total; ++it) {
      const int st = it & 1;
      if (it + 1 < total) {
        issue(it + 1, st ^ 1);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      const int i0 = (mmin + it % nm) * BMQ;
      const uint32_t sQa = smem_u32(sQ0 + st * BMQ * SR), sdOa = smem_u32(sdO0 + st * BMQ * SR);
      const float* sL = sL0 + st * BMQ;
      const float* sD = sD0 + st * BMQ;

      constexpr int PT = DO_DK ? NT : 1;
      float s[MT][NT][4], dp[MT][PT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.f;
#pragma unroll
        for (int nt = 0; nt < PT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) dp[mt][nt][e] = 0.f;
      }

#pragma unroll
      for (int kst = 0; kst < D / 16; ++kst) {
        {  // all k-steps: columns past the head dim are zero-filled
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(a[mt], sKa + 2 * a_frag_off<D>(wrow + mt * 16, kst * 16, lane));
#pragma unroll
          for (int np = 0; np < NT / 2; ++np) {
            uint32_t bb[4];
            ldmatrix_x4(bb, sQa + 2 * b_frag_off<D>(np * 16, kst * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(s[mt][2 * np], a[mt], bb[0], bb[1]);
              mma16816<T>(s[mt][2 * np + 1], a[mt], bb[2], bb[3]);
            }
          }
        }
        if (DO_DK) {
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(a[mt], sVa + 2 * a_frag_off<D>(wrow + mt * 16, kst * 16, lane));
#pragma unroll
          for (int np = 0; np < NT / 2; ++np) {
            uint32_t bb[4];
            ldmatrix_x4(bb, sdOa + 2 * b_frag_off<D>(np * 16, kst * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(dp[mt][DO_DK ? 2 * np : 0], a[mt], bb[0], bb[1]);
              mma16816<T>(dp[mt][DO_DK ? 2 * np + 1 : 0], a[mt], bb[2], bb[3]);
            }
          }
        }
      }

      const bool need_mask = !mask.tile_full(i0, min(i0 + BMQ, bi.sq) - 1, j0, j0 + BN - 1);
      // P^T and dS^T as f16/bf16 A fragments (the C->A fragment identity of m16n8k16).
      uint32_t pP[MT][DO_DV ? BMQ / 16 : 1][4], pS[MT][DO_DK ? BMQ / 16 : 1][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        int lo[2], hi[2];  // visible query columns (tile-local, relative to this lane's first column) per key row
        key_row_col_bounds(mask, need_mask, j0 + wrow + mt * 16 + (lane >> 2), i0 + (lane & 3) * 2, lo, hi);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int il = nt * 8 + (lane & 3) * 2 + (e & 1);
            float t = s[mt][nt][e], th = 0.f;
            if (sx.transform) t = sx.apply(t, th);
            const int ii = nt * 8 + (e & 1);
            const bool vis = ii >= lo[e >> 1] && ii <= hi[e >> 1];
            const float pr = vis ? fast_exp2(fmaf(t, sx.mult, -sL[il])) : 0.f;
            s[mt][nt][e] = pr;
            if (DO_DK) {
              float ds = pr * (dp[mt][DO_DK ? nt : 0][e] - sD[il]);
              if (sx.cap > 0.f) ds *= 1.f - th * th;
              dp[mt][DO_DK ? nt : 0][e] = ds;
            }
          }
#pragma unroll
        for (int kk = 0; kk < BMQ / 16; ++kk) {
          if (DO_DV) {
            pP[mt][DO_DV ? kk : 0][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
            pP[mt][DO_DV ? kk : 0][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
            pP[mt][DO_DV ? kk : 0][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
            pP[mt][DO_DV ? kk : 0][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
          }
          if (DO_DK) {
            pS[mt][DO_DK ? kk : 0][0] = pack2<T>(dp[mt][DO_DK ? 2 * kk : 0][0], dp[mt][DO_DK ? 2 * kk : 0][1]);
            pS[mt][DO_DK ? kk : 0][1] = pack2<T>(dp[mt][DO_DK ? 2 * kk : 0][2], dp[mt][DO_DK ? 2 * kk : 0][3]);
            pS[mt][DO_DK ? kk : 0][2] = pack2<T>(dp[mt][DO_DK ? 2 * kk + 1 : 0][0], dp[mt][DO_DK ? 2 * kk + 1 : 0][1]);
            pS[mt][DO_DK ? kk : 0][3] = pack2<T>(dp[mt][DO_DK ? 2 * kk + 1 : 0][2], dp[mt][DO_DK ? 2 * kk + 1 : 0][3]);
          }
        }
      }

#pragma unroll
      for (int kk = 0; kk < BMQ / 16; ++kk) {
        if (DO_DV) {
#pragma unroll
          for (int dd = 0; dd < D / 16; ++dd) {
            {  // all k-steps: columns past the head dim are zero-filled
              uint32_t bb[4];
              ldmatrix_x4_trans(bb, sdOa + 2 * bt_frag_off<D>(kk * 16, dd * 16, lane));
#pragma unroll
              for (int mt = 0; mt < MT; ++mt) {
                mma16816<T>(acc_v[mt][DO_DV ? 2 * dd : 0], pP[mt][DO_DV ? kk : 0], bb[0], bb[1]);
                mma16816<T>(acc_v[mt][DO_DV ? 2 * dd + 1 : 0], pP[mt][DO_DV ? kk : 0], bb[2], bb[3]);
              }
            }
          }
        }
        if (DO_DK) {
#pragma unroll
          for (int dd = 0; dd < D / 16; ++dd) {
            {  // all k-steps: columns past the head dim are zero-filled
              uint32_t bb[4];
              ldmatrix_x4_trans(bb, sQa + 2 * bt_frag_off<D>(kk * 16, dd * 16, lane));
#pragma unroll
              for (int mt = 0; mt < MT; ++mt) {
                mma16816<T>(acc_k[mt][DO_DK ? 2 * dd : 0], pS[mt][DO_DK ? kk : 0], bb[0], bb[1]);
                mma16816<T>(acc_k[mt][DO_DK ? 2 * dd + 1 : 0], pS[mt][DO_DK ? kk : 0], bb[2], bb[3]);
              }
            }
          }
          if (DQ_ATOMIC) {  // stage dS^T (this warp's 16 key rows) for the dQ GEMM (MT == 1)
            constexpr int SS = Tr::kSdsStride;
            const uint32_t* a = pS[0][DO_DK ? kk : 0];
            T* base = sdS + (wrow + (lane >> 2)) * SS + kk * 16 + (lane & 3) * 2;
            *reinterpret_cast<uint32_t*>(base) = a[0];
            *reinterpret_cast<uint32_t*>(base + 8 * SS) = a[1];
            *reinterpret_cast<uint32_t*>(base + 8) = a[2];
            *reinterpret_cast<uint32_t*>(base + 8 * SS + 8) = a[3];
          }
        }
      }
      if constexpr (DQ_ATOMIC) {
        __syncthreads();  // dS^T complete
        // dQ_partial[BMQ x D] = dS[BMQ x BN] K[BN x D]; warp w: query rows (w % 4) * 16, columns (w / 4) * D / 2.
        constexpr int SS = Tr::kSdsStride, HN = D / 2;
        const int qm = (warp & 3) * 16, qn = (warp >> 2) * HN;
        float acc_q[HN / 8][4];
#pragma unroll
        for (int t = 0; t < HN / 8; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc_q[t][e] = 0.f;
        const uint32_t sdSa = smem_u32(sdS);
#pragma unroll
        for (int ks2 = 0; ks2 < BN / 16; ++ks2) {
          uint32_t a[4];  // A = dS (rows = queries) from the [key][query] staging: ldmatrix.trans
          ldmatrix_x4_trans(a, sdSa + 2 * ((ks2 * 16 + (lane & 7) + ((lane >> 4) & 1) * 8) * SS + qm +
                                           ((lane >> 3) & 1) * 8));
#pragma unroll
          for (int np = 0; np < HN / 16; ++np) {
            uint32_t bb[4];
            ldmatrix_x4_trans(bb, sKa + 2 * bt_frag_off<D>(ks2 * 16, qn + np * 16, lane));
            mma16816<T>(acc_q[2 * np], a, bb[0], bb[1]);
            mma16816<T>(acc_q[2 * np + 1], a, bb[2], bb[3]);
          }
        }
        const int h = hk * group + it / nm;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = i0 + qm + (lane >> 2) + r * 8;
          if (i < bi.sq) {
            float* row = dq_accum + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_qk;
#pragma unroll
            for (int t = 0; t < HN / 8; ++t) {
              const int c = qn + t * 8 + (lane & 3) * 2;
              if (c < p.d_qk) {
                atomicAdd(row + c, acc_q[t][2 * r]);
                atomicAdd(row + c + 1, acc_q[t][2 * r + 1]);
              }
            }
          }
        }
      }
      __syncthreads();  // stage st is overwritten by the next iteration's prefetch
    }
  }

  T* dK = static_cast<T*>(bp.dk);
  T* dV = static_cast<T*>(bp.dv);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int j = j0 + wrow + mt * 16 + (lane >> 2) + r * 8;
      if (j < bi.sk) {
        const int64_t row = bi.k_start + j;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const int c = dt * 8 + (lane & 3) * 2;
          if (DO_DK && c < p.d_qk)
            *reinterpret_cast<uint32_t*>(dK + row * ks + (int64_t)hk * p.d_qk + c) =
                pack2<T>(acc_k[mt][DO_DK ? dt : 0][2 * r] * p.scale, acc_k[mt][DO_DK ? dt : 0][2 * r + 1] * p.scale);
          if (DO_DV && c < p.d_v)
            *reinterpret_cast<uint32_t*>(dV + row * vs + (int64_t)hk * p.d_v + c) =
                pack2<T>(acc_v[mt][DO_DV ? dt : 0][2 * r], acc_v[mt][DO_DV ? dt : 0][2 * r + 1]);
        }
      }
    }
}

}  // namespace flash

namespace flash {
// dq = dq_accum * scale in the dtype (after the atomic-dQ dkdv kernel).
template <typename T>
__global__ void bwd_convert_dq_kernel(const FlashBwdParams bp, const float* __restrict__ dq_accum) {
  const FlashFwdParams& p = bp.fwd;
  const int b = blockIdx.z, h = blockIdx.y;
  const int q0 = p.cu_seqlens_q[b], sq = p.cu_seqlens_q[b + 1] - q0;
  const int pairs = p.d_qk / 2;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < sq * pairs; idx += gridDim.x * blockDim.x) {
    const int i = idx / pairs, c = (idx % pairs) * 2;
    const int64_t off = ((int64_t)(q0 + i) * p.h_q + h) * p.d_qk + c;
    const float2 v = *reinterpret_cast<const float2*>(dq_accum + off);
    *reinterpret_cast<uint32_t*>(static_cast<T*>(bp.dq) + off) = pack2<T>(v.x * p.scale, v.y * p.scale);
  }
}
}  // namespace flash
