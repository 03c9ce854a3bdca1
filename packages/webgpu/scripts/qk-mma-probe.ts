/**
 * Probe for an exact-f32 QKᵀ on int8 tensor cores (Dawn's subgroup matrices): S = Q Kᵀ from four signed 7-bit slices
 * of Q and K rows (power-of-two scale per row, split here on the CPU), the ten slice products of weight i + j <= 3 as
 * int8 x int8 -> int32 MMAs (exact), combined in f32 per weight in decreasing order (scripts/ozaki-study.py's scheme).
 * v1: one subgroup per workgroup (load/store offsets workgroup-uniform) owns 16 query rows and sweeps all keys in
 * blocks of 16; the Q slices stay in registers, the K slices are loaded from the storage buffer for each block.
 * Checks block (0, 0) of head 0 bit for bit against the same arithmetic on the CPU and against float64, then times the
 * sweep (GPU timestamps). That is v1; v2 (default): several subgroups per workgroup (the uniformity diagnostic off, so
 * that each addresses its own rows), the K slices of a block of keys staged in workgroup memory for all of them;
 * v3: as v2 with RB blocks of 16 rows per subgroup sharing each loaded K slice, the weights combined one at a time.
 * Run on the GPU machine: node qkprobe.js [d=128] [n=4096] [heads=64] [v1|v2|v3] [subgroups=4] [keys per block=32]
 * [v3: RB=2]
 */
import { create, globals } from 'webgpu';
import { randn } from './probe-common.js';

Object.assign(globalThis, globals);
const out = (o: unknown) => console.log(JSON.stringify(o));
const [D, N, H] = [Number(process.argv[2] ?? 128), Number(process.argv[3] ?? 4096), Number(process.argv[4] ?? 64)];
const SL = 4;
const CH = D / 32;

/** Row-wise split: slices[s][row * D + k] in [-127, 127], and e[row] with |x| / 2^e <= 127/128. */
function split(x: Float32Array, rows: number): { sl: Int8Array[]; e: Float64Array } {
  const sl = Array.from({ length: SL }, () => new Int8Array(rows * D));
  const e = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < D; k++) m = Math.max(m, Math.abs(x[r * D + k]!));
    e[r] = m === 0 ? 0 : Math.ceil(Math.log2((m * 128) / 127));
    for (let k = 0; k < D; k++) {
      let v = (x[r * D + k]! / 2 ** e[r]!) * 128;
      for (let s = 0; s < SL; s++) {
        const a = Math.max(-127, Math.min(127, Math.round(v)));
        sl[s]![r * D + k] = a;
        v = (v - a) * 128;
      }
    }
  }
  return { sl, e };
}


// One head's Q and K (the same data for every head: the timing needs the work, the check needs one head).
const q = randn(N * D), k = randn(N * D);
const qs = split(q, N), ks = split(k, N);
const pack = (sl: Int8Array[]) => { const b = new Int8Array(SL * N * D); sl.forEach((s, i) => b.set(s, i * N * D)); return new Int32Array(b.buffer); };

const gpu = create(['enable-dawn-features=allow_unsafe_apis']);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter?.features.has('chromium-experimental-subgroup-matrix')) { out({ error: 'no subgroup matrices here' }); process.exit(0); }
const device = await adapter.requestDevice({
  requiredFeatures: ['chromium-experimental-subgroup-matrix', 'subgroups', 'timestamp-query'] as GPUFeatureName[],
  requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
});

const MODE = process.argv[5] ?? 'v2';
const SGW = Number(process.argv[6] ?? 4); // v2: subgroups per workgroup, each owning 16 query rows
const BK = Number(process.argv[7] ?? 32); // v2: keys per block staged in workgroup memory (a multiple of 16)
// v2 and v3: bindings (the uniformity diagnostic off, so that each subgroup addresses its own rows) and the copy of
// one key block's K slices into workgroup memory `kb` ([slice][key][d] as bytes), between barriers.
const STAGED_HEADER = `enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> QS: array<i32>;
@group(0) @binding(1) var<storage, read> KS: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read> EQ: array<f32>;
@group(0) @binding(3) var<storage, read> EK: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;`;
const STAGE_K = `    workgroupBarrier();
    for (var e = t; e < ${(SL * BK * D) / 16}u; e += ${32 * SGW}u) {
      let s = e / ${(BK * D) / 16}u; let w = e - s * ${(BK * D) / 16}u;
      let v = KS[(s * ${N * D}u + n0 * ${D}u) / 16u + w];
      kb[e * 4u] = v.x; kb[e * 4u + 1u] = v.y; kb[e * 4u + 2u] = v.z; kb[e * 4u + 3u] = v.w;
    }
    workgroupBarrier();`;
const codeV2 = `${STAGED_HEADER}
var<workgroup> kb: array<i32, ${(SL * BK * D) / 4}>;
// Each subgroup's four weight accumulators of 16 x ${BK} scores.
var<workgroup> accs: array<i32, ${SGW * 4 * 16 * BK}>;
@compute @workgroup_size(${32 * SGW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let sg = t / 32u; let lane = t % 32u;
  let q0 = (wid.x * ${SGW}u + sg) * 16u;
  ${Array.from({ length: SL * CH }, (_, x) => `let a${Math.floor(x / CH)}_${x % CH} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&QS, ${Math.floor(x / CH) * N * D}u + q0 * ${D}u + ${(x % CH) * 32}u, false, ${D}u);`).join('\n  ')}
  var check = 0.0;
  let ab = sg * ${4 * 16 * BK}u;
  for (var n0 = 0u; n0 < ${N}u; n0 += ${BK}u) {
${STAGE_K}
    ${Array.from({ length: BK / 16 }, (_, nb) => `{
      ${Array.from({ length: 4 }, (_, w) => `var c${w} = subgroup_matrix_result<i32, 16, 16>();`).join(' ')}
      ${Array.from({ length: SL * CH }, (_, x) => {
        const j = Math.floor(x / CH), c = x % CH;
        const b = `let b = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&kb, ${j * BK * D + nb * 16 * D + c * 32}u, true, ${D}u);`;
        const uses = Array.from({ length: SL }, (_, i) => i).filter((i) => i + j <= 3).map((i) => `c${i + j} = subgroupMatrixMultiplyAccumulate(a${i}_${c}, b, c${i + j});`);
        return `{ ${b} ${uses.join(' ')} }`;
      }).join('\n      ')}
      ${Array.from({ length: 4 }, (_, w) => `subgroupMatrixStore(&accs, ab + ${w * 16 * BK + nb * 16}u, c${w}, false, ${BK}u);`).join(' ')}
    }`).join('\n    ')}
    workgroupBarrier();
    for (var e = lane; e < ${16 * BK}u; e += 32u) {
      let row = q0 + e / ${BK}u; let col = n0 + e % ${BK}u;
      let sc = EQ[row] * EK[col];
      var s = 0.0;
      ${Array.from({ length: 4 }, (_, w) => `s = s + f32(accs[ab + ${w * 16 * BK}u + e]) * (sc * ${2 ** (-14 - 7 * w)});`).join('\n      ')}
      check = max(check, s);
      if (wid.y == 0u && q0 == 0u && n0 == 0u && e % ${BK}u < 16u) { OUT[(e / ${BK}u) * 16u + e % ${BK}u] = s; }
    }
  }
  if (wid.y == 0u) { OUT[256u + wid.x * ${32 * SGW}u + t] = check; }
}`;
// v3: RB blocks of 16 query rows per subgroup sharing each loaded K slice, and the four weights combined one at a
// time into registers (one 16 x BK result region per row block and subgroup instead of four).
const RB = Number(process.argv[8] ?? 2);
const PER = (RB * 16 * BK) / 32; // scores per lane
const codeV3 = `${STAGED_HEADER}
var<workgroup> kb: array<i32, ${(SL * BK * D) / 4}>;
var<workgroup> accs: array<i32, ${SGW * RB * 16 * BK}>;
@compute @workgroup_size(${32 * SGW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let sg = t / 32u; let lane = t % 32u;
  let q0 = (wid.x * ${SGW}u + sg) * ${16 * RB}u;
  ${Array.from({ length: RB * SL * CH }, (_, x) => { const rb = Math.floor(x / (SL * CH)), i = Math.floor(x / CH) % SL, c = x % CH; return `let a${rb}_${i}_${c} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&QS, ${i * N * D}u + (q0 + ${rb * 16}u) * ${D}u + ${c * 32}u, false, ${D}u);`; }).join('\n  ')}
  var check = 0.0;
  let ab = sg * ${RB * 16 * BK}u;
  for (var n0 = 0u; n0 < ${N}u; n0 += ${BK}u) {
${STAGE_K}
    ${Array.from({ length: PER }, (_, x) => `var s${x} = 0.0;`).join(' ')}
    ${Array.from({ length: BK / 16 }, (_, nb) => `{
      ${Array.from({ length: RB * 4 }, (_, x) => `var c${Math.floor(x / 4)}_${x % 4} = subgroup_matrix_result<i32, 16, 16>();`).join(' ')}
      ${Array.from({ length: SL * CH }, (_, x) => {
        const j = Math.floor(x / CH), c = x % CH;
        const b = `let b = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&kb, ${j * BK * D + nb * 16 * D + c * 32}u, true, ${D}u);`;
        const uses: string[] = [];
        for (let i = 0; i < SL; i++) if (i + j <= 3) for (let rb = 0; rb < RB; rb++) uses.push(`c${rb}_${i + j} = subgroupMatrixMultiplyAccumulate(a${rb}_${i}_${c}, b, c${rb}_${i + j});`);
        return `{ ${b} ${uses.join(' ')} }`;
      }).join('\n      ')}
      ${Array.from({ length: 4 }, (_, w) => `workgroupBarrier();
      ${Array.from({ length: RB }, (_, rb) => `subgroupMatrixStore(&accs, ab + ${rb * 16 * BK + nb * 16}u, c${rb}_${w}, false, ${BK}u);`).join(' ')}
      workgroupBarrier();
      ${Array.from({ length: (RB * 16 * 16) / 32 }, (_, k) => {
        const e = `(lane + ${k * 32}u)`; // element of this column block: row = e / 16 (over RB blocks), col = nb * 16 + e % 16
        const x = k + nb * ((RB * 16 * 16) / 32);
        return `{ let e = ${e}; let row = e / 16u; let col = ${nb * 16}u + e % 16u; s${x} = s${x} + f32(accs[ab + row * ${BK}u + col]) * (EQ[q0 + row] * EK[n0 + col] * ${2 ** (-14)} * ${2 ** (-7 * w)}); }`;
      }).join('\n      ')}`).join('\n      ')}
    }`).join('\n    ')}
    ${Array.from({ length: PER }, (_, x) => `check = max(check, s${x});`).join(' ')}
    if (wid.y == 0u && q0 == 0u && n0 == 0u) { ${Array.from({ length: 8 }, (_, k) => `{ let e = lane + ${k * 32}u; if (e < 256u) { OUT[e] = s${k}; } }`).join(' ')} }
  }
  if (wid.y == 0u) { OUT[256u + wid.x * ${32 * SGW}u + t] = check; }
}`;
const code = MODE === 'v1' ? codeV1() : MODE === 'v3' ? codeV3 : codeV2;
function codeV1() { return `enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> QS: array<i32>;
@group(0) @binding(1) var<storage, read> KS: array<i32>;
@group(0) @binding(2) var<storage, read> EQ: array<f32>;
@group(0) @binding(3) var<storage, read> EK: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
var<workgroup> accs: array<i32, ${4 * 256}>;
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let q0 = wid.x * 16u;
  ${Array.from({ length: SL * CH }, (_, x) => `let a${Math.floor(x / CH)}_${x % CH} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&QS, ${Math.floor(x / CH) * N * D}u + q0 * ${D}u + ${(x % CH) * 32}u, false, ${D}u);`).join('\n  ')}
  var check = 0.0;
  for (var n0 = 0u; n0 < ${N}u; n0 += 16u) {
    ${Array.from({ length: 4 }, (_, w) => `var c${w} = subgroup_matrix_result<i32, 16, 16>();`).join(' ')}
    ${Array.from({ length: SL * CH }, (_, x) => {
      const j = Math.floor(x / CH), c = x % CH;
      const b = `let b${j}_${c} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&KS, ${j * N * D}u + n0 * ${D}u + ${c * 32}u, true, ${D}u);`;
      const uses = Array.from({ length: SL }, (_, i) => i).filter((i) => i + j <= 3).map((i) => `c${i + j} = subgroupMatrixMultiplyAccumulate(a${i}_${c}, b${j}_${c}, c${i + j});`);
      return `{ ${b} ${uses.join(' ')} }`;
    }).join('\n    ')}
    workgroupBarrier();
    ${Array.from({ length: 4 }, (_, w) => `subgroupMatrixStore(&accs, ${w * 256}u, c${w}, false, 16u);`).join(' ')}
    workgroupBarrier();
    for (var e = t; e < 256u; e += 32u) {
      let row = q0 + e / 16u; let col = n0 + e % 16u;
      let sc = EQ[row] * EK[col];
      var s = 0.0;
      ${Array.from({ length: 4 }, (_, w) => `s = s + f32(accs[${w * 256}u + e]) * (sc * ${2 ** (-14 - 7 * w)});`).join('\n      ')}
      check = max(check, s);
      if (wid.y == 0u && q0 == 0u && n0 == 0u) { OUT[e] = s; }
    }
  }
  if (wid.y == 0u) { OUT[256u + wid.x * 32u + t] = check; }
}`; }

device.pushErrorScope('validation');
const module = device.createShaderModule({ code });
const info = await module.getCompilationInfo();
const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
if (errs.length) { out({ compileErrors: errs }); process.exit(1); }
const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const buf = (data: ArrayBufferView, usage = GPUBufferUsage.STORAGE) => {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
};
const QSb = buf(pack(qs.sl)), KSb = buf(pack(ks.sl));
const EQb = buf(Float32Array.from(qs.e, (e) => 2 ** e)), EKb = buf(Float32Array.from(ks.e, (e) => 2 ** e));
const OUTn = 256 + (N / 16) * 32;
const OUTb = device.createBuffer({ size: OUTn * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [QSb, KSb, EQb, EKb, OUTb].map((b, i) => ({ binding: i, resource: { buffer: b } })) });
const qset = device.createQuerySet({ type: 'timestamp', count: 2 });
const res = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const rd = device.createBuffer({ size: 16 + OUTn * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const e0 = await device.popErrorScope();
if (e0) { out({ error: e0.message }); process.exit(1); }

let first: Float32Array | undefined;
const times: number[] = [];
const t0 = performance.now();
for (let rep = 0; rep < 6 || performance.now() - t0 < 1500; rep++) {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass({ timestampWrites: { querySet: qset, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  pass.setPipeline(pipeline); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(MODE === 'v1' ? N / 16 : MODE === 'v3' ? N / (16 * SGW * RB) : N / (16 * SGW), H); pass.end();
  enc.resolveQuerySet(qset, 0, 2, res, 0);
  enc.copyBufferToBuffer(res, 0, rd, 0, 16);
  enc.copyBufferToBuffer(OUTb, 0, rd, 16, OUTn * 4);
  device.queue.submit([enc.finish()]);
  await rd.mapAsync(GPUMapMode.READ);
  const m = rd.getMappedRange();
  const ts = new BigUint64Array(m.slice(0, 16));
  if (!first) first = new Float32Array(m.slice(16, 16 + 256 * 4));
  rd.unmap();
  times.push(Number(ts[1]! - ts[0]!) / 1e6);
  if (rep > 100) break;
}

// Block (0, 0): the same arithmetic on the CPU (exact integer sums, then the f32 combination in the same order).
const f = Math.fround;
let bitExact = 0, bitExactMul = 0, maxErr64 = 0, maxRef = 0, maxSeqErr = 0;
for (let e = 0; e < 256; e++) {
  const r = e >> 4, c = e & 15;
  const accw = [0, 0, 0, 0];
  for (let i = 0; i < SL; i++) for (let j = 0; j < SL; j++) if (i + j <= 3) {
    let acc = 0;
    for (let kk = 0; kk < D; kk++) acc += qs.sl[i]![r * D + kk]! * ks.sl[j]![c * D + kk]!;
    accw[i + j]! += acc;
  }
  const sc = f(f(2 ** qs.e[r]!) * f(2 ** ks.e[c]!));
  // The GPU may contract s + a * b into an fma: both orders of rounding are replayed (a * b is exact in float64).
  let sFma = 0, sMul = 0;
  for (let w = 0; w < 4; w++) {
    const m = f(sc * 2 ** (-14 - 7 * w));
    sFma = f(sFma + accw[w]! * m);
    sMul = f(sMul + f(accw[w]! * m));
  }
  if (Object.is(sFma, first![e])) bitExact++;
  if (Object.is(sMul, first![e])) bitExactMul++;
  let ref = 0, seq = 0;
  for (let kk = 0; kk < D; kk++) { ref += q[r * D + kk]! * k[c * D + kk]!; seq = f(seq + q[r * D + kk]! * k[c * D + kk]!); }
  maxErr64 = Math.max(maxErr64, Math.abs(first![e]! - ref));
  maxSeqErr = Math.max(maxSeqErr, Math.abs(seq - ref));
  maxRef = Math.max(maxRef, Math.abs(ref));
}
const ms = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
const flops = 2 * N * N * D * H; // S = QKᵀ only, as f32 FLOPs
out({
  mode: MODE, ...(MODE !== 'v1' ? { subgroupsPerWorkgroup: SGW, keysPerBlock: BK } : {}), ...(MODE === 'v3' ? { rowBlocksPerSubgroup: RB } : {}), d: D, n: N, heads: H, ms, runs: times.length, sTflops: flops / (ms * 1e9), int8Tops: (flops * 10) / (ms * 1e9),
  block00: { bitExactVsCpuFma: `${bitExact}/256`, bitExactVsCpuMulAdd: `${bitExactMul}/256`, maxErrVsF64: maxErr64, maxErrSequentialF32: maxSeqErr, maxAbsS: maxRef },
});
process.exit(0);
