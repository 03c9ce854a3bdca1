import { exp2Fn, loaders, queryTilePrologue, rep, scoreFns, storageType, windowCode } from './wgsl-common.js';
import { vScaleCode } from './wgsl-v-split.js';
import { TC_BK, roundF16, planesPutCode, splitRowCode, tcModuleHead, type TcTiles } from './wgsl-forward-tc.js';
import type { ForwardShape, TcAblation } from './wgsl-forward.js';

/**
 * The tensor-core forward with **both** products on the f16 tensor cores (TcOptions.pv 'mma'), exact enough for f32:
 * - S = QKᵀ as in wgsl-forward-tc.ts (per-row power-of-two scales, hi/lo splits, three products, small ones first).
 * - P·V: P (≤ 1) scaled by 2^14 is split into hi + lo; V comes split into VP pieces with one power of two per block
 *   of 32 key rows and KV head (wgsl-v-split.ts: three pieces, 33 bits, so a one-hot row gives V itself; the key tiles
 *   are those blocks), and T = Ph·(Vlo + Vmid) + Pl·Vh + Ph·Vh goes into **fresh** result matrices every key tile (the
 *   tensor cores truncate the accumulator; a fresh T keeps that at one tile's magnitude), flushed through workgroup
 *   memory into O in f32 registers: O = O·alpha + T·scale(tile).
 * - K comes split too (kSplitWGSL, the split the other kernel does per tile), once per call in the engine's main pass
 *   before this kernel instead of once per query tile; Q is split in the prologue, 32 rows at a time through the region.
 * - f16/bf16 inputs: V and P in one f16 piece each (T = Ph·V); f16 (TcTiles.direct) also reads K and V from the
 *   inputs as they are (at the binding's element shift, no scales, no split kernels; H100 d128 4k: 6.95 against 9.18
 *   ms with the splits and two pieces, run 141).
 * Layout: 256 threads, BM = 64 query rows, key tiles of 32. S: subgroup sg owns block (rb, nb) = (sg / 2, sg % 2).
 * P·V: subgroup sg owns O's column block pnb = sg % NB and row blocks prb0 + RS·i; it reads each V fragment once per
 * k-step for all its row blocks. The flush reads back one column per lane, every other row (rows lane/16 + 2x): 32
 * consecutive floats per read, no bank conflicts. K and V planes are staged as u32 words (consecutive lanes, consecutive
 * words: no bank conflicts on the 16-bit stores).
 * Workgroup memory (48 KiB): K and V take turns in one region (V needs 3 planes), so a tile is not pipelined:
 *   P1 V(j) -> registers; S(j) [K(j)] -> ss | P2 V(j) into the region; softmax(j) -> P hi/lo, alpha |
 *   P3 P·V(j) -> T; K(j+1) -> registers; flush (rounds of one T block per subgroup) | P4 K(j+1) into the region |
 * (Loads placed for short register lives: with V(j+1) loaded in P3 and K(j+1) in P2, d128 took 21.5 ms, run 114.)
 * Measured first as a probe (scripts/full-tc-probe.ts, H100, session 9, runs 102-112): d128 4k 13.6 ms (40.3
 * TFLOP/s), d64 16.3 ms, against 17.7 / 19.1 ms for wgsl-forward-tc.ts. Here (runs 113-119): f32 d128 17.0, d64 19.0
 * (the 3 ms to the probe are not found, run 117); f16 d128 11.0, d64 13.1. Splitting V per tile inside this kernel
 * instead of beforehand was no faster for f32 (run 113).
 */
export function forwardTcPvWGSL(s: ForwardShape, t: TcTiles): string {
  const { d, dv } = s;
  const direct = !!t.direct;
  const L = tcPvLayout({ d, dv, half: !!t.half }, t.bm);
  const { BM, NT, NS, KS, VS, PS, VP, PP, RBN, NB, TB, R, rounds, regionHalves, ffFloats, blocks } = L;
  const BK = TC_BK, half = !!t.half;
  // Timing only (scripts/device-run.ts through setForwardAblation): one piece removed, results wrong on purpose.
  const ab = (a: TcAblation) => t.ablate === a;
  const KD = d / 16, NBK = BK / 16;
  const KPT = 8; // softmax: 4 threads per row, 8 keys each
  // K and V come split (kSplitWGSL: [row][hkv][2 planes][d]; vSplitWGSL: [row][hkv][VP planes][dv]), f16 pairs read as
  // u32 words; K's lo plane is not read for f16/bf16 inputs.
  const KPn = half ? 1 : 2, HW = d / 2, HV = dv / 2;
  const Lm = 'subgroup_matrix_left<f16, 16, 16>', Rm = 'subgroup_matrix_right<f16, 16, 16>', Cm = 'subgroup_matrix_result<f32, 16, 16>';
  const u = (n: number) => `${n}u`;
  const mma = (a: string, b: string, acc: string) => `${acc} = subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${acc});`;
  // Staging K(j) / V(j) (PL planes x BK rows x HWn words of a row's plane; the planes of a row are `tot` words apart
  // in memory): thread t keeps one word column cw = t % HWn and starts at row-plane rp0 = t / HWn, stepping NT / HWn
  // row-planes, so that every step's plane and row offset are constants and a load or store is one add to a per-tile
  // base. Computing each word's row, plane and column per load and tile instead cost 3 ms of 17 at d128 (runs 117,
  // 125: 17.1 -> 14.2 ms; d64 19.1 -> 16.4; f16 d128 10.8 -> 9.6). That form remains where NT / HWn does not divide BK.
  // direct (f16 inputs): K and V are the inputs themselves, [row][hkv][d] at the binding's element shift.
  const stage = (name: 'k' | 'v', PL: number, HWn: number, tot: number, S: number) => {
    const sh = direct ? ` + (P.${name}Shift >> 1u)` : '';
    const { E, even, step } = stagePlan(PL, BK, HWn, NT);
    const src = name === 'k' ? 'KPw' : 'VPw', reg = name === 'k' ? 'rk' : 'rv';
    const pre = `${name}rp0`, cw = `${name}cw`;
    const head = even ? `let ${pre} = t / ${u(HWn)}; let ${cw} = t % ${u(HWn)};` : '';
    const load = (kt: string) => even
      ? `{ let base = ((kr0 + u32(${kt}) + ${pre}) * P.hkv + hk) * ${u(tot)} + ${cw}${sh}; let rs = P.hkv * ${u(tot)};
      ${rep(E, (e) => { const { ro, pl } = step(e); return `${reg}${e} = 0u; if (u32(${kt}) + ${pre} + ${u(ro)} < sk) { ${reg}${e} = ${src}[base + ${ro ? `${u(ro)} * rs + ` : ''}${u(pl * HWn)}]; }`; }, '\n      ')} }`
      : rep(E, (e) => `{ let w = t + ${u(NT * e)}; let row = w / ${u(PL * HWn)}; let rem = w - row * ${u(PL * HWn)}; let gr = u32(${kt}) + row;
      ${reg}${e} = 0u; if (gr < sk) { ${reg}${e} = ${src}[((kr0 + gr) * P.hkv + hk) * ${u(tot)} + rem${sh}]; } }`, '\n    ');
    const store = even
      ? `{ let a0 = ${pre} * ${u(S)} + ${cw} * 2u;
      ${rep(E, (e) => { const { ro, pl } = step(e); return `{ let x = bitcast<vec2<f16>>(${reg}${e}); let a = a0 + ${u(pl * BK * S + ro * S)}; kh[a] = x.x; kh[a + 1u] = x.y; }`; }, '\n      ')} }`
      : rep(E, (e) => `{ let w = t + ${u(NT * e)}; let row = w / ${u(PL * HWn)}; let rem = w - row * ${u(PL * HWn)}; let pl = rem / ${u(HWn)}; let cw = rem - pl * ${u(HWn)};
      let x = bitcast<vec2<f16>>(${reg}${e}); let a = pl * ${u(BK * S)} + row * ${u(S)} + cw * 2u; kh[a] = x.x; kh[a + 1u] = x.y; }`, '\n    ');
    return { E, head, load, store };
  };
  const sk_ = stage('k', KPn, HW, direct ? HW : 2 * HW, KS), sv_ = stage('v', VP, HV, VP * HV, VS);
  // K's inverse row scales travel in a register of threads t < 32 (a global load right before the barrier would stall).
  const loadK = (kt: string) => direct ? sk_.load(kt) : `${sk_.load(kt)}
    { let gr = u32(${kt}) + t; rki = 0.0; if (t < ${u(BK)} && gr < sk) { rki = KI[(kr0 + gr) * P.hkv + hk]; } }`;
  const storeK = direct ? sk_.store : `${sk_.store}
    if (t < ${u(BK)}) { kinv[t] = rki; }`;
  // V's block scale (the block's largest |v|, KI[P.count + block * hkv + hk]) travels like K's row scales: loaded
  // with V by subgroup 0, T's unscaling (P's 2^14 and 1/scale) put in workgroup memory with V, one slot per lane (a
  // branch on subgroup 0 does not split a subgroup: with one thread doing it, t == NT - 1, the quick set failed 7 of
  // 18 and the grid 103 of 648, run 133 -- subgroup operations after a split branch, is the guess). (Loaded by every
  // thread at P1 and used at P3 instead: d128 4k 12.25 against 11.80 ms, d64 14.42 against 13.50, run 132.)
  const loadV = (kt: string) => direct ? sv_.load(kt) : `${sv_.load(kt)}
    if (t < 32u) { rvb = bitcast<u32>(KI[P.count + ((kr0 + u32(${kt})) / ${u(BK)}) * P.hkv + hk]); }`;
  const storeV = direct ? sv_.store : `${sv_.store}
    if (t < 32u) { vts[t] = (1.0 / ${vScaleCode('rvb')}) * ${2 ** -14}; }`;
  const bFrag = (c: number, lo: boolean) => `subgroupMatrixLoad<${Rm}, col_major>(&kh, ${lo ? `${u(BK * KS)} + ` : ''}nb * ${u(16 * KS)} + ${u(c * 16)}, ${u(KS)})`;
  const sMMA = ab('tcnos') ? `subgroupMatrixStore<row_major>(&ff, rb * ${u(16 * BK)} + nb * 16u, c, ${u(BK)});` : `c = ${Cm}();
      ${half ? '' : rep(KD, (c) => `${mma(`ql${c}`, bFrag(c, false), 'c')} ${mma(`qh${c}`, bFrag(c, true), 'c')}`, '\n      ')}
      ${rep(KD, (c) => mma(`qh${c}`, bFrag(c, false), 'c'), '\n      ')}
      subgroupMatrixStore<row_major>(&ff, rb * ${u(16 * BK)} + nb * 16u, c, ${u(BK)});`;
  const fold = !s.softcap;
  const kinvOf = (j: number) => (direct ? '1.0' : `kinv[k${j}]`); // direct: K unscaled
  const score = (j: number) => fold ? `ff[srow * ${u(BK)} + k${j}] * (${kinvOf(j)} * rowF)` : `score2(ff[srow * ${u(BK)} + k${j}] * (${kinvOf(j)} * qinvRow))`;
  // masked: per-key window tests; else the tile lies inside every valid row's window (a uniform branch, see ulo/uhi).
  const softmax = (kt: string, masked = true) => `{
      ${rep(KPT, (j) => `let k${j} = sq4 * ${u(KPT)} + ((${u(j)} + srow) % ${u(KPT)});${masked ? ` let kj${j} = i32(${kt}) + i32(k${j});` : ''}
      let v${j} = ${ab('tcnomask') || !masked ? 'true' : `kj${j} >= lo && kj${j} < hi`}; let x${j} = ${masked ? `select(NEG, ${score(j)}, v${j})` : score(j)};`, '\n      ')}
      var mt = max(mrun, ${rep(KPT, (j) => `x${j}`, ', ').split(', ').reduce((a, x) => `max(${a}, ${x})`)});
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let alpha = exp2x(mrun - mt);
      mrun = mt;
      var psum = 0.0;
      ${rep(KPT, (j) => `{ let p = ${masked ? `select(0.0, exp2x(x${j} - mt), v${j})` : `exp2x(x${j} - mt)`}; psum = psum + p; let p14 = p * 16384.0; let ph = ${roundF16('p14')};
        ps[srow * ${u(PS)} + k${j}] = f16(ph);${PP === 1 ? '' : ` ps[${u(BM * PS)} + srow * ${u(PS)} + k${j}] = f16(p14 - ph);`} }`, '\n      ')}
      if (sq4 == 0u) { red[srow] = alpha; }
      lrun = lrun * alpha + psum;
    }`;
  // P·V blocks of this subgroup (tcPvLayout.blocks): block i at row block rbOf(i), column block nbOf(i); V's fragments
  // are loaded once per k-step and column block and serve all the row blocks of that column.
  const rbOf = (i: number) => blocks[i]!.rb, nbOf = (i: number) => blocks[i]!.nb;
  const cols = [...new Set(blocks.map((b) => b.nb))];
  const vName = (k: number, nb: string, p: number) => `v${k}_${cols.indexOf(nb)}_${p}`;
  const vFrag = (k: number, nb: string, p: number) => `subgroupMatrixLoad<${Rm}, row_major>(&kh, ${u(p * BK * VS + k * 16 * VS)} + (${nb}) * 16u, ${u(VS)})`;
  const pFrag = (i: number, k: number, p: number) => `subgroupMatrixLoad<${Lm}, row_major>(&ps, ${u(p * BM * PS)} + (${rbOf(i)}) * ${u(16 * PS)} + ${u(k * 16)}, ${u(PS)})`;
  // Per block and k-step, the small products first (P's fragments loaded once for all four).
  const pv = ab('tcnopv') ? '' : `${rep(NBK, (k) => cols.map((nb) => rep(VP, (p) => `let ${vName(k, nb, p)} = ${vFrag(k, nb, p)};`, ' ')).join(' '), '\n    ')}
    ${rep(NBK, (k) => rep(TB, (i) => { const v = (p: number) => vName(k, nbOf(i), p); return PP === 1 ? `{ let ph = ${pFrag(i, k, 0)};${rep(VP, (p) => ` ${mma('ph', v(VP - 1 - p), `T${i}`)}`, '')} }` : `{ let ph = ${pFrag(i, k, 0)}; let pl = ${pFrag(i, k, 1)};${rep(VP - 1, (p) => ` ${mma('ph', v(VP - 1 - p), `T${i}`)}`, '')} ${mma('pl', v(0), `T${i}`)} ${mma('ph', v(0), `T${i}`)} }`; }, '\n    '), '\n    ')}`;
  const nt = `(jt + 1 < ntiles)`;
  const flush = Array.from({ length: rounds }, (_, r) => {
    const bl = Array.from({ length: R }, (_, ii) => r * R + ii).filter((i) => i < TB);
    return `${bl.map((i, ii) => `subgroupMatrixStore<row_major>(&ff, (sg * ${u(R)} + ${u(ii)}) * 256u, T${i}, 16u);`).join(' ')}
    workgroupBarrier();
    ${bl.map((i, ii) => `{ let base = (sg * ${u(R)} + ${u(ii)}) * 256u + (lane / 16u) * 16u + lane % 16u; let ra = (${rbOf(i)}) * 16u + lane / 16u;
      oa${i} = oa${i} * vec4<f32>(red[ra], red[ra + 2u], red[ra + 4u], red[ra + 6u]) + vec4<f32>(ff[base], ff[base + 32u], ff[base + 64u], ff[base + 96u]) * TS;
      ob${i} = ob${i} * vec4<f32>(red[ra + 8u], red[ra + 10u], red[ra + 12u], red[ra + 14u]) + vec4<f32>(ff[base + 128u], ff[base + 160u], ff[base + 192u], ff[base + 224u]) * TS; }`).join('\n    ')}
    workgroupBarrier();`;
  }).join('\n    ');
  // Q is split here, RP = NT / 8 rows at a time (8 lanes per row, lane l taking vec4s l, l + 8, ...) through K's part
  // of the region; each subgroup takes its hi/lo matrices from the pass that holds its row block, and 1/scale goes to
  // red. Both passes' rows are loaded up front (one memory latency per workgroup, not two). (Split by kSplitWGSL in
  // the main pass instead and loaded from there: d128 4k 11.99 against 11.80 ms, 1k 3.60 against 3.34, run 130.)
  const RP = NT / 8, C4 = d / 32, QP = BM / RP;
  const qCode = `${rep(KD, (c) => `var qh${c}: ${Lm};${half ? '' : ` var ql${c}: ${Lm};`}`, ' ')}
  { let sr = t / 8u; let lane8 = t % 8u;
    ${rep(QP, (p) => `${rep(C4, (c) => `var xq${p}_${c} = vec4<f32>(0.0);`, ' ')}
    if (i0 + ${u(p * RP)} + sr < sq) { let e = ((qr0 + i0 + ${u(p * RP)} + sr) * P.hq + h) * ${u(d)} + P.qShift; ${rep(C4, (c) => `xq${p}_${c} = ld4_q(e + (lane8 + ${u(8 * c)}) * 4u, lane8 + ${u(8 * c)});`, ' ')} }`, '\n    ')}
    ${rep(QP, (p) => `{ ${rep(C4, (c) => `let xs${c} = xq${p}_${c};`, ' ')}
      var qinvSlot = 0.0;
      ${splitRowCode(C4, (c, yh, yl) => planesPutCode(`sr * ${u(KS)} + (lane8 + ${u(8 * c)}) * 4u`, yh, yl, BK * KS, half), 'qinvSlot')}
      if (lane8 == 0u) { red[${u(p * RP)} + sr] = qinvSlot; }
    }
    workgroupBarrier();
    if (rb * 16u >= ${u(p * RP)} && rb * 16u < ${u((p + 1) * RP)}) {
      let base = (rb * 16u - ${u(p * RP)}) * ${u(KS)};
      ${rep(KD, (c) => `qh${c} = subgroupMatrixLoad<${Lm}, row_major>(&kh, base + ${u(c * 16)}, ${u(KS)});${half ? '' : ` ql${c} = subgroupMatrixLoad<${Lm}, row_major>(&kh, ${u(BK * KS)} + base + ${u(c * 16)}, ${u(KS)});`}`, '\n      ')}
    }
    workgroupBarrier();`, '\n    ')}
  }`;
  return `${tcModuleHead()}
@group(0) @binding(4) var<storage, read> KPw: array<u32>;
@group(0) @binding(5) var<storage, read> VPw: array<u32>;
@group(0) @binding(6) var<storage, read_write> Ob: ${storageType('f32', true)};
@group(0) @binding(7) var<storage, read_write> Lb: array<f32>;
${direct ? '' : '@group(0) @binding(8) var<storage, read> KI: array<f32>;'}
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, true)};
${loaders('q', 'Qb', s.dtype, d, true)}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32' && !ab('tcexp2') && t.exp2 !== 'builtin', true)}
const NEG: f32 = -3.0e38;
var<workgroup> kh: array<f16, ${regionHalves}>;
var<workgroup> ps: array<f16, ${PP * BM * PS}>;
var<workgroup> ff: array<f32, ${ffFloats}>;
var<workgroup> red: array<f32, ${BM}>;
var<workgroup> kinv: array<f32, ${BK}>;
var<workgroup> vts: array<f32, 32>;
var<workgroup> uni: vec4<u32>;
var<workgroup> wlo: array<i32, ${NS}>;
var<workgroup> whi: array<i32, ${NS}>;
var<workgroup> ulo: i32;
var<workgroup> uhi: i32;

@compute @workgroup_size(${NT})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(BM)}
  let sg = t / 32u; let lane = t % 32u;
  let rb = min(sg / ${u(NBK)}, ${u(RBN - 1)}); let nb = sg % ${u(NBK)};
  ${rep(sk_.E, (e) => `var rk${e} = 0u;`, ' ')} var rki = 0.0; ${rep(sv_.E, (e) => `var rv${e} = 0u;`, ' ')} var rvb = 0u;
  ${sk_.head} ${sv_.head}
  // Key tiles are the binding's blocks of 32 rows (vSplitWGSL's scale blocks), so the first may start before the
  // sequence (jstart < 0: those keys are not loaded and fail every row's window test, lo >= 0). K(first) is loaded
  // before Q's split, so that its latency overlaps it.
  let jstart = i32(((kr0 + u32(jlo)) / ${u(BK)}) * ${u(BK)}) - i32(kr0);
  let ntiles = select(0, (jhi - jstart + ${BK - 1}) / ${BK}, jhi > jstart);
  if (ntiles > 0) {
    ${loadK('jstart')}
  }
  ${qCode}
  let srow = t / 4u; let sq4 = t % 4u;
  let gi = i32(i0 + srow);
  ${windowCode('lo', 'hi', 'gi')}
  // [ulo, uhi): the keys inside every valid row's window. Key tiles within it take the softmax without per-key tests
  // (run 117: the tests cost 0.45 of 17 ms at d128).
  { var vlo = select(-2147483647, lo, gi < i32(sq)); var vhi = select(2147483647, hi, gi < i32(sq));
    vlo = subgroupMax(vlo); vhi = subgroupMin(vhi);
    if (lane == 0u) { wlo[sg] = vlo; whi[sg] = vhi; } }
  workgroupBarrier();
  if (t == 0u) { var a = wlo[0]; var z = whi[0]; for (var g = 1u; g < ${u(NS)}; g++) { a = max(a, wlo[g]); z = min(z, whi[g]); } ulo = a; uhi = z; }
  let uLo = workgroupUniformLoad(&ulo); let uHi = workgroupUniformLoad(&uhi);
  let qinvRow = red[srow];${fold ? `
  let rowF = qinvRow * P.scaleLog2;` : ''}
  var mrun = NEG; var lrun = 0.0;
  ${NB < NS ? `let pnb = sg % ${u(NB)}; let prb0 = sg / ${u(NB)}; // NS / NB subgroups share a column block` : ''}
  ${rep(TB, (i) => `var oa${i} = vec4<f32>(0.0); var ob${i} = vec4<f32>(0.0);`, ' ')}
  var c = ${Cm}();
  if (ntiles > 0) {
    ${storeK}
  }
  workgroupBarrier();
  for (var jt = 0; jt < ntiles; jt++) {
    let kt = jstart + jt * ${BK};
    // P1: V(j) into registers (and its block's largest |v|); S(j) from K(j).
    ${ab('tcnoload') ? '' : loadV('kt')}
    ${sMMA}
    workgroupBarrier();
    // P2: V(j) into the region (K(j) is done with); softmax(j).
    ${storeV}
    if (${ab('tcnomask') ? 'false' : `i32(kt) >= uLo && i32(kt) + ${BK} <= uHi`}) ${softmax('kt', false)} else ${softmax('kt')}
    workgroupBarrier();
    // P3: P·V(j) into fresh T; K(j+1) into registers; the flush into O.
    let TS = ${direct ? `${2 ** -14}` : 'vts[lane]'};
    ${rep(TB, (i) => `var T${i} = ${Cm}();`, ' ')}
    ${pv}
    ${ab('tcnoload') ? '' : `if ${nt} { ${loadK(`kt + ${BK}`)} }`}
    ${flush}
    // P4: K(j+1) into the region. (Stored before the flush's last barrier instead, one barrier less per tile: no
    // faster, runs 133-134.)
    if ${nt} { ${storeK} }
    workgroupBarrier();
  }
  var lt = lrun;
  lt = lt + subgroupShuffleXor(lt, 1u); lt = lt + subgroupShuffleXor(lt, 2u);
  if (sq4 == 0u) { red[srow] = lt; }
  workgroupBarrier();
  let ninf = bitcast<f32>(P.ninfBits);
  if (sq4 == 0u && gi < i32(sq)) {
    let li = b * P.lseBatchStride + h * P.lseHeadStride + select(0u, u.z, P.lseVarlen == 1u) + u32(gi);
    Lb[li] = select(ninf, (mrun + log2(lt)) * 0.6931471805599453, lt > 0.0);
  }
  ${rep(TB, (i) => `{ let ra = (${rbOf(i)}) * 16u + lane / 16u; let col = (${nbOf(i)}) * 16u + lane % 16u;
    ${rep(8, (x) => `{ let r = ra + ${u(2 * x)}; if (i0 + r < sq) { let l = red[r]; let e = ((qr0 + i0 + r) * P.hq + h) * ${u(dv)} + P.oShift + col; Ob[e >> 2u][e & 3u] = select(0.0, ${x < 4 ? 'oa' : 'ob'}${i}[${x % 4}] / l, l > 0.0); } }`, '\n    ')} }`, '\n  ')}
}
`;
}

/**
 * How NT threads stage a tile of PL planes x BK rows x HWn words (forwardTcPvWGSL's K and V): E steps per thread;
 * where `even`, thread t keeps word column t % HWn and, at step e, takes plane step(e).pl, row t / HWn + step(e).ro
 * (so each load and store is one add to a per-thread, per-tile base); else the word t + NT·e in row-major order.
 * test/tensor-cores.test.ts checks that the steps cover the tile exactly once.
 */
export function stagePlan(PL: number, BK: number, HWn: number, NT: number) {
  const E = (PL * BK * HWn) / NT, RPS = NT / HWn, E1 = BK / RPS;
  const even = NT % HWn === 0 && BK % RPS === 0;
  return { E, even, step: (e: number) => ({ ro: RPS * (e % E1), pl: Math.floor(e / E1) }) };
}

/**
 * The layout of forwardTcPvWGSL for a shape and BM (32 or 64; 4·BM threads, the softmax's 4 per row): its workgroup
 * memory in `bytes`, and the P·V blocks of a subgroup (`blocks`, as WGSL expressions in sg / pnb / prb0): with at
 * least as many column blocks NB as subgroups NS, whole columns (nb = sg + NS·c, every row block); else NS/NB
 * subgroups share a column (nb = sg % NB), each taking every (NS/NB)-th row block.
 */
export function tcPvLayout(s: { d: number; dv: number; half?: boolean }, bm: number) {
  const BK = TC_BK, BM = bm, NT = 4 * BM, NS = NT / 32;
  const KS = s.d + 8, VS = s.dv + 8, PS = BK + 8;
  // V's pieces, K's planes, P's pieces: f32 inputs 3, 2, 2; f16/bf16 one each (their values fit one f16 after a
  // power-of-two scale, and their baselines round P coarser than one f16 piece does).
  const VP = s.half ? 1 : 3, KP = s.half ? 1 : 2, PP = s.half ? 1 : 2;
  const RBN = BM / 16, NB = s.dv / 16, TB = (RBN * NB) / NS;
  const blocks: { rb: string; nb: string }[] = [];
  if (NB >= NS) { for (let c = 0; c < NB / NS; c++) for (let r = 0; r < RBN; r++) blocks.push({ rb: `${r}u`, nb: c === 0 ? 'sg' : `sg + ${NS * c}u` }); }
  else { const RS = NS / NB; for (let r = 0; r < RBN / RS; r++) blocks.push({ rb: r === 0 ? 'prb0' : `prb0 + ${RS * r}u`, nb: 'pnb' }); }
  // The region holds K(j) (KP planes), V(j) (VP planes) in turn.
  const regionHalves = Math.max(KP * BK * KS, VP * BK * VS);
  const fixed = 2 * regionHalves + 2 * PP * BM * PS + 4 * (BM + 2 * BK) + 16 + 4 * (2 * NS + 2); // + red, kinv, vts, uni, wlo/whi, ulo/uhi
  const R = Math.max(1, Math.min(TB, Math.floor((49152 - fixed) / (NS * 1024)))); // T blocks per subgroup per flush round
  const ffFloats = Math.max(BM * BK, NS * R * 256);
  return { BM, NT, NS, KS, VS, PS, VP, PP, RBN, NB, TB, R, rounds: Math.ceil(TB / R), regionHalves, ffFloats, blocks, bytes: fixed + 4 * ffFloats };
}
