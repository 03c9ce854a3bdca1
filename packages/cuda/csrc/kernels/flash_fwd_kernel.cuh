// FlashAttention-2 forward on tensor cores (mma.sync.m16n8k16, f32 accumulate).
// One block per (Q tile of BM rows, head, batch); NW warps, each owning MT = BM / (16 NW) m16 tiles of query rows.
// K and V tiles (BN keys) stream through shared memory with cp.async; V[n] loads while S = Q K[n]^T computes and
// K[n-1] loads while O += P V[n] computes (FA2's order). Key tiles run from the last to the first so the (masked)
// boundary tiles come first; only tiles that straddle the mask or the sequence end are masked.
#pragma once
#include "block_info.cuh"
#include "tile_io.cuh"

namespace flash {

template <typename T, int D, int BM, int BN, int NW>
struct FwdTraits {
  static constexpr int kThreads = NW * 32;
  static constexpr int kMT = BM / (16 * NW);
  static constexpr int kSmem = (BM + 2 * BN) * SmemRow<D>::kStride * (int)sizeof(T);
  static_assert(BM % (16 * NW) == 0 && BN % 16 == 0 && D % 32 == 0, "tile shape");
};

template <typename T, int D, int BM, int BN, int NW>
__global__ void __launch_bounds__(NW * 32) flash_fwd_kernel(const FlashFwdParams p) {
  using Tr = FwdTraits<T, D, BM, BN, NW>;
  constexpr int THREADS = Tr::kThreads, MT = Tr::kMT, NT = BN / 8, DT = D / 8, SR = SmemRow<D>::kStride;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * SR;
  T* sV = sK + BN * SR;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int h = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // last Q tiles first: under causal masks they are the longest
  if (m0 >= bi.sq) return;
  const int hk = h / (p.h_q / p.h_kv);
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int mlast = min(m0 + BM, bi.sq) - 1;
  int nmin, nmax;  // key tiles [nmin, nmax)
  mask.key_tiles(m0, mlast, BN, nmin, nmax);

  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  const int64_t qs = (int64_t)p.h_q * p.d_qk, ks = (int64_t)p.h_kv * p.d_qk, vs = (int64_t)p.h_kv * p.d_v;
  const T* gQ = Q + (int64_t)(bi.q_start + m0) * qs + (int64_t)h * p.d_qk;
  const T* gK = K + (int64_t)bi.k_start * ks + (int64_t)hk * p.d_qk;
  const T* gV = V + (int64_t)bi.k_start * vs + (int64_t)hk * p.d_v;
  const int qch = p.d_qk >> 3, vch = p.d_v >> 3;
  const ScoreXform sx(p.scale, p.softcap);
  const int wrow = warp * 16 * MT;  // first tile row of this warp

  float acc_o[MT][DT][4];
  float row_m[MT][2], row_l[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[mt][dt][e] = 0.f;
    row_m[mt][0] = row_m[mt][1] = -INFINITY;
    row_l[mt][0] = row_l[mt][1] = 0.f;
  }

  if (nmax > nmin) {
    load_tile<T, BM, D, THREADS>(sQ, gQ, qs, bi.sq - m0, qch, tid, Q);
    load_tile<T, BN, D, THREADS>(sK, gK + (int64_t)(nmax - 1) * BN * ks, ks, bi.sk - (nmax - 1) * BN, qch, tid, K);
    cp_async_commit();
    const uint32_t sQa = smem_u32(sQ), sKa = smem_u32(sK), sVa = smem_u32(sV);

    for (int n = nmax - 1; n >= nmin; --n) {
      cp_async_wait<0>();
      __syncthreads();  // K[n] (and Q) landed; every warp finished reading V[n+1]
      load_tile<T, BN, D, THREADS>(sV, gV + (int64_t)n * BN * vs, vs, bi.sk - n * BN, vch, tid, V);
      cp_async_commit();

      float s[MT][NT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.f;

#pragma unroll
      for (int kst = 0; kst < D / 16; ++kst) {
        {  // all k-steps: columns past the head dim are zero-filled
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
            ldmatrix_x4(a[mt], sQa + 2 * a_frag_off<D>(wrow + mt * 16, kst * 16, lane));
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
      }

      const int j0 = n * BN;
      const bool need_mask = !mask.tile_full(m0, mlast, j0, j0 + BN - 1);
      if (sx.transform) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              float th;
              s[mt][nt][e] = sx.apply(s[mt][nt][e], th);
            }
      }
      if (need_mask) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            int lo, hi;
            mask.row_bounds(m0 + wrow + mt * 16 + (lane >> 2) + r * 8, lo, hi);
            const int base = j0 + (lane & 3) * 2;  // compare against the tile-local column
            lo = lo == INT_MIN ? INT_MIN : lo - base;
            hi -= base;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
              for (int c = 0; c < 2; ++c) {
                const int jj = nt * 8 + c;
                if (jj < lo || jj > hi) s[mt][nt][2 * r + c] = -INFINITY;
              }
          }
      }

      // Online softmax (log2 domain; exponent = t * mult - m * mult in one FFMA). (Skipping the O rescale when no
      // row max moved was tried: more spills, no gain measured.)
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = -INFINITY;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
          mx = quad_max(mx);
          const float mnew = fmaxf(row_m[mt][r], mx);
          const float mref = mnew == -INFINITY ? 0.f : mnew * sx.mult;
          const float corr = fast_exp2(row_m[mt][r] * sx.mult - mref);
          row_m[mt][r] = mnew;
          float l = row_l[mt][r] * corr;
#pragma unroll
          for (int dt = 0; dt < DT; ++dt) {
            acc_o[mt][dt][2 * r] *= corr;
            acc_o[mt][dt][2 * r + 1] *= corr;
          }
#pragma unroll
          for (int nt = 0; nt < NT; ++nt) {
            const float p0 = fast_exp2(fmaf(s[mt][nt][2 * r], sx.mult, -mref));
            const float p1 = fast_exp2(fmaf(s[mt][nt][2 * r + 1], sx.mult, -mref));
            s[mt][nt][2 * r] = p0;
            s[mt][nt][2 * r + 1] = p1;
            l += p0 + p1;
          }
          row_l[mt][r] = l;
        }

      cp_async_wait<0>();
      __syncthreads();  // V[n] landed; every warp finished reading K[n]
      if (n > nmin) {
        load_tile<T, BN, D, THREADS>(sK, gK + (int64_t)(n - 1) * BN * ks, ks, bi.sk - (n - 1) * BN, qch, tid, K);
        cp_async_commit();
      }

#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t a[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          a[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          a[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          a[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          a[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          {  // all k-steps: columns past the head dim are zero-filled
            uint32_t bb[4];
            ldmatrix_x4_trans(bb, sVa + 2 * bt_frag_off<D>(kk * 16, dp * 16, lane));
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma16816<T>(acc_o[mt][2 * dp], a[mt], bb[0], bb[1]);
              mma16816<T>(acc_o[mt][2 * dp + 1], a[mt], bb[2], bb[3]);
            }
          }
        }
      }
    }
  }

  // Epilogue: normalize, write O (zeros for rows that saw no key) and LSE (-inf for those rows).
  T* O = static_cast<T*>(p.out);
  const int64_t os = (int64_t)p.h_q * p.d_v;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quad_sum(row_l[mt][r]);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int i = m0 + wrow + mt * 16 + (lane >> 2) + r * 8;
      if (i < bi.sq) {
        T* orow = O + (int64_t)(bi.q_start + i) * os + (int64_t)h * p.d_v;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const int c = dt * 8 + (lane & 3) * 2;
          if (c < p.d_v) {
            const uint32_t v = pack2<T>(acc_o[mt][dt][2 * r] * inv, acc_o[mt][dt][2 * r + 1] * inv);
            *reinterpret_cast<uint32_t*>(orow + c) = v;
          }
        }
        if (p.lse != nullptr && (lane & 3) == 0) {
          const float lse = l > 0.f ? (row_m[mt][r] * sx.mult + log2f(l)) * kLn2 : -INFINITY;
          p.lse[(int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride +
                (p.lse_varlen_rows ? bi.q_start : 0) + i] = lse;
        }
      }
    }
}

}  // namespace flash
