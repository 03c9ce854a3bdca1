// Standalone correctness test for the kernels (no addon, no JS): random inputs, a float64 CPU oracle, a "naive in
// the dtype" CPU baseline (intermediates rounded to the dtype, as an eager PyTorch implementation would), and the
// flash-attn criterion: max|out - oracle| <= 2 * max|naive - oracle| + atol (3x for dq, dk, dv); LSE within 1e-4
// relative and -inf exact. Outputs are poisoned with NaN before every kernel run. Backward is run twice and must be
// bit-identical (determinism). Exit status 1 on any failure.
//   usage: kernel_test [quick|full|small|small256|d256|one]
#include "../flash_params.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, __LINE__, #x); \
      exit(2);                                                                                  \
    }                                                                                           \
  } while (0)

struct Case {
  FlashDtype dtype;
  int batch, hq, hkv, dqk, dv;
  std::vector<int> sq, sk;  // per batch
  int left, right;
  float softcap;
  bool bwd;
};

static double round_to(FlashDtype t, double x) {
  if (t == FLASH_F16) return (double)__half2float(__float2half_rn((float)x));
  if (t == FLASH_BF16) return (double)__bfloat162float(__float2bfloat16_rn((float)x));
  return (double)(float)x;
}
static size_t esize(FlashDtype t) { return t == FLASH_F32 ? 4 : 2; }
static void encode(FlashDtype t, const std::vector<double>& x, std::vector<unsigned char>& out) {
  out.resize(x.size() * esize(t));
  for (size_t i = 0; i < x.size(); ++i) {
    if (t == FLASH_F32) { float f = (float)x[i]; memcpy(&out[i * 4], &f, 4); }
    else if (t == FLASH_F16) { __half h = __float2half_rn((float)x[i]); memcpy(&out[i * 2], &h, 2); }
    else { __nv_bfloat16 h = __float2bfloat16_rn((float)x[i]); memcpy(&out[i * 2], &h, 2); }
  }
}
static std::vector<double> decode(FlashDtype t, const std::vector<unsigned char>& in) {
  std::vector<double> x(in.size() / esize(t));
  for (size_t i = 0; i < x.size(); ++i) {
    if (t == FLASH_F32) { float f; memcpy(&f, &in[i * 4], 4); x[i] = f; }
    else if (t == FLASH_F16) { __half h; memcpy(&h, &in[i * 2], 2); x[i] = __half2float(h); }
    else { __nv_bfloat16 h; memcpy(&h, &in[i * 2], 2); x[i] = __bfloat162float(h); }
  }
  return x;
}

struct Geo {
  std::vector<int> cq, ck;
  int tq, tk;
};

// Reference attention for one (batch, head). R(x) rounds intermediates (identity for the oracle).
// Produces out, lse, and (if dout) dq, dk, dv contributions.
template <typename Round>
static void attn_ref(const Case& c, const Geo& g, int b, int h, const std::vector<double>& q, const std::vector<double>& k,
                     const std::vector<double>& v, const std::vector<double>* dout, std::vector<double>& out,
                     std::vector<double>& lse, std::vector<double>* dq, std::vector<double>* dk,
                     std::vector<double>* dv, Round R, double scale) {
  const int sq = c.sq[b], sk = c.sk[b], hk = h / (c.hq / c.hkv);
  const int off = sk - sq;
  std::vector<double> s(sk), pr(sk), th(sk), dp(sk);
  for (int i = 0; i < sq; ++i) {
    const double* qi = &q[((size_t)(g.cq[b] + i) * c.hq + h) * c.dqk];
    double m = -INFINITY;
    std::vector<char> vis(sk);
    for (int j = 0; j < sk; ++j) {
      vis[j] = (c.left < 0 || j >= i + off - c.left) && (c.right < 0 || j <= i + off + c.right);
      if (!vis[j]) continue;
      const double* kj = &k[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dqk];
      double acc = 0;
      for (int d = 0; d < c.dqk; ++d) acc += qi[d] * kj[d];
      double x = R(acc * scale);
      if (c.softcap > 0) { th[j] = std::tanh(x / c.softcap); x = R(c.softcap * th[j]); }
      s[j] = x;
      m = std::max(m, x);
    }
    double l = 0;
    for (int j = 0; j < sk; ++j) { pr[j] = vis[j] ? std::exp(s[j] - m) : 0; l += pr[j]; }
    double* oi = &out[((size_t)(g.cq[b] + i) * c.hq + h) * c.dv];
    lse[((size_t)(g.cq[b] + i)) * c.hq + h] = l > 0 ? m + std::log(l) : -INFINITY;
    for (int j = 0; j < sk; ++j) pr[j] = l > 0 ? R(pr[j] / l) : 0;
    for (int d = 0; d < c.dv; ++d) {
      double acc = 0;
      for (int j = 0; j < sk; ++j)
        if (pr[j] != 0) acc += pr[j] * v[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dv + d];
      oi[d] = R(acc);
    }
    if (!dout) continue;
    const double* doi = &(*dout)[((size_t)(g.cq[b] + i) * c.hq + h) * c.dv];
    double Dsum = 0;
    for (int j = 0; j < sk; ++j) {
      if (pr[j] == 0) { dp[j] = 0; continue; }
      const double* vj = &v[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dv];
      double acc = 0;
      for (int d = 0; d < c.dv; ++d) acc += doi[d] * vj[d];
      dp[j] = R(acc);
      Dsum += pr[j] * dp[j];
    }
    double* dqi = &(*dq)[((size_t)(g.cq[b] + i) * c.hq + h) * c.dqk];
    for (int j = 0; j < sk; ++j) {
      if (pr[j] == 0) continue;
      double ds = R(pr[j] * (dp[j] - Dsum));
      if (c.softcap > 0) ds = R(ds * (1 - th[j] * th[j]));
      ds *= scale;
      const double* kj = &k[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dqk];
      double* dkj = &(*dk)[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dqk];
      double* dvj = &(*dv)[((size_t)(g.ck[b] + j) * c.hkv + hk) * c.dv];
      for (int d = 0; d < c.dqk; ++d) { dqi[d] += ds * kj[d]; dkj[d] += ds * qi[d]; }
      for (int d = 0; d < c.dv; ++d) dvj[d] += pr[j] * doi[d];
    }
  }
}

struct Result { double err, bound; bool ok; std::string note; };
static Result judge(FlashDtype t, const std::vector<double>& got, const std::vector<double>& ref,
                    const std::vector<double>& naive, double mult) {
  double err = 0, base = 0, am = 0;
  std::string note;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(got[i])) { if (note.empty()) note = "NaN at " + std::to_string(i); continue; }
    err = std::max(err, std::fabs(got[i] - ref[i]));
    base = std::max(base, std::fabs(naive[i] - ref[i]));
    am = std::max(am, std::fabs(round_to(t, round_to(t, ref[i] + 0.3) - 0.3) - ref[i]));
  }
  const double bound = mult * base + 2 * am;
  return {err, bound, note.empty() && err <= bound, note};
}

static const char* dname(FlashDtype t) { return t == FLASH_F32 ? "f32" : t == FLASH_F16 ? "f16" : "bf16"; }

static bool run_case(const Case& c, std::mt19937_64& rng) {
  Geo g;
  g.cq.push_back(0); g.ck.push_back(0);
  int msq = 0, msk = 0;
  for (int b = 0; b < c.batch; ++b) {
    g.cq.push_back(g.cq.back() + c.sq[b]); g.ck.push_back(g.ck.back() + c.sk[b]);
    msq = std::max(msq, c.sq[b]); msk = std::max(msk, c.sk[b]);
  }
  g.tq = g.cq.back(); g.tk = g.ck.back();
  std::normal_distribution<double> nd;
  auto gen = [&](size_t n) { std::vector<double> x(n); for (auto& e : x) e = round_to(c.dtype, nd(rng)); return x; };
  auto q = gen((size_t)g.tq * c.hq * c.dqk), k = gen((size_t)g.tk * c.hkv * c.dqk), v = gen((size_t)g.tk * c.hkv * c.dv);
  auto dout = gen((size_t)g.tq * c.hq * c.dv);
  const double scale = 1.0 / std::sqrt((double)c.dqk);

  // CPU oracle (double) and naive (rounded), parallel over heads; GQA dk/dv accumulate per kv head.
  const size_t no = (size_t)g.tq * c.hq * c.dv, nl = (size_t)g.tq * c.hq;
  std::vector<double> o_ref(no), l_ref(nl), o_nv(no), l_nv(nl);
  std::vector<double> dq_ref(q.size()), dk_ref(k.size()), dv_ref(v.size()), dq_nv(q.size()), dk_nv(k.size()),
      dv_nv(v.size());
  const FlashDtype t = c.dtype;
  auto R = [t](double x) { return round_to(t, x); };
  auto I = [](double x) { return x; };
  // dk/dv are accumulated over query heads: run per kv head serially over its group.
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int b = 0; b < c.batch; ++b)
    for (int hk = 0; hk < c.hkv; ++hk)
      for (int g2 = 0; g2 < c.hq / c.hkv; ++g2) {
        const int h = hk * (c.hq / c.hkv) + g2;
        attn_ref(c, g, b, h, q, k, v, c.bwd ? &dout : nullptr, o_ref, l_ref, &dq_ref, &dk_ref, &dv_ref, I, scale);
        attn_ref(c, g, b, h, q, k, v, c.bwd ? &dout : nullptr, o_nv, l_nv, &dq_nv, &dk_nv, &dv_nv, R, scale);
      }
  for (auto* x : {&dq_nv, &dk_nv, &dv_nv}) for (auto& e : *x) e = R(e);

  // Device.
  std::vector<unsigned char> hq_, hk_, hv_, hdo_;
  encode(t, q, hq_); encode(t, k, hk_); encode(t, v, hv_); encode(t, dout, hdo_);
  void *dq_in, *dk_in, *dv_in, *ddo, *dout_o, *ddq, *ddk, *ddv, *scratch = nullptr;
  float* dlse;
  int32_t *dcq, *dck;
  CK(cudaMalloc(&dq_in, hq_.size() + 16)); CK(cudaMalloc(&dk_in, hk_.size() + 16)); CK(cudaMalloc(&dv_in, hv_.size() + 16));
  CK(cudaMalloc(&ddo, hdo_.size() + 16)); CK(cudaMalloc(&dout_o, no * esize(t) + 16));
  CK(cudaMalloc(&ddq, hq_.size() + 16)); CK(cudaMalloc(&ddk, hk_.size() + 16)); CK(cudaMalloc(&ddv, hv_.size() + 16));
  CK(cudaMalloc(&dlse, nl * 4 + 16)); CK(cudaMalloc(&dcq, g.cq.size() * 4)); CK(cudaMalloc(&dck, g.ck.size() * 4));
  CK(cudaMemcpy(dq_in, hq_.data(), hq_.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dk_in, hk_.data(), hk_.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dv_in, hv_.data(), hv_.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(ddo, hdo_.data(), hdo_.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dcq, g.cq.data(), g.cq.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dck, g.ck.data(), g.ck.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemset(dout_o, 0xFF, no * esize(t)));  // NaN poison (all-ones is NaN in f16, bf16, f32)
  CK(cudaMemset(dlse, 0xFF, nl * 4));

  FlashFwdParams p{};
  p.q = dq_in; p.k = dk_in; p.v = dv_in; p.out = dout_o; p.lse = dlse;
  p.cu_seqlens_q = dcq; p.cu_seqlens_k = dck;
  p.batch = c.batch; p.h_q = c.hq; p.h_kv = c.hkv; p.d_qk = c.dqk; p.d_v = c.dv;
  p.max_seqlen_q = msq; p.max_seqlen_k = msk;
  p.lse_batch_stride = 0; p.lse_head_stride = g.tq; p.lse_varlen_rows = 1;  // varlen layout [h, total_q]
  p.scale = (float)scale; p.softcap = c.softcap; p.window_left = c.left; p.window_right = c.right; p.dtype = t;
  const char* why = nullptr;
  cudaError_t e = flash_fwd(&p, 0, &why);
  if (e != cudaSuccess) { printf("FAIL fwd launch: %s %s\n", cudaGetErrorString(e), why ? why : ""); exit(1); }
  CK(cudaDeviceSynchronize());
  std::vector<unsigned char> ho(no * esize(t));
  std::vector<float> hl(nl);
  CK(cudaMemcpy(ho.data(), dout_o, ho.size(), cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(hl.data(), dlse, nl * 4, cudaMemcpyDeviceToHost));
  auto o_got = decode(t, ho);
  Result ro = judge(t, o_got, o_ref, o_nv, 2);
  // LSE (our layout [h][total_q]; ref is [row][h]).
  double lerr = 0; std::string lnote;
  for (int r = 0; r < g.tq; ++r)
    for (int h = 0; h < c.hq; ++h) {
      const double want = l_ref[(size_t)r * c.hq + h], got = hl[(size_t)h * g.tq + r];
      if (std::isnan(got)) { lnote = "lse NaN"; continue; }
      if (std::isinf(want) || std::isinf(got)) { if (want != got) lnote = "lse inf mismatch"; continue; }
      lerr = std::max(lerr, std::fabs(got - want) / std::max(1.0, std::fabs(want)));
    }
  bool ok = ro.ok && lnote.empty() && lerr <= 1e-4;
  char buf[1024];
  std::string sqs, sks;
  for (int b = 0; b < c.batch; ++b) { sqs += std::to_string(c.sq[b]) + (b + 1 < c.batch ? "," : ""); sks += std::to_string(c.sk[b]) + (b + 1 < c.batch ? "," : ""); }
  snprintf(buf, sizeof buf, "%-4s b%d h%d/%d d%d/%d sq[%s] sk[%s] win(%d,%d) cap%.0f", dname(t), c.batch, c.hq, c.hkv,
           c.dqk, c.dv, sqs.size() > 24 ? "varlen" : sqs.c_str(), sks.size() > 24 ? "varlen" : sks.c_str(), c.left,
           c.right, c.softcap);
  std::string line = buf;
  snprintf(buf, sizeof buf, " | out %.2e/%.2e lse %.1e%s%s", ro.err, ro.bound, lerr, ro.note.c_str(), lnote.c_str());
  line += buf;

  if (c.bwd) {
    FlashBwdParams bp{};
    bp.fwd = p;
    bp.fwd.out = dout_o;  // kernel's own forward output, as in training
    bp.dout = ddo; bp.dq = ddq; bp.dk = ddk; bp.dv = ddv; bp.deterministic = 1;
    bp.deterministic = 0;
    const int64_t ws = flash_bwd_workspace_bytes(&bp);  // the larger of the two modes
    CK(cudaMalloc(&scratch, ws + 16));
    bp.scratch = scratch; bp.scratch_bytes = ws;
    // rep 0, 1: deterministic (must be bit-identical); rep 2: default (atomic dQ where available).
    std::vector<unsigned char> G[3][3];
    for (int rep = 0; rep < 3; ++rep) {
      bp.deterministic = rep < 2;
      CK(cudaMemset(ddq, 0xFF, hq_.size())); CK(cudaMemset(ddk, 0xFF, hk_.size())); CK(cudaMemset(ddv, 0xFF, hv_.size()));
      CK(cudaMemset(scratch, 0xFF, ws));
      e = flash_bwd(&bp, 0, &why);
      if (e != cudaSuccess) { printf("FAIL bwd launch: %s %s\n", cudaGetErrorString(e), why ? why : ""); exit(1); }
      CK(cudaDeviceSynchronize());
      G[rep][0].resize(hq_.size()); G[rep][1].resize(hk_.size()); G[rep][2].resize(hv_.size());
      CK(cudaMemcpy(G[rep][0].data(), ddq, hq_.size(), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(G[rep][1].data(), ddk, hk_.size(), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(G[rep][2].data(), ddv, hv_.size(), cudaMemcpyDeviceToHost));
    }
    const bool det = G[0][0] == G[1][0] && G[0][1] == G[1][1] && G[0][2] == G[1][2];
    for (int mode = 0; mode < 3; mode += 2) {
      Result r1 = judge(t, decode(t, G[mode][0]), dq_ref, dq_nv, 3);
      Result r2 = judge(t, decode(t, G[mode][1]), dk_ref, dk_nv, 3);
      Result r3 = judge(t, decode(t, G[mode][2]), dv_ref, dv_nv, 3);
      ok = ok && r1.ok && r2.ok && r3.ok && det;
      snprintf(buf, sizeof buf, " | %s dq %.2e/%.2e dk %.2e/%.2e dv %.2e/%.2e%s%s%s%s", mode ? "nd" : "det", r1.err,
               r1.bound, r2.err, r2.bound, r3.err, r3.bound, det || mode ? "" : " NONDETERMINISTIC", r1.note.c_str(),
               r2.note.c_str(), r3.note.c_str());
      line += buf;
    }
    CK(cudaFree(scratch));
  }
  printf("%s %s\n", ok ? "ok  " : "FAIL", line.c_str());
  fflush(stdout);
  for (void* x : {dq_in, dk_in, dv_in, ddo, dout_o, ddq, ddk, ddv, (void*)dlse, (void*)dcq, (void*)dck}) CK(cudaFree(x));
  return ok;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "quick";
  std::mt19937_64 rng(1234);
  std::vector<Case> cases;
  auto dense = [&](FlashDtype t, int b, int hq, int hkv, int sq, int sk, int d, int dv, int left, int right, float cap,
                   bool bwd) {
    Case c{t, b, hq, hkv, d, dv, std::vector<int>(b, sq), std::vector<int>(b, sk), left, right, cap, bwd};
    cases.push_back(c);
  };
  const FlashDtype halfs[] = {FLASH_F16, FLASH_BF16};
  // Head-dim sweep (every bucket plus off-bucket dims), causal and not, odd lengths.
  const int dims[] = {32, 40, 64, 72, 96, 128, 136, 160, 192, 224, 256};
  for (FlashDtype t : halfs)
    for (int d : dims) {
      dense(t, 2, 3, 3, 113, 203, d, d, -1, -1, 0, true);
      dense(t, 1, 2, 2, 128, 217, d, d, -1, 0, 0, true);
    }
  // flash-attn seqlen pairs.
  const int pairs[][2] = {{113, 203}, {128, 217}, {113, 211}, {108, 256}, {256, 512}, {512, 256}, {1024, 1024},
                          {1023, 1024}, {1024, 1023}, {2048, 2048}};
  for (auto& pr : pairs)
    for (int causal = 0; causal < 2; ++causal)
      dense(pr[0] >= 1024 ? FLASH_BF16 : FLASH_F16, pr[0] >= 2048 ? 1 : 2, pr[0] >= 1024 ? 2 : 4, pr[0] >= 1024 ? 1 : 2,
            pr[0], pr[1], pr[0] >= 1024 ? 128 : 64, pr[0] >= 1024 ? 128 : 64, -1, causal ? 0 : -1, 0, true);
  // Windows, softcap, GQA/MQA, headDimV != headDim, seq 1, sk < sq (fully masked rows).
  for (FlashDtype t : halfs) {
    dense(t, 2, 4, 2, 300, 300, 64, 64, 50, 20, 0, true);
    dense(t, 2, 4, 1, 257, 130, 128, 128, 16, 0, 0, true);
    dense(t, 2, 4, 4, 200, 180, 64, 64, -1, -1, 30.f, true);
    dense(t, 1, 8, 1, 150, 333, 96, 96, -1, 0, 50.f, true);
    dense(t, 2, 6, 2, 177, 177, 128, 64, -1, -1, 0, true);
    dense(t, 1, 2, 1, 100, 120, 64, 192, -1, 0, 0, true);
    dense(t, 3, 2, 2, 1, 77, 64, 64, -1, -1, 0, true);
    dense(t, 2, 2, 2, 190, 60, 64, 64, -1, 0, 0, true);  // causal, sk < sq: first rows see nothing
    dense(t, 1, 2, 2, 64, 64, 64, 64, 0, 0, 0, true);     // window (0,0): diagonal only
  }
  // Head dim 256 (sm90 d256 backward, v8): window + GQA, softcap, d_v != d_qk both ways, sk < sq, varlen.
  for (FlashDtype t : halfs) {
    dense(t, 2, 4, 2, 300, 300, 256, 256, 50, 20, 0, true);
    dense(t, 1, 4, 4, 200, 180, 256, 256, -1, -1, 30.f, true);
    dense(t, 1, 2, 1, 100, 120, 128, 256, -1, 0, 0, true);
    dense(t, 1, 6, 2, 177, 177, 256, 136, -1, -1, 0, true);
    dense(t, 2, 2, 2, 190, 60, 256, 256, -1, 0, 0, true);
    Case c{t, 4, 4, 2, 256, 256, {37, 200, 0, 129}, {90, 150, 33, 129}, -1, 0, 0, true};
    cases.push_back(c);
  }
  // Varlen (including an empty sequence).
  for (FlashDtype t : halfs) {
    Case c{t, 4, 4, 2, 64, 64, {37, 200, 0, 129}, {90, 150, 33, 129}, -1, -1, 0, true};
    cases.push_back(c);
    Case c2 = c; c2.right = 0; c2.dqk = c2.dv = 128;
    cases.push_back(c2);
  }
  // f32 path.
  dense(FLASH_F32, 2, 2, 1, 113, 203, 64, 64, -1, -1, 0, true);
  dense(FLASH_F32, 1, 2, 2, 128, 217, 128, 128, -1, 0, 0, true);
  dense(FLASH_F32, 1, 2, 2, 100, 100, 256, 256, 20, 5, 30.f, true);
  { Case c{FLASH_F32, 3, 2, 1, 40, 40, {10, 0, 70}, {33, 12, 70}, -1, 0, 0, true}; cases.push_back(c); }
  if (mode == "full") {
    for (FlashDtype t : halfs)
      for (int d : {64, 128, 256})
        for (int causal = 0; causal < 2; ++causal) dense(t, 1, 2, 2, 1500, 1500, d, d, -1, causal ? 0 : -1, 0, true);
  }
  if (mode == "one") cases.resize(1);
  if (mode == "small") {  // a few small cases of each kind, for compute-sanitizer
    std::vector<Case> small;
    for (auto& c : cases) {
      long work = 0;
      for (int b = 0; b < c.batch; ++b) work += (long)c.sq[b] * c.sk[b];
      if (work * c.hq <= 120000 && small.size() < 12 && (small.empty() || small.back().dtype != c.dtype || c.dqk != small.back().dqk || c.softcap > 0 || c.right >= 0)) small.push_back(c);
    }
    cases = small;
  }
  if (mode == "d256") {  // every half-precision case of the head-dim-256 bucket (the sm90 d256 backward's cases)
    std::vector<Case> sel;
    for (auto& c : cases)
      if (c.dtype != FLASH_F32 && (c.dqk > 224 || c.dv > 224)) sel.push_back(c);
    cases = sel;
  }
  if (mode == "small256") {  // small head-dim-256-bucket cases, for compute-sanitizer on the sm90 d256 backward
    std::vector<Case> small;
    for (auto& c : cases) {
      long work = 0;
      for (int b = 0; b < c.batch; ++b) work += (long)c.sq[b] * c.sk[b];
      if (c.dtype != FLASH_F32 && (c.dqk > 224 || c.dv > 224) && work * c.hq <= 200000) small.push_back(c);
    }
    cases = small;
  }
  int fails = 0;
  for (auto& c : cases) fails += !run_case(c, rng);
  printf("%d cases, %d failed\n", (int)cases.size(), fails);
  return fails ? 1 : 0;
}
