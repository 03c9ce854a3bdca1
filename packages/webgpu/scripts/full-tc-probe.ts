/**
 * Probe (session 9): a forward with **both** products on the f16 tensor cores, exact enough for f32, within 48 KiB of
 * workgroup memory. What the backend's tensor-core forward (src/wgsl-forward-tc.ts) leaves on the FMA units, P·V, is
 * half its time (docs/tensor-core-path.md); P·V on the tensor cores failed before (session 8, run 89) because K, V,
 * P, S and a per-tile T all had to be staged, which only fit 16-key tiles. Here:
 * - K and V are split once, before (on the CPU here; in a build a pre-pass over the call): per-row scaled hi/lo planes
 *   for K, three planes for V with one power of two per head (hi, mid, lo: 33 bits, so a one-hot row gives V exactly,
 *   which two planes (22 bits) did not), Q's planes likewise.
 * - V's fragments come straight from the storage buffer (each subgroup owns one 16-column block of O and uses each V
 *   fragment for all its row blocks); K goes through workgroup memory (u32 words, consecutive lanes on consecutive
 *   words) unless `k` (K's fragments from the storage buffer too).
 * - P·V accumulates per key tile into fresh result matrices T (the tensor cores truncate; a fresh T keeps that at T's
 *   magnitude) and is flushed every tile through workgroup memory into O in f32 registers: O = O·alpha + T·scale.
 *   Each lane reads back one column, every other row (rows lane/16 + 2i): 32 consecutive floats per read, no bank
 *   conflicts (reading a row's 8 floats per lane, run 102's first form, was 8-way conflicted: 9.5 of 16.3 ms).
 * Per tile: S(j) -> ss | barrier | store K(j+1), softmax(j) -> P hi/lo, alpha | barrier | P·V(j), flush in rounds.
 * No masks, full tiles, f32 inputs (a probe of the speed and the error, not a backend kernel).
 *
 * Run on the GPU machine: node fulltc.js [d=128] [n=4096] [heads=64] [BM[:flags]...]
 * flags: V V staged in workgroup memory too (in K's region, after S; K(j+1) stored after P·V(j)); p P's fragments
 * loaded once per block and k-step (products interleaved); v V's fragments loaded at the top of the tile (before S);
 * k K fragments from the storage buffer; 2 two V pieces (hi, lo). Timing only (results wrong): S no S MMAs, P no P·V
 * MMAs, F no flush (the compiler then drops P·V too), K no K loads/stores in the loop, e the builtin exp2.
 * A lazy flush (session 9, runs 105-112; every form gave wrong results, see docs/tensor-core-path.md): L (every 2
 * tiles), L1 (every tile), M (every 4), A (only after the loop); with N (flush on schedule only, not on a moved
 * reference), T (reference = the running max), U (flush unconditionally), X / Y (T reset by a scalar multiply, inside
 * / outside the branch), C (T declared outside the loop, reset at each tile's top: right).
 */
import { globals } from 'webgpu';
import { exp2Fn, rep } from '../src/wgsl-common.js';
import { attentionReference, fromF16, openF16MatrixDevice, probeCli, randn, timeAndCheck, toF16 } from './probe-common.js';

Object.assign(globalThis, globals);
const { out, log, D, N, H } = probeCli('fulltc');
const CONFIGS = (process.argv.slice(5).length ? process.argv.slice(5) : ['64']).map((c) => { const [a, f] = c.split(':'); return [Number(a), f ?? ''] as [number, string]; });
const BK = 32;
const SCALE_LOG2 = Math.LOG2E / Math.sqrt(D);
const u = (n: number) => `${n}u`;
const SMEM = 49152;

/** Rows of `cols` values scaled by 2^e (per row: 14 - ceil(log2 max|row|), or `e` for all), in `np` f16 planes. */
function splitRows(x: Float32Array, rows: number, cols: number, np: number, e?: number) {
  const planes = Array.from({ length: np }, () => new Uint16Array(rows * cols)), inv = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(x[r * cols + k]!));
    const er = e ?? (m === 0 ? 0 : 14 - Math.ceil(Math.log2(m)));
    inv[r] = 2 ** -er;
    for (let k = 0; k < cols; k++) {
      let rest = x[r * cols + k]! * 2 ** er;
      for (let p = 0; p < np; p++) { const h = toF16(rest); planes[p]![r * cols + k] = h; rest -= fromF16(h); } // rest: exact in float64
    }
  }
  return { planes, inv };
}

interface Cfg { bm: number; flags: string }
function layout(c: Cfg) {
  const has = (f: string) => c.flags.includes(f);
  const KS = D + 8, PS = BK + 8, RBN = c.bm / 16, NB = D / 16, SB = RBN * (BK / 16), TB = (RBN * NB) / 8;
  const VS = D + 8, VP = has('2') ? 2 : 3;
  const kvHalves = has('V') ? Math.max(2 * BK * KS, VP * BK * VS) : 2 * BK * KS;
  const kvBytes = has('k') ? 0 : kvHalves * 2, psBytes = 2 * c.bm * PS * 2, misc = 2 * c.bm * 4 + 16;
  const R = Math.min(TB, Math.floor((SMEM - kvBytes - psBytes - misc) / (8 * 1024))); // T blocks per subgroup per round
  const FF = Math.max(c.bm * BK, 8 * R * 256);
  return { has, KS, VS, VP, kvHalves, PS, RBN, NB, SB, TB, R, FF, rounds: Math.ceil(TB / R), smem: kvBytes + psBytes + misc + FF * 4 };
}

function gen(c: Cfg): string {
  const { has, KS, VS, VP, kvHalves, PS, RBN, NB, SB, TB, R, FF, rounds } = layout(c);
  const BM = c.bm, KD = D / 16, KW = (BK * D) / 256, HW = D / 2;
  const L = 'subgroup_matrix_left<f16, 16, 16>', Rt = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  const mma = (a: string, b: string, acc: string) => `${acc} = subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${acc});`;
  const kFrag = (cc: number, p: number) => has('k')
    ? `subgroupMatrixLoad<${Rt}, col_major>(&Kp, ((h * 2u + ${u(p)}) * ${u(N)} + kt + snb * 16u) * ${u(D)} + ${u(cc * 16)}, ${u(D)})`
    : `subgroupMatrixLoad<${Rt}, col_major>(&kv, ${u(p * BK * KS)} + snb * ${u(16 * KS)} + ${u(cc * 16)}, ${u(KS)})`;
  const loadK = (kt: string) => rep(KW, (e) => `{ let w = t + ${u(256 * e)}; let pl = w / ${u(BK * HW)}; let rem = w - pl * ${u(BK * HW)}; let row = rem / ${u(HW)}; let cw = rem - row * ${u(HW)};
      rk${e} = Kw[((h * 2u + pl) * ${u(N)} + ${kt} + row) * ${u(HW)} + cw]; }`, '\n    ');
  const storeK = rep(KW, (e) => `{ let w = t + ${u(256 * e)}; let pl = w / ${u(BK * HW)}; let rem = w - pl * ${u(BK * HW)}; let row = rem / ${u(HW)}; let cw = rem - row * ${u(HW)};
      let x = bitcast<vec2<f16>>(rk${e}); let a = pl * ${u(BK * KS)} + row * ${u(KS)} + cw * 2u; kv[a] = x.x; kv[a + 1u] = x.y; }`, '\n    ');
  const kIO = !has('k') && !has('K');
  // V (flag V): staged like K, in K's region after S is done with it (K(j+1) is stored after P·V(j)).
  const vs = has('V'), VW = (VP * BK * HW) / 256;
  const loadV = (kt: string) => rep(VW, (e) => `{ let w = t + ${u(256 * e)}; let pl = w / ${u(BK * HW)}; let rem = w - pl * ${u(BK * HW)}; let row = rem / ${u(HW)}; let cw = rem - row * ${u(HW)};
      rv${e} = Vw[((h * ${u(VP)} + pl) * ${u(N)} + ${kt} + row) * ${u(HW)} + cw]; }`, '\n    ');
  const storeV = rep(VW, (e) => `{ let w = t + ${u(256 * e)}; let pl = w / ${u(BK * HW)}; let rem = w - pl * ${u(BK * HW)}; let row = rem / ${u(HW)}; let cw = rem - row * ${u(HW)};
      let x = bitcast<vec2<f16>>(rv${e}); let a = pl * ${u(BK * VS)} + row * ${u(VS)} + cw * 2u; kv[a] = x.x; kv[a + 1u] = x.y; }`, '\n    ');
  const sMMA = has('S') ? '' : `${rep(KD, (cc) => `${mma(`ql${cc}`, kFrag(cc, 0), 'c')} ${mma(`qh${cc}`, kFrag(cc, 1), 'c')}`, '\n      ')}
      ${rep(KD, (cc) => mma(`qh${cc}`, kFrag(cc, 0), 'c'), '\n      ')}`;
  const KPT = 8;
  // Lazy rescaling (L: flush every 2 tiles, M: every 4): a row's reference max moves only when the tile's max passes it
  // by more than TAU (P <= 2^TAU, scaled by 2^(14 - TAU)); T then holds several tiles, flushed every F tiles or when a
  // reference moved: O = (O + T·scale)·alpha.
  const lazyF = has('L1') ? 1 : has('L') ? 2 : has('M') ? 4 : has('A') ? 1 << 20 : 0, TAU = has('T') ? 0 : 8, PSC = lazyF ? 14 - TAU : 14;
  const softmax = lazyF ? `{
      ${rep(KPT, (j) => `let k${j} = sq4 * 8u + ((${u(j)} + srow) % 8u); let x${j} = ff[srow * ${u(BK)} + k${j}] * (KI[h * ${u(N)} + kt + k${j}] * rowF);`, '\n      ')}
      var mt = ${rep(KPT, (j) => `x${j}`, ', ').split(', ').reduce((a, x) => `max(${a}, ${x})`)};
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let nref = select(mrun, mt, mt > mrun + ${TAU}.0);${has('T') ? ' // TAU 0: the exact running max' : ''}
      let alpha = exp2x(mrun - nref);
      mrun = nref;
      var psum = 0.0;
      ${rep(KPT, (j) => `{ let p = exp2x(x${j} - nref); psum = psum + p; let p14 = p * ${2 ** PSC}.0; let ph = bitcast<f32>(bitcast<u32>(p14) & 0xffffe000u);
        if (sact) { ps[srow * ${u(PS)} + k${j}] = f16(ph); ps[${u(BM * PS)} + srow * ${u(PS)} + k${j}] = f16(p14 - ph); } }`, '\n      ')}
      if (sact && sq4 == 0u) { red[srow] = alpha; if (alpha != 1.0) { resc = 1u; } }
      lrun = lrun * alpha + psum;
    }` : `{
      ${rep(KPT, (j) => `let k${j} = sq4 * 8u + ((${u(j)} + srow) % 8u); let x${j} = ff[srow * ${u(BK)} + k${j}] * (KI[h * ${u(N)} + kt + k${j}] * rowF);`, '\n      ')}
      var mt = max(mrun, ${rep(KPT, (j) => `x${j}`, ', ').split(', ').reduce((a, x) => `max(${a}, ${x})`)});
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let alpha = exp2x(mrun - mt);
      mrun = mt;
      var psum = 0.0;
      ${rep(KPT, (j) => `{ let p = exp2x(x${j} - mt); psum = psum + p; let p14 = p * 16384.0; let ph = bitcast<f32>(bitcast<u32>(p14) & 0xffffe000u);
        if (sact) { ps[srow * ${u(PS)} + k${j}] = f16(ph); ps[${u(BM * PS)} + srow * ${u(PS)} + k${j}] = f16(p14 - ph); } }`, '\n      ')}
      if (sact && sq4 == 0u) { red[srow] = alpha; }
      lrun = lrun * alpha + psum;
    }`;
  // P·V: this subgroup's column block pnb, row blocks prb0 + RS * i; small products first (per tile, fresh T).
  const RS = 8 / NB;
  const vFrag = (k: number, p: number) => vs ? `subgroupMatrixLoad<${Rt}, row_major>(&kv, ${u(p * BK * VS + k * 16 * VS)} + pnb * 16u, ${u(VS)})` : `subgroupMatrixLoad<${Rt}, row_major>(&Vp, ((h * ${u(VP)} + ${u(p)}) * ${u(N)} + kt + ${u(k * 16)}) * ${u(D)} + pnb * 16u, ${u(D)})`;
  const pFrag = (i: number, k: number, p: number) => `subgroupMatrixLoad<${L}, row_major>(&ps, ${u(p * BM * PS)} + (prb0 + ${u(RS * i)}) * ${u(16 * PS)} + ${u(k * 16)}, ${u(PS)})`;
  const vLoads = has('P') ? '' : rep(2, (k) => rep(VP, (p) => `let v${k}_${p} = ${vFrag(k, p)};`, ' '), '\n    ');
  const pv = has('P') ? '' : has('p') ? `${has('v') ? '' : vLoads}
    ${rep(2, (k) => rep(TB, (i) => `{ let ph = ${pFrag(i, k, 0)}; let pl = ${pFrag(i, k, 1)};${rep(VP - 1, (p) => ` ${mma('ph', `v${k}_${VP - 1 - p}`, `T${i}`)}`, '')} ${mma('pl', `v${k}_0`, `T${i}`)} ${mma('ph', `v${k}_0`, `T${i}`)} }`, '\n    '), '\n    ')}` : `${has('v') ? '' : vLoads}
    ${rep(2, (k) => rep(TB, (i) => `{ let ph = ${pFrag(i, k, 0)}; let pl = ${pFrag(i, k, 1)}; ${mma('pl', `v${k}_0`, `T${i}`)}${rep(VP - 1, (p) => ` ${mma('ph', `v${k}_${VP - 1 - p}`, `T${i}`)}`, '')} }`, '\n    '), '\n    ')}
    ${rep(2, (k) => rep(TB, (i) => `{ let ph = ${pFrag(i, k, 0)}; ${mma('ph', `v${k}_0`, `T${i}`)} }`, ' '), '\n    ')}`;
  // mode: 'tile' O·alpha + T·scale (T fresh every tile); 'lazy' (O + T·scale)·alpha; 'end' O + T·scale.
  const flushCode = (mode: 'tile' | 'lazy' | 'end') => has('F') ? '' : Array.from({ length: rounds }, (_, r) => {
    const blocks = Array.from({ length: R }, (_, ii) => r * R + ii).filter((i) => i < TB);
    const upd = (o: string, a: string, tv: string) => mode === 'tile' ? `${o} = ${o} * ${a} + ${tv} * TS;` : mode === 'lazy' ? `${o} = (${o} + ${tv} * TS) * ${a};` : `${o} = ${o} + ${tv} * TS;`;
    return `${blocks.map((i, ii) => `subgroupMatrixStore<row_major>(&ff, (sg * ${u(R)} + ${u(ii)}) * 256u, T${i}, 16u);`).join(' ')}
    workgroupBarrier();
    ${blocks.map((i, ii) => `{ let base = (sg * ${u(R)} + ${u(ii)}) * 256u + (lane / 16u) * 16u + lane % 16u; let ra = (prb0 + ${u(RS * i)}) * 16u + lane / 16u;
      ${upd(`oa${i}`, 'vec4<f32>(red[ra], red[ra + 2u], red[ra + 4u], red[ra + 6u])', 'vec4<f32>(ff[base], ff[base + 32u], ff[base + 64u], ff[base + 96u])')}
      ${upd(`ob${i}`, 'vec4<f32>(red[ra + 8u], red[ra + 10u], red[ra + 12u], red[ra + 14u])', 'vec4<f32>(ff[base + 128u], ff[base + 160u], ff[base + 192u], ff[base + 224u])')} }`).join('\n    ')}
    workgroupBarrier();`;
  }).join('\n    ');
  const flush = lazyF ? '' : flushCode('tile');
  const lazyFlush = lazyF ? `let rs = workgroupUniformLoad(&resc);
    if (${has('U') ? 'true' : `${has('N') ? '' : 'rs == 1u || '}(kt > 0u && (kt / ${u(BK)}) % ${u(lazyF)} == 0u)`}) {
      ${flushCode('lazy')}
      ${has('Y') ? '' : rep(TB, (i) => has('X') ? `T${i} = subgroupMatrixScalarMultiply(T${i}, 0.0);` : `T${i} = ${C}();`, ' ')}
    }${has('Y') ? `
    { let keep = select(1.0, 0.0, rs == 1u || (kt > 0u && (kt / ${u(BK)}) % ${u(lazyF)} == 0u)); ${rep(TB, (i) => `T${i} = subgroupMatrixScalarMultiply(T${i}, keep);`, ' ')} }` : ''}` : '';
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> Qp: array<f16>;
@group(0) @binding(1) var<storage, read> Kp: array<f16>;
@group(0) @binding(2) var<storage, read> Kw: array<u32>;
@group(0) @binding(3) var<storage, read> Vp: array<f16>;
@group(0) @binding(4) var<storage, read> QI: array<f32>;
@group(0) @binding(5) var<storage, read> KI: array<f32>;
@group(0) @binding(6) var<storage, read> VI: array<f32>;
@group(0) @binding(7) var<storage, read_write> Ob: array<f32>;
@group(0) @binding(8) var<storage, read> Vw: array<u32>;
${exp2Fn(!has('e'), true)}
const NEG: f32 = -3.0e38;
${has('k') ? '' : `var<workgroup> kv: array<f16, ${kvHalves}>;`}
var<workgroup> ps: array<f16, ${2 * BM * PS}>;
var<workgroup> ff: array<f32, ${FF}>;
var<workgroup> red: array<f32, ${BM}>;
var<workgroup> lsum: array<f32, ${BM}>;
var<workgroup> resc: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wid.y; let i0 = wid.x * ${u(BM)};
  let sg = t / 32u; let lane = t % 32u;
  let srb = min(sg / 2u, ${u(RBN - 1)}); let snb = sg % 2u;
  ${rep(KD, (cc) => `let qh${cc} = subgroupMatrixLoad<${L}, row_major>(&Qp, (h * 2u * ${u(N)} + i0 + srb * 16u) * ${u(D)} + ${u(cc * 16)}, ${u(D)}); let ql${cc} = subgroupMatrixLoad<${L}, row_major>(&Qp, ((h * 2u + 1u) * ${u(N)} + i0 + srb * 16u) * ${u(D)} + ${u(cc * 16)}, ${u(D)});`, '\n  ')}
  let sact = t < ${u(BM * 4)};
  let srow = min(t / 4u, ${u(BM - 1)}); let sq4 = t % 4u;
  let rowF = QI[h * ${u(N)} + i0 + srow] * ${SCALE_LOG2};
  var mrun = NEG; var lrun = 0.0;
  let pnb = sg % ${u(NB)}; let prb0 = sg / ${u(NB)};
  let TS = VI[0] * ${2 ** -PSC};
  ${lazyF || has('C') ? rep(TB, (i) => `var T${i} = ${C}();`, ' ') : ''}
  ${rep(TB, (i) => `var oa${i} = vec4<f32>(0.0); var ob${i} = vec4<f32>(0.0);`, ' ')}
  var c = ${C}();
  ${kIO ? `${rep(KW, (e) => `var rk${e} = 0u;`, ' ')}
  { let kt = 0u;
    ${loadK('kt')}
    ${storeK}
    ${vs ? '' : loadK(u(BK))}
  }` : ''}
  ${vs ? rep(VW, (e) => `var rv${e} = 0u;`, ' ') : ''}
  workgroupBarrier();
  for (var kt = 0u; kt < ${u(N)}; kt += ${u(BK)}) {
    ${has('v') ? vLoads : ''}${vs ? loadV('kt') : ''}
    ${lazyF ? 'if (t == 0u) { resc = 0u; }' : ''}
    if (sg < ${u(SB)}) { c = ${C}();
      ${sMMA}
      subgroupMatrixStore<row_major>(&ff, srb * ${u(16 * BK)} + snb * 16u, c, ${u(BK)}); }
    workgroupBarrier();
    ${vs ? `${storeV}
    ${kIO ? `if (kt + ${u(BK)} < ${u(N)}) { ${loadK(`kt + ${u(BK)}`)} }` : ''}` : kIO ? `if (kt + ${u(BK)} < ${u(N)}) { ${storeK} }
    if (kt + ${u(2 * BK)} < ${u(N)}) { ${loadK(`kt + ${u(2 * BK)}`)} }` : ''}
    ${softmax}
    workgroupBarrier();
    ${lazyF ? lazyFlush : rep(TB, (i) => `${has('C') ? '' : 'var '}T${i} = ${C}();`, ' ')}
    ${pv}
    ${flush}${vs ? `
    ${has('F') || lazyF ? 'workgroupBarrier(); // P·V(j) reads V from the region K(j+1) goes into' : ''}
    ${kIO ? `if (kt + ${u(BK)} < ${u(N)}) { ${storeK} }` : ''}
    workgroupBarrier();` : ''}
  }
  ${lazyF ? flushCode('end') : ''}
  var lt = lrun;
  lt = lt + subgroupShuffleXor(lt, 1u); lt = lt + subgroupShuffleXor(lt, 2u);
  if (sact && sq4 == 0u) { lsum[srow] = lt; }
  workgroupBarrier();
  ${rep(TB, (i) => `{ let ra = (prb0 + ${u(RS * i)}) * 16u + lane / 16u; let col = pnb * 16u + lane % 16u;
    ${rep(8, (x) => `Ob[(h * ${u(N)} + i0 + ra + ${u(2 * x)}) * ${u(D)} + col] = ${x < 4 ? 'oa' : 'ob'}${i}.${'xyzw'[x % 4]} / lsum[ra + ${u(2 * x)}];`, ' ')} }`, '\n  ')}
}
`;
}

if (process.env.FULLTC_WGSL_ONLY) {
  const { writeFileSync } = await import('node:fs');
  for (const [bm, fl] of CONFIGS) {
    const l = layout({ bm, flags: fl });
    writeFileSync(`${process.env.FULLTC_WGSL_ONLY}/fulltc-${D}-${bm}${fl ? `-${fl}` : ''}.wgsl`, gen({ bm, flags: fl }));
    log(`${bm}:${fl} smem ${l.smem} rounds ${l.rounds}`);
  }
  process.exit(0);
}

const q = randn(N * D), k = randn(N * D), v = randn(N * D);
const qs = splitRows(q, N, D, 2), ks = splitRows(k, N, D, 2);
let vmax = 0;
for (const x of v) vmax = Math.max(vmax, Math.abs(x));
const ve = 14 - Math.ceil(Math.log2(vmax));
const vs3 = splitRows(v, N, D, 3, ve), vs2 = splitRows(v, N, D, 2, ve);
const perHead = (planes: Uint16Array[]) => { const b = new Uint16Array(H * planes.length * N * D); for (let h = 0; h < H; h++) planes.forEach((p, i) => b.set(p, (h * planes.length + i) * N * D)); return b; };
const perHeadF = (x: Float32Array) => { const b = new Float32Array(H * x.length); for (let h = 0; h < H; h++) b.set(x, h * x.length); return b; };

const device = await openF16MatrixDevice(out, log);
if (!device) process.exit(0);
const ref = attentionReference(q, k, v, N, D);
const buf = (data: ArrayBufferView) => {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
};
const Qb = buf(perHead(qs.planes)), Kb = buf(perHead(ks.planes)), V3 = buf(perHead(vs3.planes)), V2 = buf(perHead(vs2.planes));
const QI = buf(perHeadF(qs.inv)), KI = buf(perHeadF(ks.inv)), VI = buf(new Float32Array([2 ** -ve, 0, 0, 0]));
const Ob = device.createBuffer({ size: H * N * D * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
log(`setup done (d ${D}, n ${N}, heads ${H}, V scale 2^${ve})`);
for (const [bm, fl] of CONFIGS) {
  try { await runConfig({ bm, flags: fl }); } catch (e) { out({ bm, flags: fl, error: String(e) }); }
}
process.exit(0);

async function runConfig(c: Cfg) {
  const l = layout(c);
  const cfg = { probe: 'full-tc', d: D, n: N, heads: H, bm: c.bm, flags: c.flags, smem: l.smem, rounds: l.rounds };
  if (l.smem > SMEM || l.R < 1) { out({ ...cfg, error: 'does not fit' }); return; }
  const code = gen(c);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  if (errs.length) { await device.popErrorScope(); out({ ...cfg, compileErrors: errs.slice(0, 5) }); return; }
  const tc = performance.now();
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const compileMs = performance.now() - tc;
  const poison = new Float32Array(N * D).fill(NaN);
  for (let h = 0; h < H; h++) device.queue.writeBuffer(Ob, h * N * D * 4, poison);
  const Vb = c.flags.includes('2') ? V2 : V3;
  const used = [[0, Qb], [1, Kb], [2, Kb], [3, Vb], [4, QI], [5, KI], [6, VI], [7, Ob], [8, Vb]] as const;
  const layoutBg = pipeline.getBindGroupLayout(0);
  // 'auto' layouts drop the bindings a kernel does not use: bind those whose variable the WGSL uses.
  const usedVar = (i: number) => { const m = new RegExp(`@binding\\(${i}\\) var<[^>]*> (\\w+)`).exec(code); return !!m && code.split(new RegExp(`\\b${m[1]}\\b`)).length > 2; };
  const entries = used.filter(([i]) => usedVar(i)).map(([i, b]) => ({ binding: i, resource: { buffer: b } }));
  const bg = device.createBindGroup({ layout: layoutBg, entries });
  const e0 = await device.popErrorScope();
  if (e0) { out({ ...cfg, error: e0.message }); return; }
  log(`${c.bm}:${c.flags} pipeline ok (${Math.round(compileMs)} ms)`);
  const r = await timeAndCheck({ device, pipeline, bindGroup: bg, groups: [N / c.bm, H], out: Ob, N, D, H, ref, log });
  out({ ...cfg, compileMs: Math.round(compileMs), ...r });
}
