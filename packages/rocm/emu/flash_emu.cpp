// Runs a job of kernel launches on the CPU (see cpu_runtime.h) and writes the buffers back. Job file format
// (little-endian), written by test/emu-driver.ts:
//   u32 nbuf; per buffer: u64 bytes, data
//   u32 nlaunch; per launch: u32 namelen, name, u32 grid[3], u32 block[3], u32 shared, u32 nargs, u8 kinds[nargs]
//                (0 ptr, 1 i32, 2 f32), u32 argbytes, packed args (the same bytes the GPU launch would get)
// Pointer arguments hold ((buffer index + 1) << 40) | byte offset and are rebased onto this process's buffers.
// The packed bytes are decoded with the C layout rule (natural alignment), which is what the GPU does.
#include "cpu_runtime.h"
#include <cstdio>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <functional>
#include <map>

thread_local dim3 threadIdx;
thread_local dim3 blockIdx;
dim3 blockDim;
dim3 gridDim;
std::barrier<>* g_block_barrier;
alignas(16) double fa_smem[64 * 1024 / 8];

#define FA_PLATFORM_EMU 1
#include "../kernels/flash_fwd.h"
#include "../kernels/flash_bwd.h"
#include "../kernels/flash_fwd_mfma.h"

struct Args {
  std::vector<uint8_t> bytes;
  size_t off = 0;
  template <typename T> T take() {
    off = (off + sizeof(T) - 1) / sizeof(T) * sizeof(T);
    T v;
    std::memcpy(&v, bytes.data() + off, sizeof(T));
    off += sizeof(T);
    return v;
  }
  template <typename T> T* ptr() { return reinterpret_cast<T*>(take<uint64_t>()); }
};

template <typename T> std::function<void()> make(const std::string& kind, Args& a) {
  if (kind == "fwd") {
    auto q = a.ptr<const T>(); auto k = a.ptr<const T>(); auto v = a.ptr<const T>(); auto out = a.ptr<T>();
    auto lse = a.ptr<float>(); auto cq = a.ptr<const int>(); auto ck = a.ptr<const int>();
    int hq = a.take<int>(), hk = a.take<int>(), d = a.take<int>(), dv = a.take<int>();
    float scale = a.take<float>(), cap = a.take<float>();
    int wl = a.take<int>(), wr = a.take<int>(), lb = a.take<int>(), lh = a.take<int>(), lv = a.take<int>();
    int BM = a.take<int>(), BN = a.take<int>();
    return [=] { flash_fwd<T>(q, k, v, out, lse, cq, ck, hq, hk, d, dv, scale, cap, wl, wr, lb, lh, lv, BM, BN); };
  }
  typedef typename AccOf<T>::type Acc;
  if (kind == "dot") {
    auto o = a.ptr<const T>(); auto dout = a.ptr<const T>(); auto dvec = a.ptr<Acc>(); auto lacc = a.ptr<Acc>();
    auto q = a.ptr<const T>(); auto k = a.ptr<const T>(); auto lse = a.ptr<const float>();
    auto cq = a.ptr<const int>(); auto ck = a.ptr<const int>();
    int batch = a.take<int>(), tq = a.take<int>(), hq = a.take<int>(), hk = a.take<int>(), d = a.take<int>(), dv = a.take<int>();
    float scale = a.take<float>(), cap = a.take<float>();
    int wl = a.take<int>(), wr = a.take<int>(), lb = a.take<int>(), lh = a.take<int>(), lv = a.take<int>(), rc = a.take<int>();
    return [=] { flash_bwd_dot<T>(o, dout, dvec, lacc, q, k, lse, cq, ck, batch, tq, hq, hk, d, dv, scale, cap, wl, wr, lb, lh, lv, rc); };
  }
  T* dq = nullptr; T* dk = nullptr; T* dvo = nullptr;
  if (kind == "dq") dq = a.ptr<T>();
  else { dk = a.ptr<T>(); dvo = a.ptr<T>(); }
  auto q = a.ptr<const T>(); auto k = a.ptr<const T>(); auto v = a.ptr<const T>(); auto dout = a.ptr<const T>();
  auto lacc = a.ptr<const Acc>(); auto dvec = a.ptr<const Acc>();
  int tq = a.take<int>(), hq = a.take<int>(), hk = a.take<int>(), d = a.take<int>(), dv = a.take<int>();
  float scale = a.take<float>(), cap = a.take<float>();
  int wl = a.take<int>(), wr = a.take<int>();
  int BM = a.take<int>(), BN = a.take<int>();
  auto cq = a.ptr<const int>(); auto ck = a.ptr<const int>();
  if (kind == "dq")
    return [=] { flash_bwd_dq<T>(q, k, v, dout, lacc, dvec, dq, cq, ck, tq, hq, hk, d, dv, scale, cap, wl, wr, BM, BN); };
  return [=] { flash_bwd_dkv<T>(q, k, v, dout, lacc, dvec, dk, dvo, cq, ck, tq, hq, hk, d, dv, scale, cap, wl, wr, BM, BN); };
}

static void run(dim3 grid, dim3 block, const std::function<void()>& body) {
  std::barrier<> bar((std::ptrdiff_t)block.x);
  g_block_barrier = &bar;
  blockDim = block;
  gridDim = grid;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < block.x; t++)
    ts.emplace_back([&, t] {
      threadIdx = dim3{t, 0, 0};
      for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
          for (unsigned x = 0; x < grid.x; x++) {
            blockIdx = dim3{x, y, z};
            body();
            bar.arrive_and_wait();  // the next block starts only when every thread left this one
          }
    });
  for (auto& t : ts) t.join();
}

int main(int argc, char** argv) {
  if (argc != 3) { std::fprintf(stderr, "usage: flash_emu JOB OUT\n"); return 2; }
  FILE* f = std::fopen(argv[1], "rb");
  if (!f) { std::perror(argv[1]); return 2; }
  auto rd = [&](void* p, size_t n) { if (n && std::fread(p, 1, n, f) != n) { std::fprintf(stderr, "short job file\n"); std::exit(2); } };
  auto u32 = [&] { uint32_t v; rd(&v, 4); return v; };
  std::vector<std::vector<uint8_t>> bufs(u32());
  for (auto& b : bufs) { uint64_t n; rd(&n, 8); b.resize(n + 16); rd(b.data(), n); b.resize(n); }
  uint32_t nl = u32();
  for (uint32_t l = 0; l < nl; l++) {
    std::string name(u32(), '\0');
    rd(name.data(), name.size());
    dim3 grid{u32(), u32(), u32()}, block{u32(), u32(), u32()};
    u32();  // dynamic shared bytes: smem is sized for the largest
    std::vector<uint8_t> kinds(u32());
    rd(kinds.data(), kinds.size());
    Args a;
    a.bytes.resize(u32());
    rd(a.bytes.data(), a.bytes.size());
    // rebase pointer arguments
    size_t off = 0;
    for (uint8_t k : kinds) {
      size_t sz = k == 0 ? 8 : 4;
      off = (off + sz - 1) / sz * sz;
      if (k == 0) {
        uint64_t v;
        std::memcpy(&v, a.bytes.data() + off, 8);
        uint64_t real = 0;
        if (v) {
          uint64_t idx = (v >> 40) - 1, o = v & ((1ull << 40) - 1);
          if (idx >= bufs.size()) { std::fprintf(stderr, "bad pointer arg\n"); return 3; }
          real = (uint64_t)(bufs[idx].data() + o);
        }
        std::memcpy(a.bytes.data() + off, &real, 8);
      }
      off += sz;
    }
#if defined(FA_HAS_MFMA)
    if (name == "flash_fwd_mfma_f16") {
      auto q = a.ptr<const f16_t>(); auto k = a.ptr<const f16_t>(); auto v = a.ptr<const f16_t>(); auto out = a.ptr<f16_t>();
      auto lse = a.ptr<float>(); auto cq = a.ptr<const int>(); auto ck = a.ptr<const int>();
      int hq = a.take<int>(), hk = a.take<int>(), d = a.take<int>(), dv = a.take<int>();
      float scale = a.take<float>(), cap = a.take<float>();
      int wl = a.take<int>(), wr = a.take<int>(), lb = a.take<int>(), lh = a.take<int>(), lv = a.take<int>();
      a.take<int>(); a.take<int>();  // BM, BN: fixed 32 x 32 in this kernel
      if (block.x != 64) { std::fprintf(stderr, "mfma kernel needs one 64-lane wavefront per block\n"); return 5; }
      run(grid, block, [=] { flash_fwd_mfma_f16_impl(q, k, v, out, lse, cq, ck, hq, hk, d, dv, scale, cap, wl, wr, lb, lh, lv); });
      continue;
    }
#endif
    const size_t us = name.rfind('_');
    const std::string dtype = name.substr(us + 1);
    std::string kind = name.substr(0, us);
    kind = kind == "flash_fwd" ? "fwd" : kind.substr(std::string("flash_bwd_").size());
    std::function<void()> body = dtype == "f32" ? make<float>(kind, a) : dtype == "f16" ? make<f16_t>(kind, a) : make<bf16_t>(kind, a);
    if (a.off != a.bytes.size()) { std::fprintf(stderr, "%s: consumed %zu of %zu argument bytes\n", name.c_str(), a.off, a.bytes.size()); return 4; }
    run(grid, block, body);
  }
  std::fclose(f);
  FILE* o = std::fopen(argv[2], "wb");
  for (auto& b : bufs) std::fwrite(b.data(), 1, b.size(), o);
  std::fclose(o);
  return 0;
}
