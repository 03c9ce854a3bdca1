/**
 * Probe: a fused attention forward on int8 tensor cores (Dawn's subgroup matrices), both products from Ozaki slices
 * (docs/tensor-core-path.md). Question answered: how fast can S = QKᵀ, the softmax and O = PV run in one kernel
 * through Dawn on this GPU — is the path worth building into the backend?
 *
 * Scheme: Q, K sliced per row and V per column (over the whole sequence) into SL signed 7-bit slices with a
 * power-of-two scale, on the CPU here (a pre-pass on the GPU in a real build). The row maxima m are given (exact,
 * from the CPU: in a real build a stats pass or a bound), so P = exp2(s - m) is in [0, 1] for every key tile, is
 * sliced with the fixed scale 2 and the int32 accumulators of O run over all key tiles: one f32 combine at the end.
 * Timing covers the fused kernel only (not the max pass).
 *
 * Layout: RBW row blocks of 16 query rows per workgroup; SPLIT subgroups per row block split the head dim of O
 * (each computes the block's S in full: duplicated, no extra barrier). Per key tile of 32 keys: K and V slices staged
 * in workgroup memory; S's weight accumulators stored column-major (stride 16) for the softmax, read conflict-free
 * by lanes (row = lane & 15, half = lane >> 4); P's slices written over the K slices (free after S).
 *
 * Run on the GPU machine: node fused.js [d=128] [n=4096] [heads=64] [SL=4] [RBW=2] [SPLIT=2]
 * Checks rows 0-31 of head 0 against float64 and against naive f32 attention (the criterion's baseline).
 */
import { create, globals } from 'webgpu';
import { attentionReference, probeCli, randn, timeAndCheck } from './probe-common.js';

Object.assign(globalThis, globals);
const { out, log, D, N, H } = probeCli('fused');
// SL:RBW:SPLIT[:flags] — flags (compile bisection, results wrong on purpose): c S stored row-major, v V loaded
// column-major, i no per-subgroup branch around stores, s no subgroup shuffles, p no P through a left matrix from
// workgroup memory (the Q slices instead). Timing-only ablations: K no K/V staging from global memory, Q no S
// MMAs, P no PV MMAs.
const CONFIGS = (process.argv.slice(5).length ? process.argv.slice(5) : ['4:2:2']).map((c) => { const [a, b, d, f] = c.split(':'); return [Number(a), Number(b), Number(d), f ?? ''] as [number, number, number, string]; });
const SLMAX = 4; // slices made (a kernel of SL slices uses the first SL: the same greedy split)
const BK = 32;
const CH = D / 32; // 32-wide chunks of the head dim (the MMA's K)
const SCALE = Math.LOG2E / Math.sqrt(D);
const W = (n: number) => `${n}u`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Row-wise split: sl[s][r * cols + k] in [-64, 64] and e[r] with |x| / 2^e <= 1/2 (one row = `cols` values). */
function splitRows(x: Float32Array, rows: number, cols: number) {
  const sl = Array.from({ length: SLMAX }, () => new Int8Array(rows * cols));
  const e = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(x[r * cols + k]!));
    const ex = m === 0 ? 0 : Math.ceil(Math.log2(m)) + 1;
    e[r] = 2 ** ex;
    for (let k = 0; k < cols; k++) {
      let v = (x[r * cols + k]! / 2 ** ex) * 128;
      for (let s = 0; s < SLMAX; s++) { const a = Math.round(v); sl[s]![r * cols + k] = a; v = (v - a) * 128; }
    }
  }
  return { sl, e };
}
/** Column-wise split of V (rows = keys): one scale per column over all keys. */
function splitCols(x: Float32Array, rows: number, cols: number) {
  const sl = Array.from({ length: SLMAX }, () => new Int8Array(rows * cols));
  const e = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    let m = 0;
    for (let r = 0; r < rows; r++) m = Math.max(m, Math.abs(x[r * cols + c]!));
    const ex = m === 0 ? 0 : Math.ceil(Math.log2(m)) + 1;
    e[c] = 2 ** ex;
    for (let r = 0; r < rows; r++) {
      let v = (x[r * cols + c]! / 2 ** ex) * 128;
      for (let s = 0; s < SLMAX; s++) { const a = Math.round(v); sl[s]![r * cols + c] = a; v = (v - a) * 128; }
    }
  }
  return { sl, e };
}

// FUSED_WGSL_DIR: only write each configuration's WGSL there (fused-D-SL-RBW-SPLIT[-flags].wgsl) and stop.
if (process.env.FUSED_WGSL_DIR) {
  const { writeFileSync } = await import('node:fs');
  for (const [SL, RBW, SPLIT, FL] of CONFIGS) writeFileSync(`${process.env.FUSED_WGSL_DIR}/fused-${D}-${SL}-${RBW}-${SPLIT}${FL ? `-${FL}` : ''}.wgsl`, gen(SL, RBW, SPLIT, FL));
  process.exit(0);
}
// One head's data, replicated into every head's slot (distinct addresses: the global traffic of H heads).
const q = randn(N * D), k = randn(N * D), v = randn(N * D);
const qs = splitRows(q, N, D), ks = splitRows(k, N, D), vs = splitCols(v, N, D);
// Exact row maxima of s = q·k · log2(e)/sqrt(d) (float64), the probe's stand-in for a stats pass.
const M = new Float32Array(N);
for (let r = 0; r < N; r++) {
  let m = -Infinity;
  for (let c = 0; c < N; c++) { let s = 0; for (let x = 0; x < D; x++) s += q[r * D + x]! * k[c * D + x]!; m = Math.max(m, s * SCALE); }
  M[r] = m;
}
const perHead = (sl: Int8Array[]) => { const b = new Int8Array(H * SLMAX * N * D); for (let h = 0; h < H; h++) sl.forEach((s, i) => b.set(s, (h * SLMAX + i) * N * D)); return new Int32Array(b.buffer); };

const gpu = create(['enable-dawn-features=allow_unsafe_apis']);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter?.features.has('chromium-experimental-subgroup-matrix')) { out({ error: 'no subgroup matrices here' }); process.exit(0); }
const device = await adapter.requestDevice({
  requiredFeatures: ['chromium-experimental-subgroup-matrix', 'subgroups', 'timestamp-query'] as GPUFeatureName[],
  requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
});

// Dawn stops delivering events once its instance is garbage collected: held for the whole run.
(globalThis as Record<string, unknown>).__keepDawn = [gpu, adapter];
device.lost.then((i) => log(`device lost: ${i.reason} ${i.message}`));
device.addEventListener('uncapturederror', (e) => log(`uncaptured: ${(e as GPUUncapturedErrorEvent).error.message}`));
log(`setup done (d ${D}, n ${N}, heads ${H})`);

const ref = attentionReference(q, k, v, N, D);
const buf = (data: ArrayBufferView) => {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
};
const rep = (a: Float32Array) => { const b = new Float32Array(H * a.length); for (let i = 0; i < H; i++) b.set(a, i * a.length); return b; };
const bufs = [buf(perHead(qs.sl)), buf(perHead(ks.sl)), buf(perHead(vs.sl)), buf(rep(qs.e)), buf(rep(ks.e)), buf(rep(vs.e)), buf(rep(M))];
const Ob = device.createBuffer({ size: H * N * D * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
for (const [SL, RBW, SPLIT, FL] of CONFIGS) {
  try { await runConfig(SL, RBW, SPLIT, FL); } catch (e) { out({ slices: SL, rowBlocks: RBW, split: SPLIT, flags: FL, error: String(e) }); }
}
process.exit(0);

async function runConfig(SL: number, RBW: number, SPLIT: number, FL: string) {
  const cfg = { flags: FL, d: D, n: N, heads: H, slices: SL, products: (SL * (SL + 1)) / 2, rowBlocks: RBW, split: SPLIT, threads: 32 * RBW * SPLIT };
  const code = gen(SL, RBW, SPLIT, FL);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  if (errs.length) { await device.popErrorScope(); out({ ...cfg, compileErrors: errs.slice(0, 5) }); return; }
  log(`${cfg.slices}:${cfg.rowBlocks}:${cfg.split} module ok`);
  const tc = performance.now();
  const pipeline = process.env.FUSED_ASYNC ? await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } }) : device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const compileMs = performance.now() - tc;
  log(`pipeline ok (${Math.round(compileMs)} ms)`);
  device.queue.writeBuffer(Ob, 0, rep(new Float32Array(N * D).fill(NaN))); // poisoned: an unwritten element shows
  const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [...bufs, Ob].map((b, i) => ({ binding: i, resource: { buffer: b } })) });
  const e0 = await device.popErrorScope();
  if (e0) { out({ ...cfg, error: e0.message }); return; }
  const r = await timeAndCheck({ device, pipeline, bindGroup: bg, groups: [N / (16 * RBW), H], out: Ob, N, D, H, ref, log });
  out({ probe: 'fused-mma', ...cfg, compileMs: Math.round(compileMs), ...r });

}


/** The fused kernel's WGSL for SL slices, RBW row blocks of 16 rows per workgroup, SPLIT subgroups per row block. */
function gen(SL: number, RBW: number, SPLIT: number, FL = ''): string {
  const has = (c: string) => FL.includes(c);
  const guard = (cond: string, body: string) => (has('i') ? body : `if (${cond}) { ${body} }`);
  const NCB = D / 16 / SPLIT; // 16-column blocks of O per subgroup
  const SGW = RBW * SPLIT;
  const TILE_WORDS = (SL * BK * D) / 4;
  const ACC_WORDS = Math.max(RBW * SL * 16 * BK, SGW * SL * 256);
  const stage = (dst: string, src: string) => `    for (var e = t; e < ${W((SL * BK * D) / 16)}; e += ${W(32 * SGW)}) {
        let s = e / ${W((BK * D) / 16)}; let w = e - s * ${W((BK * D) / 16)};
        let x = ${src}[(hb + s * ${W(N * D)} + n0 * ${W(D)}) / 16u + w];
        ${dst}[e * 4u] = x.x; ${dst}[e * 4u + 1u] = x.y; ${dst}[e * 4u + 2u] = x.z; ${dst}[e * 4u + 3u] = x.w;
      }`;
  // Which subgroup of a row block stores which weight class of S (the SPLIT subgroups hold identical S).
  const storer = (w: number) => w % SPLIT;
    return `enable chromium_experimental_subgroup_matrix;
  enable subgroups;
  diagnostic(off, chromium.subgroup_matrix_uniformity);
  @group(0) @binding(0) var<storage, read> QS: array<i32>;
  @group(0) @binding(1) var<storage, read> KS: array<vec4<i32>>;
  @group(0) @binding(2) var<storage, read> VS: array<vec4<i32>>;
  @group(0) @binding(3) var<storage, read> EQ: array<f32>;
  @group(0) @binding(4) var<storage, read> EK: array<f32>;
  @group(0) @binding(5) var<storage, read> EV: array<f32>;
  @group(0) @binding(6) var<storage, read> MR: array<f32>;
  @group(0) @binding(7) var<storage, read_write> O: array<f32>;
  var<workgroup> kb: array<i32, ${TILE_WORDS}>;
  var<workgroup> vb: array<i32, ${TILE_WORDS}>;
  var<workgroup> accs: array<i32, ${ACC_WORDS}>;
  fn pk(a: f32, b: f32, c: f32, d: f32) -> i32 {
    return bitcast<i32>((u32(i32(a)) & 255u) | ((u32(i32(b)) & 255u) << 8u) | ((u32(i32(c)) & 255u) << 16u) | ((u32(i32(d)) & 255u) << 24u));
  }
  @compute @workgroup_size(${32 * SGW})
  fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let sg = t / 32u; let lane = t % 32u;
    let rb = sg / ${W(SPLIT)}; let h = sg % ${W(SPLIT)};
    let head = wid.y;
    let hb = head * ${W(SLMAX * N * D)};
    let q0 = wid.x * ${W(16 * RBW)} + rb * 16u;
    ${range(SL * CH).map((x) => { const i = Math.floor(x / CH), c = x % CH; return `let a${i}_${c} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&QS, hb + ${W(i * N * D)} + q0 * ${W(D)} + ${W(c * 32)}, false, ${W(D)});`; }).join('\n  ')}
    ${range(NCB * SL).map((x) => `var o${Math.floor(x / SL)}_${x % SL} = subgroup_matrix_result<i32, 16, 16>();`).join('\n  ')}
    // This lane's row of the block and half of the key tile (softmax), its row's max and running sum.
    let r = lane & 15u; let half = lane >> 4u;
    let row = q0 + r;
    let mrow = MR[row];
    let sq = EQ[row] * ${SCALE};
    var l = 0.0;
    let accBase = rb * ${W(SL * 16 * BK)};
    let pBase = rb * ${W((SL * 16 * BK) / 4)}; // words of this block's P slices (in kb)
    for (var n0 = 0u; n0 < ${W(N)}; n0 += ${W(BK)}) {
      workgroupBarrier();
  ${has('K') ? '' : stage('kb', 'KS')}
  ${has('K') ? '' : stage('vb', 'VS')}
      workgroupBarrier();
      ${range(BK / 16).map((nb) => `{
        ${range(SL).map((w) => `var c${w} = subgroup_matrix_result<i32, 16, 16>();`).join(' ')}
        ${range(SL * CH).map((x) => {
          const j = Math.floor(x / CH), c = x % CH;
          const uses = has('Q') ? [] : range(SL).filter((i) => i + j < SL).map((i) => `c${i + j} = subgroupMatrixMultiplyAccumulate(a${i}_${c}, b, c${i + j});`);
          return `{ let b = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&kb, ${W(j * BK * D + nb * 16 * D + c * 32)}, true, ${W(D)}); ${uses.join(' ')} }`;
        }).join('\n      ')}
        ${range(SL).map((w) => guard(`h == ${W(storer(w))}`, has('c') ? `subgroupMatrixStore(&accs, accBase + ${W(w * 16 * BK + nb * 16)}, c${w}, false, ${W(BK)});` : `subgroupMatrixStore(&accs, accBase + ${W(w * 16 * BK + nb * 256)}, c${w}, true, 16u);`)).join('\n      ')}
      }`).join('\n    ')}
      workgroupBarrier();
      // Softmax: this lane's 16 keys (k = half * 16 + (j + half) % 16: the two halves hit different banks).
      ${range(16).map((j) => `var p${j}: f32;`).join(' ')}
      ${range(16).map((j) => `{
        let col = half * 16u + ((${W(j)} + half) & 15u);
        let ek = EK[n0 + col] * sq;
        var s = 0.0;
        ${range(SL).map((w) => `s = s + f32(accs[accBase + ${W(w * 16 * BK)} + col * 16u + r]) * (ek * ${2 ** (-14 - 7 * w)});`).join(' ')}
        p${j} = exp2(s - mrow);
        l = l + p${j};
      }`).join('\n    ')}
      // Keys of this lane in order: p at step j is key (j + half) % 16 of the half.
      ${range(16).map((kk) => `let k${kk} = select(p${kk}, p${(kk + 15) % 16}, half == 1u);`).join(' ')}
      ${range(SL).map((i) => `var w${i}_0: i32; var w${i}_1: i32; var w${i}_2: i32; var w${i}_3: i32;`).join(' ')}
      {
        ${range(16).map((kk) => `var v${kk} = k${kk} * 64.0;`).join(' ')}
        ${range(SL).map((i) => `{
          ${range(16).map((kk) => `let a${kk} = round(v${kk}); v${kk} = (v${kk} - a${kk}) * 128.0;`).join(' ')}
          ${range(4).map((g) => `w${i}_${g} = pk(a${4 * g}, a${4 * g + 1}, a${4 * g + 2}, a${4 * g + 3});`).join(' ')}
        }`).join('\n      ')}
      }
      // P's slices over the K slices (free now), row-major 16 x 32 bytes per slice; word order rotated by r / 4.
      for (var g = 0u; g < 4u; g++) {
        let gg = (g + (r >> 2u)) & 3u;
        let at = pBase + r * 8u + half * 4u + gg;
        ${range(SL).map((i) => guard(`h == ${W(i % SPLIT)}`, `kb[at + ${W(i * 128)}] = select(select(w${i}_0, w${i}_1, gg == 1u), select(w${i}_2, w${i}_3, gg == 3u), gg >= 2u);`)).join('\n      ')}
      }
      workgroupBarrier();
      ${range(SL).map((i) => has('p') ? `let pa${i} = a${i}_0;` : `let pa${i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&kb, (pBase + ${W(i * 128)}) * 4u, false, 32u);`).join('\n    ')}
      ${range(NCB * SL).map((x) => {
        const cb = Math.floor(x / SL), j = x % SL;
        const uses = has('P') ? [] : range(SL).filter((i) => i + j < SL).map((i) => `o${cb}_${i + j} = subgroupMatrixMultiplyAccumulate(pa${i}, b, o${cb}_${i + j});`);
        return `{ let b = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&vb, ${W(j * BK * D)} + (h * ${W(NCB)} + ${W(cb)}) * 16u, ${has('v')}, ${W(D)}); ${uses.join(' ')} }`;
      }).join('\n    ')}
    }
    // The row's sum: the two halves, then each lane fetches the sums of the rows it writes.
    let lrow = ${has('s') ? 'l' : 'l + subgroupShuffleXor(l, 16u)'};
    ${range(NCB).map((cb) => `workgroupBarrier();
    ${range(SL).map((w) => `subgroupMatrixStore(&accs, sg * ${W(SL * 256)} + ${W(w * 256)}, o${cb}_${w}, false, 16u);`).join(' ')}
    workgroupBarrier();
    for (var x = 0u; x < 8u; x++) {
      let e = lane + x * 32u; let rr = e / 16u; let cc = (h * ${W(NCB)} + ${W(cb)}) * 16u + e % 16u;
      var acc = 0.0;
      ${range(SL).map((w) => `acc = acc + f32(accs[sg * ${W(SL * 256)} + ${W(w * 256)} + e]) * ${2 ** (1 - 14 - 7 * w)};`).join(' ')}
      O[(head * ${W(N)} + q0 + rr) * ${W(D)} + cc] = acc * EV[cc] / ${has('s') ? 'lrow' : 'subgroupShuffle(lrow, rr)'};
    }`).join('\n  ')}
  }`;
}
