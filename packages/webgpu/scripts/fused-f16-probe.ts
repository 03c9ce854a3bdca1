/**
 * Probe: a fused attention forward on f16 tensor cores with f32 accumulation (Dawn's subgroup matrices, 16x16x16
 * f16 -> f32; on NVIDIA's Vulkan driver only with Dawn's toggle vulkan_enable_f16_on_nvidia), exact enough for f32
 * through a hi/lo split ("3xTF32" with f16 pieces): x = hi + lo, both f16, and a·b ≈ hi·hi + hi·lo + lo·hi.
 *
 * Scaling (f16's range): each Q and K row by a power of two so that its largest |x| is 2^14 (one scale per row,
 * undone on S per element), V by one power of two per head, P by 2^14 (P <= 1: the row maxima are given). The row
 * maxima m come from the CPU (in a build: a stats pass or a lazy rescale), so P = exp2(s - m) <= 1 for every key tile
 * and O accumulates in the f32 result matrices over all key tiles: one combine at the end.
 *
 * Layout: RBW subgroups per workgroup, each owning 16 query rows and all head-dim columns of O. Per key tile of 32
 * keys: K and V (hi and lo) staged in workgroup memory as f16; each subgroup's S (f32, 16 x 32) stored for the
 * softmax (column-major: lanes read conflict-free), P's hi/lo written over the K tile (free after S), then P·V.
 *
 * Run on the GPU machine: node fusedf16.js [d=128] [n=4096] [heads=64] [RBW[:flags]...]
 * flags (timing only, results wrong on purpose): Q no S MMAs, P no PV MMAs, 1 one product per MMA step (hi·hi only:
 * plain f16 precision, for the cost of the split); r P's hi/lo by an f16 round trip (f16(x), f16(x - f32(f16(x))))
 * instead of cutting the mantissa. Checks rows 0-31 of head 0 against float64 and naive f32.
 */
import { globals } from 'webgpu';
import { attentionReference, fromF16, openF16MatrixDevice, probeCli, randn, timeAndCheck, toF16 } from './probe-common.js';

Object.assign(globalThis, globals);
const { out, log, D, N, H } = probeCli('fusedf16');
// RBW[:flags], or hRB[:flags] for the hybrid kernel (S on the tensor cores, softmax and P·V on the f32 units).
const CONFIGS = (process.argv.slice(5).length ? process.argv.slice(5) : ['4']).map((c) => { const [a, f] = c.split(':'); return [a!, f ?? ''] as [string, string]; });
const BK = 32;
const SCALE = Math.LOG2E / Math.sqrt(D);
const W = (n: number) => `${n}u`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** hi/lo f16 bits of x (already scaled): hi = f16(x), lo = f16(x - hi). */
const split = (x: number): [number, number] => { const hi = toF16(x); return [hi, toF16(x - fromF16(hi))]; };

/** Rows of `cols` values, each scaled by 2^(14 - ceil(log2 max|row|)): hi/lo planes and the inverse scales. */
function splitRows(x: Float32Array, rows: number, cols: number) {
  const hi = new Uint16Array(rows * cols), lo = new Uint16Array(rows * cols), inv = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(x[r * cols + k]!));
    const e = m === 0 ? 0 : 14 - Math.ceil(Math.log2(m));
    inv[r] = 2 ** -e;
    for (let k = 0; k < cols; k++) { const [h, l] = split(x[r * cols + k]! * 2 ** e); hi[r * cols + k] = h; lo[r * cols + k] = l; }
  }
  return { hi, lo, inv };
}

// FUSED_WGSL_ONLY=DIR: write each configuration's WGSL there and stop (no GPU).
if (process.env.FUSED_WGSL_ONLY) {
  const { writeFileSync } = await import('node:fs');
  for (const [C, FL] of CONFIGS) writeFileSync(`${process.env.FUSED_WGSL_ONLY}/fusedf16-${D}-${C}${FL ? `-${FL}` : ''}.wgsl`, C.startsWith('p') ? genPipe(Number(C.slice(1)), FL) : C.startsWith('h') ? genHybrid(Number(C.slice(1)), FL) : gen(Number(C), FL));
  process.exit(0);
}
const q = randn(N * D), k = randn(N * D), v = randn(N * D);
const qs = splitRows(q, N, D), ks = splitRows(k, N, D);
// V: one scale for the head.
let vmax = 0;
for (const x of v) vmax = Math.max(vmax, Math.abs(x));
const ve = 14 - Math.ceil(Math.log2(vmax));
const vs = splitRows(v, 1, N * D); // one "row": the whole head (same scale rule)
const M = new Float32Array(N);
for (let r = 0; r < N; r++) {
  let m = -Infinity;
  for (let c = 0; c < N; c++) { let s = 0; for (let x = 0; x < D; x++) s += q[r * D + x]! * k[c * D + x]!; m = Math.max(m, s * SCALE); }
  M[r] = m;
}
// Per head: [hi plane][lo plane], each N x D f16 (the same data in every head's slot).
const planes = (hi: Uint16Array, lo: Uint16Array) => { const b = new Uint16Array(H * 2 * N * D); for (let h = 0; h < H; h++) { b.set(hi, (2 * h) * N * D); b.set(lo, (2 * h + 1) * N * D); } return b; };

const device = await openF16MatrixDevice(out, log);
if (!device) process.exit(0);
log(`setup done (d ${D}, n ${N}, heads ${H}, V scale 2^${ve})`);

const ref = attentionReference(q, k, v, N, D);
const buf = (data: ArrayBufferView) => {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
};
const vf = new Float32Array(H * N * D); for (let h = 0; h < H; h++) vf.set(v, h * N * D);
const bufs = [buf(planes(qs.hi, qs.lo)), buf(planes(ks.hi, ks.lo)), buf(planes(vs.hi, vs.lo)), buf(qs.inv), buf(ks.inv), buf(new Float32Array([vs.inv[0]!, 0, 0, 0])), buf(M), undefined, buf(vf)];
const Ob = device.createBuffer({ size: H * N * D * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
for (const [C, FL] of CONFIGS) {
  try { await runConfig(C, FL); } catch (e) { out({ config: C, flags: FL, error: String(e) }); }
}
process.exit(0);

async function runConfig(C: string, FL: string) {
  const hybrid = C.startsWith('h'), pipe = C.startsWith('p');
  const RBW = Number(hybrid || pipe ? C.slice(1) : C); // pipe: rows per workgroup
  const cfg = { probe: pipe ? 'pipelined-hybrid-f16' : hybrid ? 'hybrid-f16' : 'fused-f16', flags: FL, d: D, n: N, heads: H, rowBlocks: pipe ? RBW / 16 : RBW, threads: hybrid || pipe ? 256 : 32 * RBW };
  const code = pipe ? genPipe(RBW, FL) : hybrid ? genHybrid(RBW, FL) : gen(RBW, FL);
  const binds = hybrid || pipe ? [0, 1, 3, 4, 8] : [0, 1, 2, 3, 4, 5, 6];
  const rowsPerGroup = pipe ? RBW : 16 * RBW;
  if (process.env.FUSED_WGSL_DIR) { (await import('node:fs')).writeFileSync(`${process.env.FUSED_WGSL_DIR}/fusedf16-${D}-${C}${FL ? `-${FL}` : ''}.wgsl`, code); }
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  if (errs.length) { await device.popErrorScope(); out({ ...cfg, compileErrors: errs.slice(0, 5) }); return; }
  log(`${C}:${FL} module ok`);
  const tc = performance.now();
  // Synchronous: Dawn 0.6.2's async creation aborted the process on these kernels.
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const compileMs = performance.now() - tc;
  log(`pipeline ok (${Math.round(compileMs)} ms)`);
  const poison = new Float32Array(N * D).fill(NaN);
  for (let h = 0; h < H; h++) device.queue.writeBuffer(Ob, h * N * D * 4, poison); // an unwritten element shows
  const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [...binds.map((i) => ({ binding: i, resource: { buffer: bufs[i]! } })), { binding: 7, resource: { buffer: Ob } }] });
  const e0 = await device.popErrorScope();
  if (e0) { out({ ...cfg, error: e0.message }); return; }
  const r = await timeAndCheck({ device, pipeline, bindGroup: bg, groups: [N / rowsPerGroup, H], out: Ob, N, D, H, ref, log });
  out({ ...cfg, compileMs: Math.round(compileMs), ...r });

}


/** The kernel: RBW subgroups of 16 query rows each; flags as in the header. */
function gen(RBW: number, FL = ''): string {
  const has = (c: string) => FL.includes(c);
  const KD = D / 16; // k-steps of S over the head dim; column blocks of O
  const TILE = 2 * BK * D; // f16 elements of one staged tile (hi and lo planes)
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  // The three products of a hi/lo pair, small ones first (the `1` flag: hi·hi only).
  const mma3 = (acc: string, ah: string, al: string, bh: string, bl: string) => has('1')
    ? `${acc} = subgroupMatrixMultiplyAccumulate(${ah}, ${bh}, ${acc});`
    : `${acc} = subgroupMatrixMultiplyAccumulate(${al}, ${bh}, ${acc}); ${acc} = subgroupMatrixMultiplyAccumulate(${ah}, ${bl}, ${acc}); ${acc} = subgroupMatrixMultiplyAccumulate(${ah}, ${bh}, ${acc});`;
  const stage = (dst: string, src: string) => `    for (var e = t; e < ${W(TILE / 4)}; e += ${W(32 * RBW)}) {
      let pl = e / ${W((BK * D) / 4)}; let w = e - pl * ${W((BK * D) / 4)};
      let x = ${src}[(hb + pl * ${W(N * D)} + n0 * ${W(D)}) / 4u + w];
      ${dst}[e * 4u] = x.x; ${dst}[e * 4u + 1u] = x.y; ${dst}[e * 4u + 2u] = x.z; ${dst}[e * 4u + 3u] = x.w;
    }`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> QS: array<f16>;
@group(0) @binding(1) var<storage, read> KS: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> VS: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> EQ: array<f32>;
@group(0) @binding(4) var<storage, read> EK: array<f32>;
@group(0) @binding(5) var<storage, read> EV: array<f32>;
@group(0) @binding(6) var<storage, read> MR: array<f32>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;
var<workgroup> kb: array<f16, ${TILE}>;
var<workgroup> vb: array<f16, ${TILE}>;
var<workgroup> sacc: array<f32, ${RBW * 16 * BK}>;
@compute @workgroup_size(${32 * RBW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let sg = t / 32u; let lane = t % 32u;
  let head = wid.y;
  let hb = head * ${W(2 * N * D)};
  let q0 = wid.x * ${W(16 * RBW)} + sg * 16u;
  ${range(KD).map((c) => `let qh${c} = subgroupMatrixLoad<${L}>(&QS, hb + q0 * ${W(D)} + ${W(c * 16)}, false, ${W(D)}); let ql${c} = subgroupMatrixLoad<${L}>(&QS, hb + ${W(N * D)} + q0 * ${W(D)} + ${W(c * 16)}, false, ${W(D)});`).join('\n  ')}
  ${range(KD).map((c) => `var o${c} = ${C}();`).join(' ')}
  // This lane's row of the block and half of the key tile (softmax).
  let r = lane & 15u; let half = lane >> 4u;
  let row = q0 + r;
  let mrow = MR[row];
  let sq = EQ[row] * ${SCALE};
  var l = 0.0;
  let sBase = sg * ${W(16 * BK)};
  let pBase = sg * ${W(2 * 16 * BK)}; // this subgroup's P (hi, lo; 16 x ${BK} each) over the K tile
  for (var n0 = 0u; n0 < ${W(N)}; n0 += ${W(BK)}) {
    workgroupBarrier();
${stage('kb', 'KS')}
${stage('vb', 'VS')}
    workgroupBarrier();
    ${range(BK / 16).map((nb) => `{
      var c = ${C}();
      ${has('Q') ? '' : range(KD).map((c) => `{ let bh = subgroupMatrixLoad<${R}>(&kb, ${W(nb * 16 * D + c * 16)}, true, ${W(D)}); let bl = subgroupMatrixLoad<${R}>(&kb, ${W(BK * D + nb * 16 * D + c * 16)}, true, ${W(D)}); ${mma3('c', `qh${c}`, `ql${c}`, 'bh', 'bl')} }`).join('\n      ')}
      subgroupMatrixStore(&sacc, sBase + ${W(nb * 256)}, c, true, 16u);
    }`).join('\n    ')}
    workgroupBarrier();
    // Softmax over this lane's 16 keys (k = half * 16 + (j + half) % 16: the two halves hit different banks).
    for (var j = 0u; j < 16u; j++) {
      let col = half * 16u + ((j + half) & 15u);
      let s = sacc[sBase + col * 16u + r] * (EK[n0 + col] * sq);
      let p = exp2(s - mrow);
      l = l + p;
      let ps = p * 16384.0;
      ${has('r') ? `let ph = f16(ps);
      kb[pBase + r * ${W(BK)} + col] = ph;
      kb[pBase + ${W(16 * BK)} + r * ${W(BK)} + col] = f16(ps - f32(ph));` : `// hi: ps with its mantissa cut to f16's 10 bits (exact in f16 for ps >= 2^-14), lo: the rest.
      let hi = bitcast<f32>(bitcast<u32>(ps) & 0xffffe000u);
      kb[pBase + r * ${W(BK)} + col] = f16(hi);
      kb[pBase + ${W(16 * BK)} + r * ${W(BK)} + col] = f16(ps - hi);`}
    }
    workgroupBarrier();
    ${range(BK / 16).map((ks) => `{
      let ph = subgroupMatrixLoad<${L}>(&kb, pBase + ${W(ks * 16)}, false, ${W(BK)}); let pl = subgroupMatrixLoad<${L}>(&kb, pBase + ${W(16 * BK + ks * 16)}, false, ${W(BK)});
      ${has('P') ? '' : range(KD).map((cb) => `{ let vh = subgroupMatrixLoad<${R}>(&vb, ${W(ks * 16 * D + cb * 16)}, false, ${W(D)}); let vl = subgroupMatrixLoad<${R}>(&vb, ${W(BK * D + ks * 16 * D + cb * 16)}, false, ${W(D)}); ${mma3(`o${cb}`, 'ph', 'pl', 'vh', 'vl')} }`).join('\n      ')}
    }`).join('\n    ')}
  }
  // The row's sum: the two halves, then each lane fetches the sums of the rows it writes.
  let lrow = l + subgroupShuffleXor(l, 16u);
  let vscale = EV[0] * ${2 ** -14};
  ${range(KD).map((cb) => `workgroupBarrier();
  subgroupMatrixStore(&sacc, sBase, o${cb}, false, 16u);
  workgroupBarrier();
  for (var x = 0u; x < 8u; x++) {
    let e = lane + x * 32u; let rr = e / 16u;
    O[(head * ${W(N)} + q0 + rr) * ${W(D)} + ${W(cb * 16)} + e % 16u] = sacc[sBase + e] * vscale / subgroupShuffle(lrow, rr);
  }`).join('\n  ')}
}`;
}

/**
 * The hybrid kernel: 256 threads, RB row blocks of 16 query rows (RB in 2, 4, 8). S = QKᵀ for each 16 x 16 block on
 * the tensor cores (Q's hi/lo matrices held by the subgroup that owns the block's rows; K's hi/lo staged as f16),
 * stored to workgroup memory; the online softmax (running max, rescale) and P·V on the f32 units, exactly as the
 * SIMT forward does them (V staged as f32, P read back, O in registers with fma). Flags (timing only): Q no S MMAs,
 * 1 S from hi·hi alone (a third of the MMAs and half the fragment loads).
 */
function genHybrid(RB: number, FL = ''): string {
  const has = (c: string) => FL.includes(c);
  const BM = 16 * RB, KD = D / 16, NB = BK / 16;
  const TPR = 256 / BM, KPT = BK / TPR; // softmax: threads per row, keys per thread
  const CG = D / 8, RG = 256 / CG, TMO = BM / RG; // P·V: column groups of 8, row groups, rows per thread
  const V4 = D / 4;
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  // Which S blocks (rb, nb) a subgroup computes.
  const blocks = RB <= 4 ? [{ rb: 'sg / 2u', nbs: ['sg % 2u'], active: `sg < ${W(2 * RB)}` }] : [{ rb: 'sg', nbs: ['0u', '1u'], active: 'true' }];
  const b = blocks[0]!;
  const mma3 = (acc: string, c: number) => has('1')
    ? `{ let bh = subgroupMatrixLoad<${R}>(&kb, nb * ${W(16 * D)} + ${W(c * 16)}, true, ${W(D)}); ${acc} = subgroupMatrixMultiplyAccumulate(qh${c}, bh, ${acc}); }`
    : `{ let bh = subgroupMatrixLoad<${R}>(&kb, nb * ${W(16 * D)} + ${W(c * 16)}, true, ${W(D)}); let bl = subgroupMatrixLoad<${R}>(&kb, ${W(BK * D)} + nb * ${W(16 * D)} + ${W(c * 16)}, true, ${W(D)}); ${acc} = subgroupMatrixMultiplyAccumulate(ql${c}, bh, ${acc}); ${acc} = subgroupMatrixMultiplyAccumulate(qh${c}, bl, ${acc}); ${acc} = subgroupMatrixMultiplyAccumulate(qh${c}, bh, ${acc}); }`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> QS: array<f16>;
@group(0) @binding(1) var<storage, read> KS: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> EQ: array<f32>;
@group(0) @binding(4) var<storage, read> EK: array<f32>;
@group(0) @binding(8) var<storage, read> VF: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;
var<workgroup> kb: array<f16, ${2 * BK * D}>;
var<workgroup> vb: array<vec4<f32>, ${BK * V4}>;
var<workgroup> sacc: array<f32, ${BM * BK}>;
var<workgroup> red: array<f32, ${BM}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let sg = t / 32u;
  let head = wid.y;
  let hb = head * ${W(2 * N * D)};
  let m0 = wid.x * ${W(BM)};
  // This subgroup's S rows (a row block of 16) and its Q hi/lo matrices.
  let rb = min(${b.rb}, ${W(RB - 1)});
  let qr = m0 + rb * 16u;
  ${range(KD).map((c) => `let qh${c} = subgroupMatrixLoad<${L}>(&QS, hb + qr * ${W(D)} + ${W(c * 16)}, false, ${W(D)}); let ql${c} = subgroupMatrixLoad<${L}>(&QS, hb + ${W(N * D)} + qr * ${W(D)} + ${W(c * 16)}, false, ${W(D)});`).join('\n  ')}
  // Softmax: row srow, keys sq * ${KPT} + (j + srow) % ${KPT}; its running max and partial sum.
  let srow = t / ${W(TPR)}; let sq = t % ${W(TPR)};
  let sscale = EQ[m0 + srow] * ${SCALE};
  var mrun = -3.0e38;
  var lpart = 0.0;
  // P·V: rows rg + ${RG} i, vec4 columns cg and cg + ${CG}.
  let rg = t / ${W(CG)}; let cg = t % ${W(CG)};
  ${range(TMO).map((i) => `var oa${i} = vec4<f32>(0.0); var ob${i} = vec4<f32>(0.0);`).join(' ')}
  for (var n0 = 0u; n0 < ${W(N)}; n0 += ${W(BK)}) {
    workgroupBarrier();
    for (var e = t; e < ${W((2 * BK * D) / 4)}; e += 256u) {
      let pl = e / ${W((BK * D) / 4)}; let w = e - pl * ${W((BK * D) / 4)};
      let x = KS[(hb + pl * ${W(N * D)} + n0 * ${W(D)}) / 4u + w];
      kb[e * 4u] = x.x; kb[e * 4u + 1u] = x.y; kb[e * 4u + 2u] = x.z; kb[e * 4u + 3u] = x.w;
    }
    for (var e = t; e < ${W(BK * V4)}; e += 256u) { vb[e] = VF[(head * ${W(N * D)} + n0 * ${W(D)}) / 4u + e]; }
    workgroupBarrier();
    if (${b.active}) {
      ${b.nbs.map((nbx) => `{
        let nb = ${nbx};
        var c = ${C}();
        ${has('Q') ? '' : range(KD).map((cc) => mma3('c', cc)).join('\n        ')}
        subgroupMatrixStore(&sacc, rb * ${W(16 * BK)} + nb * 16u, c, false, ${W(BK)});
      }`).join('\n      ')}
    }
    workgroupBarrier();
    {
      ${range(KPT).map((j) => `let k${j} = sq * ${W(KPT)} + ((${W(j)} + srow) % ${W(KPT)}); let s${j} = sacc[srow * ${W(BK)} + k${j}] * (EK[n0 + k${j}] * sscale);`).join('\n      ')}
      var mt = max(${range(KPT).map((j) => `s${j}`).reduce((a, x) => `max(${a}, ${x})`)}, mrun);
      ${range(Math.log2(TPR)).map((i) => `mt = max(mt, subgroupShuffleXor(mt, ${W(1 << i)}));`).join(' ')}
      let alpha = exp2(mrun - mt);
      mrun = mt;
      var ps = 0.0;
      ${range(KPT).map((j) => `{ let p = exp2(s${j} - mt); ps = ps + p; sacc[srow * ${W(BK)} + k${j}] = p; }`).join('\n      ')}
      lpart = lpart * alpha + ps;
      if (sq == 0u) { red[srow] = alpha; }
    }
    workgroupBarrier();
    ${range(TMO).map((i) => `{ let a = red[rg + ${W(RG * i)}]; oa${i} = oa${i} * a; ob${i} = ob${i} * a; }`).join(' ')}
    for (var k = 0u; k < ${W(BK)}; k++) {
      let va = vb[k * ${W(V4)} + cg]; let vv = vb[k * ${W(V4)} + cg + ${W(CG)}];
      ${range(TMO).map((i) => `{ let p = vec4<f32>(sacc[(rg + ${W(RG * i)}) * ${W(BK)} + k]); oa${i} = fma(p, va, oa${i}); ob${i} = fma(p, vv, ob${i}); }`).join('\n      ')}
    }
  }
  var lt = lpart;
  ${range(Math.log2(TPR)).map((i) => `lt = lt + subgroupShuffleXor(lt, ${W(1 << i)});`).join(' ')}
  workgroupBarrier();
  if (sq == 0u) { red[srow] = lt; }
  workgroupBarrier();
  ${range(TMO).map((i) => `{
    let row = rg + ${W(RG * i)}; let inv = 1.0 / red[row];
    let base = (head * ${W(N)} + m0 + row) * ${W(D)};
    let a = oa${i} * inv; let bq = ob${i} * inv;
    O[base + cg * 4u] = a.x; O[base + cg * 4u + 1u] = a.y; O[base + cg * 4u + 2u] = a.z; O[base + cg * 4u + 3u] = a.w;
    O[base + (cg + ${W(CG)}) * 4u] = bq.x; O[base + (cg + ${W(CG)}) * 4u + 1u] = bq.y; O[base + (cg + ${W(CG)}) * 4u + 2u] = bq.z; O[base + (cg + ${W(CG)}) * 4u + 3u] = bq.w;
  }`).join('\n  ')}
}`;
}

/**
 * The pipelined hybrid ('p' configurations, pBM = rows per workgroup, 48 or 64): as the hybrid, but S of the next key
 * tile is computed on the tensor cores in the same barrier interval as P·V of the current one on the f32 units (so
 * the two can overlap), with the next tiles' K (hi/lo) and V prefetched into registers: two barriers per key tile.
 *   A(j): O *= alpha(j); P·V(j) [ps, vb]; S(j+1) [kb] -> ss; registers <- K(j+2), V(j+1)
 *   B(j): kb <- K(j+2); vb <- V(j+1); softmax(j+1) [ss -> ps, alpha -> red]
 * Flags: o issue S(j+1)'s MMAs before P·V(j) and store S after it (else P·V first); Q no S MMAs (timing only).
 */
function genPipe(BM: number, FL = ''): string {
  const has = (c: string) => FL.includes(c);
  const KD = D / 16, NBK = BK / 16, RBN = BM / 16, SB = RBN * NBK; // S blocks (one per subgroup)
  const TPR = 4, KPT = BK / TPR; // softmax: 4 threads per row, threads t < BM * 4
  const CG = D / 8, RG = 256 / CG, TMO = BM / RG;
  const V4 = D / 4, BK4 = BK / 4;
  const NKH = Math.ceil((2 * BK * D) / 4 / 256), NV = Math.ceil((BK * V4) / 256);
  if (SB > 8 || TMO * RG !== BM || BM * TPR > 256) throw new Error(`pipe: BM ${BM} does not fit d ${D}`);
  // K rows in workgroup memory: padded by 8 halves (16 bytes) with the k flag, so that the 16 key rows a fragment
  // load reads start in different banks (a row of 128 halves is a multiple of the 128-byte bank cycle).
  const KS_ = has('k') ? D + 8 : D;
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  const loadK = (kt: string) => range(NKH).map((e) => `{ let i = t + ${W(256 * e)}; if (i < ${W((2 * BK * D) / 4)}) { let pl = i / ${W((BK * D) / 4)}; rk${e} = KS[(hb + pl * ${W(N * D)} + (${kt}) * ${W(D)}) / 4u + i - pl * ${W((BK * D) / 4)}]; } }`).join(' ');
  const loadV = (vt: string) => range(NV).map((e) => `{ let i = t + ${W(256 * e)}; if (i < ${W(BK * V4)}) { rv${e} = VF[(vb0 + (${vt}) * ${W(D)}) / 4u + i]; } }`).join(' ');
  const storeK = range(NKH).map((e) => `{ let i = t + ${W(256 * e)}; if (i < ${W((2 * BK * D) / 4)}) { let pl = i / ${W((BK * D) / 4)}; let w = i - pl * ${W((BK * D) / 4)}; let a = pl * ${W(BK * KS_)} + (w / ${W(D / 4)}) * ${W(KS_)} + (w % ${W(D / 4)}) * 4u; kb[a] = rk${e}.x; kb[a + 1u] = rk${e}.y; kb[a + 2u] = rk${e}.z; kb[a + 3u] = rk${e}.w; } }`).join(' ');
  const storeV = range(NV).map((e) => `{ let i = t + ${W(256 * e)}; if (i < ${W(BK * V4)}) { vb[i] = rv${e}; } }`).join(' ');
  const sCompute = `if (sg < ${W(SB)}) {
      ${has('Q') ? '' : range(KD).map((cc) => `{ let bh = subgroupMatrixLoad<${R}>(&kb, nb * ${W(16 * KS_)} + ${W(cc * 16)}, true, ${W(KS_)}); let bl = subgroupMatrixLoad<${R}>(&kb, ${W(BK * KS_)} + nb * ${W(16 * KS_)} + ${W(cc * 16)}, true, ${W(KS_)}); c = subgroupMatrixMultiplyAccumulate(ql${cc}, bh, c); c = subgroupMatrixMultiplyAccumulate(qh${cc}, bl, c); c = subgroupMatrixMultiplyAccumulate(qh${cc}, bh, c); }`).join('\n      ')}
    }`;
  const sStore = `if (sg < ${W(SB)}) { subgroupMatrixStore(&ss, rb * ${W(16 * BK)} + nb * 16u, c, false, ${W(BK)}); }`;
  const sMMA = `{ c = ${C}(); ${sCompute} ${sStore} }`;
  const softmax = (kt: string) => `{
      ${range(KPT).map((j) => `let k${j} = sq * ${W(KPT)} + ((${W(j)} + srow) % ${W(KPT)}); let s${j} = ss[srow * ${W(BK)} + k${j}] * (EK[(${kt}) + k${j}] * sscale);`).join('\n      ')}
      var mt = max(${range(KPT).map((j) => `s${j}`).reduce((a, x) => `max(${a}, ${x})`)}, mrun);
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let alpha = exp2(mrun - mt);
      mrun = mt;
      var psum = 0.0;
      if (sact) {
        ${range(KPT).map((j) => `{ let p = exp2(s${j} - mt); psum = psum + p; let pi = srow * ${W(BK)} + k${j}; ps[pi >> 2u][pi & 3u] = p; }`).join('\n        ')}
        if (sq == 0u) { red[srow] = alpha; }
      }
      lpart = lpart * alpha + psum;
    }`;
  const pvStep = (k4: number) => `{
      ${range(TMO).map((i) => `let p${i} = ps[(rg + ${W(RG * i)}) * ${W(BK4)} + ${W(k4)}];`).join(' ')}
      ${range(4).map((jj) => `{ let va = vb[${W((k4 * 4 + jj) * V4)} + cg]; let vv = vb[${W((k4 * 4 + jj) * V4)} + cg + ${W(CG)}];
        ${range(TMO).map((i) => `oa${i} = fma(vec4<f32>(p${i}[${jj}]), va, oa${i}); ob${i} = fma(vec4<f32>(p${i}[${jj}]), vv, ob${i});`).join(' ')} }`).join('\n      ')}
    }`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> QS: array<f16>;
@group(0) @binding(1) var<storage, read> KS: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> EQ: array<f32>;
@group(0) @binding(4) var<storage, read> EK: array<f32>;
@group(0) @binding(8) var<storage, read> VF: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;
var<workgroup> kb: array<f16, ${2 * BK * KS_}>;
var<workgroup> vb: array<vec4<f32>, ${BK * V4}>;
var<workgroup> ss: array<f32, ${BM * BK}>;
var<workgroup> ps: array<vec4<f32>, ${BM * BK4}>;
var<workgroup> red: array<f32, ${BM}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let sg = t / 32u;
  let head = wid.y;
  let hb = head * ${W(2 * N * D)};
  let vb0 = head * ${W(N * D)};
  let m0 = wid.x * ${W(BM)};
  let rb = min(sg / ${W(NBK)}, ${W(RBN - 1)}); let nb = sg % ${W(NBK)};
  let qr = m0 + rb * 16u;
  ${range(KD).map((c) => `let qh${c} = subgroupMatrixLoad<${L}>(&QS, hb + qr * ${W(D)} + ${W(c * 16)}, false, ${W(D)}); let ql${c} = subgroupMatrixLoad<${L}>(&QS, hb + ${W(N * D)} + qr * ${W(D)} + ${W(c * 16)}, false, ${W(D)});`).join('\n  ')}
  let sact = t < ${W(BM * TPR)};
  let srow = min(t / ${W(TPR)}, ${W(BM - 1)}); let sq = t % ${W(TPR)};
  let sscale = EQ[m0 + srow] * ${SCALE};
  var mrun = -3.0e38;
  var lpart = 0.0;
  let rg = t / ${W(CG)}; let cg = t % ${W(CG)};
  ${range(TMO).map((i) => `var oa${i} = vec4<f32>(0.0); var ob${i} = vec4<f32>(0.0);`).join(' ')}
  var c = ${C}();
  ${range(NKH).map((e) => `var rk${e}: vec4<f16>;`).join(' ')} ${range(NV).map((e) => `var rv${e}: vec4<f32>;`).join(' ')}
  // Prologue: S(0) and softmax(0); K(1) and V(0) in place.
  ${loadK('0u')}
  ${storeK}
  workgroupBarrier();
  ${loadK(W(BK))} ${loadV('0u')}
  ${sMMA}
  workgroupBarrier();
  ${storeK} ${storeV}
  ${softmax('0u')}
  workgroupBarrier();
  for (var j0 = 0u; j0 < ${W(N)}; j0 += ${W(BK)}) {
    let more1 = j0 + ${W(BK)} < ${W(N)}; let more2 = j0 + ${W(2 * BK)} < ${W(N)};
    // A(j): rescale, P·V(j), S(j+1), prefetch K(j+2), V(j+1).
    ${range(TMO).map((i) => `{ let a = red[rg + ${W(RG * i)}]; oa${i} = oa${i} * a; ob${i} = ob${i} * a; }`).join(' ')}
    if (more2) { ${loadK(`j0 + ${W(2 * BK)}`)} }
    if (more1) { ${loadV(`j0 + ${W(BK)}`)} }
    ${has('o') ? `c = ${C}(); if (more1) { ${sCompute} }` : ''}
    ${range(BK4).map((k4) => pvStep(k4)).join('\n    ')}
    ${has('o') ? `if (more1) { ${sStore} }` : `if (more1) { ${sMMA} }`}
    workgroupBarrier();
    // B(j): K(j+2), V(j+1) into workgroup memory; softmax(j+1).
    if (more2) { ${storeK} }
    if (more1) {
      ${storeV}
      ${softmax(`j0 + ${W(BK)}`)}
    }
    workgroupBarrier();
  }
  var lt = lpart;
  lt = lt + subgroupShuffleXor(lt, 1u); lt = lt + subgroupShuffleXor(lt, 2u);
  if (sact && sq == 0u) { red[srow] = lt; }
  workgroupBarrier();
  ${range(TMO).map((i) => `{
    let row = rg + ${W(RG * i)}; let inv = 1.0 / red[row];
    let base = (head * ${W(N)} + m0 + row) * ${W(D)};
    let a = oa${i} * inv; let bq = ob${i} * inv;
    O[base + cg * 4u] = a.x; O[base + cg * 4u + 1u] = a.y; O[base + cg * 4u + 2u] = a.z; O[base + cg * 4u + 3u] = a.w;
    O[base + (cg + ${W(CG)}) * 4u] = bq.x; O[base + (cg + ${W(CG)}) * 4u + 1u] = bq.y; O[base + (cg + ${W(CG)}) * 4u + 2u] = bq.z; O[base + (cg + ${W(CG)}) * 4u + 3u] = bq.w;
  }`).join('\n  ')}
}`;
}
