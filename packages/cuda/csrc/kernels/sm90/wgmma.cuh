// Hopper (sm_90a) warpgroup MMA primitives: the 128-byte-swizzle shared-memory layout for 16-bit tiles, a cp.async
// loader into it, wgmma matrix descriptors, and wgmma.mma_async wrappers (SS and RS, m64nNk16, f16/bf16 -> f32).
// Shared by the sm90 forward (flash_fwd_sm90_*) and backward kernels. Namespace flash::sm90.
//
// ---- API (everything __device__ unless noted) -------------------------------------------------------------------
//  FLASH_SM90_ARCH                 defined (1) only in the sm_90a device pass: guard kernel bodies with
//                                  `#ifdef FLASH_SM90_ARCH` (it is __CUDA_ARCH__ >= 900 && __CUDA_ARCH_FEAT_SM90_ALL),
//                                  so the sm_80 pass compiles empty bodies. The wrappers below compile to nothing
//                                  (a trap) outside that pass.
//  sw128_offset(ROWS, r, c)        host+device constexpr: byte offset of element (r, c) of a 16-bit [ROWS][COLS] tile.
//  load_tile_sw128<T,ROWS,COLS,THREADS>(s, g, gstride, rows_valid, chunks_valid, tid, fallback)
//                                  cp.async (16-byte chunks) of a ROWS x COLS tile, rows >= rows_valid and 8-element
//                                  chunks >= chunks_valid zero-filled without a global read. s = shared address (u32)
//                                  of the 1024-byte aligned tile. Caller commits / waits (flash::cp_async_commit/wait)
//                                  and then, before the tile is read by wgmma, runs fence_proxy_async() in every
//                                  writing thread and then a barrier (see "Ordering" below).
//  desc_kmajor<ROWS>(s, row0, k0)  descriptor of the operand whose K index is the tile COLUMN (A = Q for S = Q K^T,
//                                  B = K for S = Q K^T): rows row0.. (M or N, row0 % 8 == 0), columns k0..k0+15
//                                  (k0 % 16 == 0). Use with trans = 0.
//  desc_mnmajor<ROWS>(s, k0, n0)   descriptor of the operand whose K index is the tile ROW (B = V for O = P V: V is
//                                  [keys][d], K = keys): rows k0..k0+15 (k0 % 8 == 0, normally % 16), columns n0..
//                                  (M or N, n0 % 64 == 0; N may span several 64-column panels). Use with trans = 1.
//  wgmma_ss<T, N, TRANS_A, TRANS_B>(d, desc_a, desc_b, scale_d)   D(64xN) (+)= A(64x16, smem) * B(16xN, smem)
//  wgmma_rs<T, N, TRANS_B>(d, a, desc_b, scale_d)                 D(64xN) (+)= A(64x16, registers) * B(16xN, smem)
//                                  T = __half or __nv_bfloat16, N in {16, 32, 64, 128, 256}, d = float[N / 2] per
//                                  thread, a = uint32_t[4] (8 x 16-bit), scale_d = 0: D = A B (overwrite), 1: D += A B
//                                  (a run-time value). TRANS = 0: K-major operand, 1: MN-major operand.
//  fence()                         wgmma.fence: before the first wgmma of a batch whose accumulator or A registers
//                                  were written by ordinary instructions (always call before a batch).
//  commit_group(), wait_group<N>() wgmma.commit_group / wgmma.wait_group N (N more recent groups may stay in flight).
//  fence_operand(x)                compiler-level fence on accumulator registers (keeps the compiler from moving
//                                  reads/writes of them across wgmma issue / wait; CUTLASS's warpgroup_fence_operand).
//  fence_proxy_async()             fence.proxy.async.shared::cta: generic-proxy writes to smem (st.shared, cp.async
//                                  after its wait) made visible to the async proxy (wgmma, TMA).
//  warpgroup_reg_alloc<N>() / warpgroup_reg_dealloc<N>()   setmaxnreg.inc / .dec (sm_90a; kernel needs
//                                  __launch_bounds__(threads, 1) and each role in one branch of an if/else).
//  mbar_init(bar, count), mbar_arrive(bar), mbar_wait(bar, parity)   shared-memory mbarriers (bar = shared address
//                                  of an 8-byte aligned uint64_t): init (one thread, then __syncthreads), arrive
//                                  (release.cta), wait for the phase with the given parity to complete (acquire.cta;
//                                  a fresh barrier is in phase 0, so waiting on parity 1 returns at once: producers
//                                  wait on "empty" barriers with parity (iteration / stages + 1) & 1).
//
// ---- Shared-memory layout (128-byte swizzle, "SW128") -------------------------------------------------------------
// A 16-bit tile [ROWS][COLS] (COLS % 64 == 0, ROWS % 8 == 0) is stored as COLS / 64 column panels; each panel is
// ROWS x 64 elements = ROWS * 128 bytes, rows 128 bytes apart, and the 16-byte chunk index inside a row is XORed with
// (row % 8):
//     byte(r, c) = (c / 64) * ROWS * 128 + r * 128 + ((((c % 64) / 8) ^ (r % 8)) * 16) + (c % 8) * 2
// The tile base must be 1024-byte aligned (the hardware applies the XOR to address bits [4,7) from bits [7,10) of
// the absolute shared address, so every 8-row group must start on a 1024-byte boundary). This is exactly the
// canonical wgmma SW128 layout (CUTLASS Layout_K_SW128_Atom / Layout_MN_SW128_Atom tiled over panels) for both
// majorness modes, so no change to the brief's layout was needed:
//   * K-major (trans 0): 8 rows x 64 K-elements per 1024-byte atom, the next 8 rows at +1024 (SBO = 1024), LBO unused
//     ("assumed 1" for swizzled K-major layouts). Stepping K by 16 inside a panel adds 32 bytes to the start address
//     (the hardware swizzles the computed address, so that is legal with base_offset = 0); crossing into the next
//     64-column panel jumps to the next panel (ROWS * 128 bytes).
//   * MN-major (trans 1): 64 MN-elements (one 128-byte row) x 8 K-rows per atom; the next 8 K-rows at +1024 (SBO,
//     PTX: "offset from the first 8 columns to the next 8 columns"), the next 64 MN-elements (next panel) at
//     +ROWS * 128 (LBO, PTX: "offset from the first (swizzle-byte-size/16) rows to the next ... rows").
// Matrix descriptor (PTX ISA "Matrix Descriptor Format"; CUTLASS cute/arch/mma_sm90_desc.hpp GmmaDescriptor):
//   bits [0,14) start address >> 4, [16,30) LBO >> 4, [32,46) SBO >> 4, [49,52) base offset (0: 1024-aligned atoms),
//   [62,64) layout type (1 = 128-byte swizzle).
//
// ---- Register fragments (per thread t of the warpgroup, warp w = t / 32, lane = t % 32) --------------------------
// Accumulator of m64nNk16 (float d[N / 2]):
//     d[4 j + i] -> row 16 w + lane / 4 + 8 * (i / 2),  col 8 j + 2 * (lane % 4) + (i % 2)      (j < N / 8, i < 4)
//   i.e. each warp holds a 16 x N slab exactly as N / 8 mma.sync m16n8 accumulators side by side.
// A operand from registers (RS, m64k16, uint32_t a[4], two 16-bit values per register, low half = lower column):
//     a[0]: row 16 w + lane / 4,     cols 2 (lane % 4) + {0, 1}
//     a[1]: row 16 w + lane / 4 + 8, cols 2 (lane % 4) + {0, 1}
//     a[2]: row 16 w + lane / 4,     cols 8 + 2 (lane % 4) + {0, 1}
//     a[3]: row 16 w + lane / 4 + 8, cols 8 + 2 (lane % 4) + {0, 1}
//   (the mma.sync m16n8k16 A fragment of the warp's 16 rows). So S accumulators of key columns 16 kk .. 16 kk + 15
//   become the P A-fragment of k-step kk as in FA2:
//     a[0] = pack(d[8kk+0], d[8kk+1]), a[1] = pack(d[8kk+2], d[8kk+3]), a[2] = pack(d[8kk+4], d[8kk+5]),
//     a[3] = pack(d[8kk+6], d[8kk+7]).
//
// ---- Ordering -------------------------------------------------------------------------------------------------------
// cp.async / st.shared writes are generic-proxy; wgmma reads shared memory through the async proxy. Each writing
// thread: cp.async.wait_group (its copies done) -> fence_proxy_async() -> barrier (bar.sync / mbarrier arrive);
// readers: barrier -> wgmma. Before overwriting a tile that a wgmma reads, wait_group for that wgmma first.
// wgmma.fence is needed before the first wgmma after registers (accumulators, RS A-fragments) were touched.
#pragma once
#include "../utils.cuh"
#include <cstdint>

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FLASH_SM90_ARCH 1
#endif

namespace flash {
namespace sm90 {

__host__ __device__ constexpr int sw128_offset(int rows, int r, int c) {
  return (c / 64) * rows * 128 + r * 128 + ((((c % 64) / 8) ^ (r % 8)) * 16) + (c % 8) * 2;
}

template <typename T, int ROWS, int COLS, int THREADS>
__device__ __forceinline__ void load_tile_sw128(uint32_t s, const T* g, int64_t gstride, int rows_valid,
                                                int chunks_valid, int tid, const T* fallback) {
  static_assert(sizeof(T) == 2 && COLS % 64 == 0 && ROWS % 8 == 0, "SW128 tile shape");
  constexpr int CH = COLS / 8, TOTAL = ROWS * CH;
  if constexpr (THREADS % CH == 0 && TOTAL % THREADS == 0) {
    // Each thread keeps one chunk column c and rows r0, r0 + RSTEP, ... (RSTEP % 8 == 0 keeps r % 8 fixed, so the
    // swizzled shared offset is a compile-time step).
    constexpr int RSTEP = THREADS / CH, ITERS = TOTAL / THREADS;
    const int r0 = tid / CH, c = tid % CH;
    const bool cok = c < chunks_valid;
    const T* src = g + (int64_t)r0 * gstride + c * 8;
    if constexpr (RSTEP % 8 == 0) {
      const uint32_t dst = s + sw128_offset(ROWS, r0, c * 8);
#pragma unroll
      for (int it = 0; it < ITERS; ++it) {
        const bool ok = cok && r0 + it * RSTEP < rows_valid;
        cp_async16(dst + it * RSTEP * 128, ok ? src : fallback, ok ? 16 : 0);
        src += RSTEP * gstride;
      }
    } else {
#pragma unroll
      for (int it = 0; it < ITERS; ++it) {
        const int r = r0 + it * RSTEP;
        const bool ok = cok && r < rows_valid;
        cp_async16(s + sw128_offset(ROWS, r, c * 8), ok ? src : fallback, ok ? 16 : 0);
        src += RSTEP * gstride;
      }
    }
  } else {
    constexpr int ITERS = (TOTAL + THREADS - 1) / THREADS;
#pragma unroll
    for (int it = 0; it < ITERS; ++it) {
      const int idx = it * THREADS + tid;
      if (TOTAL % THREADS == 0 || idx < TOTAL) {
        const int r = idx / CH, c = idx % CH;
        const bool ok = r < rows_valid && c < chunks_valid;
        cp_async16(s + sw128_offset(ROWS, r, c * 8), ok ? g + (int64_t)r * gstride + c * 8 : fallback, ok ? 16 : 0);
      }
    }
  }
}

// Raw descriptor: 128-byte swizzle, base offset 0.
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo_bytes & 0x3FFFF) >> 4) << 16) |
         ((uint64_t)((sbo_bytes & 0x3FFFF) >> 4) << 32) | (1ull << 62);
}
template <int ROWS>
__device__ __forceinline__ uint64_t desc_kmajor(uint32_t s, int row0, int k0) {
  return make_desc(s + (k0 / 64) * ROWS * 128 + row0 * 128 + (k0 % 64) * 2, 16, 1024);
}
template <int ROWS>
__device__ __forceinline__ uint64_t desc_mnmajor(uint32_t s, int k0, int n0) {
  return make_desc(s + (n0 / 64) * ROWS * 128 + k0 * 128, ROWS * 128, 1024);
}
// Adding bytes to a descriptor's start address (no carry out of the 14-bit field for smem < 256 KB).
__device__ __forceinline__ uint64_t desc_add(uint64_t d, uint32_t bytes) { return d + (bytes >> 4); }

__device__ __forceinline__ void fence() {
#ifdef FLASH_SM90_ARCH
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void commit_group() {
#ifdef FLASH_SM90_ARCH
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wait_group() {
#ifdef FLASH_SM90_ARCH
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
__device__ __forceinline__ void fence_proxy_async() {
#ifdef FLASH_SM90_ARCH
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void fence_operand(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
template <int N>
__device__ __forceinline__ void fence_operand(uint32_t (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(d[i])::"memory");
}
template <int N>
__device__ __forceinline__ void warpgroup_reg_alloc() {
#ifdef FLASH_SM90_ARCH
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}
template <int N>
__device__ __forceinline__ void warpgroup_reg_dealloc() {
#ifdef FLASH_SM90_ARCH
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
#ifdef FLASH_SM90_ARCH
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#ifdef FLASH_SM90_ARCH
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity) {
#ifdef FLASH_SM90_ARCH
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
#endif
}

// ---- wgmma.mma_async wrappers (operand lists generated; see FLASH_WG_* below) ----
#define FLASH_WG_D16 "{%0,%1,%2,%3,%4,%5,%6,%7}"
#define FLASH_WG_C16(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
#define FLASH_WG_SS_PRED16 "setp.ne.b32 p, %10, 0;\n"
#define FLASH_WG_SS_TAIL16 ", %8, %9, p, 1, 1, %11, %12;\n"
#define FLASH_WG_RS_PRED16 "setp.ne.b32 p, %13, 0;\n"
#define FLASH_WG_RS_TAIL16 ", {%8,%9,%10,%11}, %12, p, 1, 1, %14;\n"
#define FLASH_WG_D32 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15}"
#define FLASH_WG_C32(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
#define FLASH_WG_SS_PRED32 "setp.ne.b32 p, %18, 0;\n"
#define FLASH_WG_SS_TAIL32 ", %16, %17, p, 1, 1, %19, %20;\n"
#define FLASH_WG_RS_PRED32 "setp.ne.b32 p, %21, 0;\n"
#define FLASH_WG_RS_TAIL32 ", {%16,%17,%18,%19}, %20, p, 1, 1, %22;\n"
#define FLASH_WG_D64 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}"
#define FLASH_WG_C64(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define FLASH_WG_SS_PRED64 "setp.ne.b32 p, %34, 0;\n"
#define FLASH_WG_SS_TAIL64 ", %32, %33, p, 1, 1, %35, %36;\n"
#define FLASH_WG_RS_PRED64 "setp.ne.b32 p, %37, 0;\n"
#define FLASH_WG_RS_TAIL64 ", {%32,%33,%34,%35}, %36, p, 1, 1, %38;\n"
#define FLASH_WG_D128 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}"
#define FLASH_WG_C128(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
#define FLASH_WG_SS_PRED128 "setp.ne.b32 p, %66, 0;\n"
#define FLASH_WG_SS_TAIL128 ", %64, %65, p, 1, 1, %67, %68;\n"
#define FLASH_WG_RS_PRED128 "setp.ne.b32 p, %69, 0;\n"
#define FLASH_WG_RS_TAIL128 ", {%64,%65,%66,%67}, %68, p, 1, 1, %70;\n"
#define FLASH_WG_D256 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}"
#define FLASH_WG_C256(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
#define FLASH_WG_SS_PRED256 "setp.ne.b32 p, %130, 0;\n"
#define FLASH_WG_SS_TAIL256 ", %128, %129, p, 1, 1, %131, %132;\n"
#define FLASH_WG_RS_PRED256 "setp.ne.b32 p, %133, 0;\n"
#define FLASH_WG_RS_TAIL256 ", {%128,%129,%130,%131}, %132, p, 1, 1, %134;\n"

template <typename T, int N> struct Wgmma;

#ifdef FLASH_SM90_ARCH
#define FLASH_WG_SPEC(TY, TS, N)                                                                                     \
  template <> struct Wgmma<TY, N> {                                                                                  \
    template <int TA, int TB>                                                                                        \
    static __device__ __forceinline__ void ss(float (&d)[N / 2], uint64_t da, uint64_t db, int scale_d) {            \
      asm volatile("{\n.reg .pred p;\n" FLASH_WG_SS_PRED##N "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TS     \
                   "." TS " " FLASH_WG_D##N FLASH_WG_SS_TAIL##N "}\n"                                                \
                   : FLASH_WG_C##N(d)                                                                                \
                   : "l"(da), "l"(db), "r"(scale_d), "n"(TA), "n"(TB));                                              \
    }                                                                                                                \
    template <int TB>                                                                                                \
    static __device__ __forceinline__ void rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t db, int scale_d) { \
      asm volatile("{\n.reg .pred p;\n" FLASH_WG_RS_PRED##N "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TS     \
                   "." TS " " FLASH_WG_D##N FLASH_WG_RS_TAIL##N "}\n"                                                \
                   : FLASH_WG_C##N(d)                                                                                \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d), "n"(TB));                    \
    }                                                                                                                \
  };
#else
#define FLASH_WG_SPEC(TY, TS, N)                                                                                     \
  template <> struct Wgmma<TY, N> {                                                                                  \
    template <int TA, int TB>                                                                                        \
    static __device__ __forceinline__ void ss(float (&)[N / 2], uint64_t, uint64_t, int) { __trap(); }              \
    template <int TB>                                                                                                \
    static __device__ __forceinline__ void rs(float (&)[N / 2], const uint32_t (&)[4], uint64_t, int) { __trap(); }  \
  };
#endif
#define FLASH_WG_SPEC_BOTH(N) FLASH_WG_SPEC(__half, "f16", N) FLASH_WG_SPEC(__nv_bfloat16, "bf16", N)
FLASH_WG_SPEC_BOTH(16)
FLASH_WG_SPEC_BOTH(32)
FLASH_WG_SPEC_BOTH(64)
FLASH_WG_SPEC_BOTH(128)
FLASH_WG_SPEC_BOTH(256)
#undef FLASH_WG_SPEC_BOTH
#undef FLASH_WG_SPEC

template <typename T, int N, int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  Wgmma<T, N>::template ss<TRANS_A, TRANS_B>(d, desc_a, desc_b, scale_d);
}
template <typename T, int N, int TRANS_B>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc_b, int scale_d) {
  Wgmma<T, N>::template rs<TRANS_B>(d, a, desc_b, scale_d);
}

}  // namespace sm90
}  // namespace flash
