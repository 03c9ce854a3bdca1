import { exp2Fn, groupReduceShuffle, loaders, paramStruct, queryTilePrologue, rep, scoreFns, storageType, storer, windowCode } from './wgsl-common.js';
import type { ForwardShape, TcAblation } from './wgsl-forward.js';
import { tcPvLayout } from './wgsl-forward-tcpv.js';

/**
 * The tensor-core forward (f32-exact QKᵀ on f16 tensor cores; Dawn's subgroup matrices, 16x16x16 f16 -> f32):
 * each Q and K row is scaled by a power of two (its largest |x| to 2^14) and split into hi + lo, both f16 (hi: rounded
 * to f16's 10 mantissa bits, so hi is exact; lo = the rest, rounded), and S = Ql·Kh + Qh·Kl (over all of d)
 * + Qh·Kh with f32 accumulation ("3xTF32" with f16 pieces; small products first, see sCompute), then unscaled per
 * element. The softmax and P·V run on the f32 units as in
 * the SIMT forward (P and O never pass through f16: the tensor cores' truncating accumulation over thousands of keys
 * would exceed the criterion; scripts/tc-accumulation-sim.py).
 *
 * One workgroup of 256 threads (8 subgroups) per BM query rows; key tiles of BK = 32. Each of the (BM/16)·2 S blocks
 * belongs to one subgroup, which holds its 16 rows' Q hi/lo matrices for the whole key loop. Software pipelined, two
 * barriers per key tile (j: the tile being finished):
 *   A(j): O *= alpha(j); P·V(j) [ps, vs]; S(j+1) -> ss [kh]; registers <- K(j+2), V(j+1)
 *   B(j): kh <- K(j+2); vs <- V(j+1); softmax(j+1) [ss -> ps, alpha -> red]
 * K is split as each tile is stored (8 lanes per key row), Q in the prologue, 32 rows at a time, through the K tile's
 * memory; both through splitRowCode, which kSplitWGSL also runs alone for the tests.
 * K rows in workgroup memory are padded by 8 halves: unpadded, the 16 rows a fragment load reads all start in the same
 * bank (in the probe, scripts/fused-f16-probe.ts: d128 35.5 against 24.8 TFLOP/s, H100 runs 78-79).
 * f16/bf16 inputs take S = Qh·Kh alone (TcTiles.half). Measurements and what was tried: docs/tensor-core-path.md.
 */

/** The tensor-core forward's code options (TileOverride.tcOpts replaces tcDefaults). */
export interface TcOptions {
  /** vec4 columns of O per P·V thread (2: 16 threads per row group; 1: a subgroup per row group, twice the rows). */
  readonly pvCols?: 1 | 2;
  /** Scores as s * (kinv * (qinv * scaleLog2)): one multiply less per score, the same value (no softcap). */
  readonly fold?: boolean;
  /** P·V on the FMA units ('fma', this file) or on the tensor cores too ('mma', wgsl-forward-tcpv.ts: BM 64 or 32). */
  readonly pv?: 'fma' | 'mma';
  /** 'mma' only: P = exp2 by the f32 polynomial (exp2x, 'poly', the default) or the builtin ('builtin'). */
  readonly exp2?: 'poly' | 'builtin';
  /** 'mma' with f16 inputs: split and scale K, V and P as for bf16 (true) instead of reading them as they are (TcTiles.direct). */
  readonly f16Split?: boolean;
}
/**
 * Defaults (H100): pv 'mma' (session 9: with its staging loads at one add each, run 125, 4k: f32 d128 14.2 against
 * 18.0 ms with P·V on the FMA units, d64 16.4 against 19.4; f16 d128 9.6, d64 12.2 against 16.3 / 21.6, run 122)
 * where its tile fits the workgroup memory, else P·V on the FMA units with pvCols 1 where dv is 64 or more (session 8,
 * runs 90-93: dv 128: a warp is one row group, so its P reads are broadcasts and each V read feeds 24 FMAs instead of
 * 12: d128 19.0 -> 18.0 ms; d64 22.8 -> 19.1 ms) and fold (d128 17.7 ms). A softmax without per-key tests for tiles no
 * window cuts (a uniform branch) gained 0.1 ms more and is not kept.
 */
export function tcDefaults(dv: number, adapter = ''): TcOptions {
  // WGSL leaves exp2's accuracy to the implementation (3 + 2|x| ulp allowed); NVIDIA's builtin (ex2.approx) passed the
  // full grid with P·V on the tensor cores (run 127: worst 1.99x, against 2.12x with the polynomial) and saves 1-2 ms
  // at 4k (d128 14.1 -> 13.1, d64 16.5 -> 14.4). Elsewhere (not measured) the polynomial.
  return { ...(dv >= 64 ? { pvCols: 1 as const } : {}), fold: true, pv: 'mma', ...(/nvidia/i.test(adapter) ? { exp2: 'builtin' as const } : {}) };
}
// Subgroup-matrix loads and stores take their majorness as a template argument (`row_major` / `col_major`): the
// older form with a bool argument compiles too but makes Dawn print a "use of deprecated builtin" warning per call
// on stdout, which broke `flashattn bench --json` with tensor cores on (run 98).
export interface TcTiles extends TcOptions {
  readonly bm: number;
  /**
   * f16/bf16 inputs: every value is an f16 after its row's power-of-two scale, so lo is exactly 0 and S = Qh·Kh alone
   * is bit for bit the three-product sum (the two small products add exact zeros): one K plane, no Q lo matrices.
   */
  readonly half?: boolean;
  /**
   * f16 inputs with P·V on the tensor cores (wgsl-forward-tcpv.ts): K and V read as they are from the inputs, with no
   * split kernels and no scales. They are f16 already, and none is needed for range: a product of two f16 values is
   * at most 2^32 and their sums stay far inside f32. (V and P are one f16 piece for every 16-bit input.)
   */
  readonly direct?: boolean;
  /** Timing only (scripts/device-run.ts through setForwardAblation; TC_ABLATIONS in wgsl-forward.ts). */
  readonly ablate?: TcAblation;
}
export const TC_BK = 32;

/** The tensor-core forward's tile for a shape, or why it cannot take it. */
export function tcTiles(s: { d: number; dv: number; subgroups: boolean; half?: boolean; direct?: boolean }, smem: number, bms: readonly number[] = [64, 48, 32], opts: TcOptions = tcDefaults(s.dv)): TcTiles | string {
  const pvCols = opts.pvCols ?? 2;
  if (!s.subgroups) return 'needs subgroups';
  // Measured on the H100 (4k): d128 30.3 TFLOP/s against 24.6 for the SIMT forward (run 92); d64 with pvCols 1 28.8
  // against 27.1 (run 93; 23.4 with two columns per thread, run 80). Below 64 not measured: the SIMT forward.
  if (s.d < 64) return `headDim ${s.d}: the SIMT forward up to 32 (the tensor-core one not measured there)`;
  if (s.d % 32 !== 0 || s.d > 128) return `headDim ${s.d} is not a multiple of 32 up to 128`;
  if (![32, 64, 128].includes(s.dv)) return `headDimV ${s.dv} is not 32, 64 or 128`;
  // P·V on the tensor cores where its 64-row tile fits, else on the FMA units (the same options otherwise).
  const direct = !!s.direct && !!s.half;
  const pvBm = bms.find((bm) => (bm === 64 || bm === 32) && tcPvLayout({ ...s, half: !!s.half }, bm).bytes <= smem);
  if (opts.pv === 'mma' && pvBm) return { bm: pvBm, ...opts, ...(s.half ? { half: true } : {}), ...(direct ? { direct } : {}) };
  if (opts.pv === 'mma') opts = { ...opts, pv: 'fma' };
  for (const bm of bms) {
    if (bm % 16 !== 0 || bm < 16 || bm > 64) continue;
    const rg = 256 / (s.dv / 4 / pvCols); // P·V row groups: bm must be a multiple
    if (bm % rg !== 0) continue;
    if (tcSmem(s, bm) <= smem) return { bm, ...opts, ...(s.half ? { half: true } : {}) };
  }
  return `no tensor-core tile fits headDim ${s.d}/${s.dv} in ${smem} bytes of workgroup memory`;
}

export function tcSmem(s: { d: number; dv: number; half?: boolean }, bm: number): number {
  const bk = TC_BK;
  return (s.half ? 1 : 2) * 2 * bk * (s.d + 8) + 4 * bk * s.dv + 2 * 4 * bm * bk + 4 * bm * 2 + 4 * 2 * bk + 16;
}

export function forwardTcWGSL(s: ForwardShape, t: TcTiles): string {
  const { d, dv } = s;
  const BM = t.bm, BK = TC_BK, half = !!t.half;
  const ab = (a: TcAblation) => t.ablate === a || (t.ablate === 'tcprobe' && (a === 'tcexp2' || a === 'tcnomask' || a === 'tcnoscale'));
  const KD = d / 16, NBK = BK / 16, RBN = BM / 16, SB = RBN * NBK;
  const KS = d + 8; // padded K row in workgroup memory (halves)
  const TPR = 4, KPT = BK / TPR; // softmax: 4 threads per row (threads t < BM * 4)
  // P·V: each thread TMO rows (rg + RG * i) by NCV vec4 columns (cg + CG * c). NCV 1: a subgroup is one row group.
  const NCV = t.pvCols ?? 2, CG = dv / 4 / NCV, RG = 256 / CG, TMO = BM / RG;
  const DV4 = dv / 4, BK4 = BK / 4;
  const LPR = 8, C4 = d / 4 / LPR; // splitting: 8 lanes per row, C4 vec4 each
  const NV = Math.ceil((BK * DV4) / 256);
  const vecD = d % 4 === 0, vecDV = dv % 4 === 0;
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  const u = (n: number) => `${n}u`;
  // Split: this lane's C4 vec4 (xs0..) of one row -> the row's scale over its 8 lanes -> hi/lo halves at `dst`.
  const split = (dst: string, invDst: string) => (ab('tcnosplit') ? nosplitCode : splitRowCode)(C4, (c, yh, yl) => planesPutCode(`${dst} + ${u(c * 4)}`, yh, yl, BK * KS, half), invDst);
  // This thread's K slice of a tile (rows sr = t / 8 of 32, vec4 columns lane8 * C4 + c), zero past the sequence,
  // split when stored. (Splitting K once per call into f16 planes instead, read back as vec4<f16>, measured slower:
  // d128 4k 21.4 against 19.3 ms, H100 runs 82-83.)
  const loadK = (kt: string) => `{ let row = u32(${kt}) + sr;
      ${rep(C4, (c) => `rk${c} = vec4<f32>(0.0);`, ' ')}
      if (row < sk) { let e = ((kr0 + row) * P.hkv + hk) * ${u(d)} + P.kShift; ${rep(C4, (c) => `rk${c} = ld4_k(e + (lane8 * ${u(C4)} + ${u(c)}) * 4u, lane8 * ${u(C4)} + ${u(c)});`, ' ')} } }`;
  const storeK = (par: string) => `{ ${rep(C4, (c) => `let xs${c} = rk${c};`, ' ')}
      ${split(`sr * ${u(KS)} + lane8 * ${u(C4 * 4)}`, `kinv[${par} * ${u(BK)} + sr]`)} }`;
  const loadV = (kt: string) => rep(NV, (e) => `{ let i = t + ${u(256 * e)}; rv${e} = vec4<f32>(0.0);
      let r = i / ${u(DV4)}; let c = i - r * ${u(DV4)}; let row = u32(${kt}) + r;
      if (i < ${u(BK * DV4)} && row < sk) { rv${e} = ld4_v(((kr0 + row) * P.hkv + hk) * ${u(dv)} + c * 4u + P.vShift, c); } }`, ' ');
  const storeV = rep(NV, (e) => `{ let i = t + ${u(256 * e)}; if (i < ${u(BK * DV4)}) { vs[i] = rv${e}; } }`, ' ');
  // The small products over all of d first, then the large ones: the tensor cores truncate the accumulator at every
  // step, so only the KD steps that add large terms cost large-magnitude truncations (not 3 * KD).
  const bFrag = (c: number, lo: boolean) => `subgroupMatrixLoad<${R}, col_major>(&kh, ${lo ? `${u(BK * KS)} + ` : ''}nb * ${u(16 * KS)} + ${u(c * 16)}, ${u(KS)})`;
  const sCompute = ab('tcnos') ? '' : `if (sg < ${u(SB)}) {
      ${half ? '' : rep(KD, (c) => `c = subgroupMatrixMultiplyAccumulate(ql${c}, ${bFrag(c, false)}, c); c = subgroupMatrixMultiplyAccumulate(qh${c}, ${bFrag(c, true)}, c);`, '\n      ')}
      ${rep(KD, (c) => `c = subgroupMatrixMultiplyAccumulate(qh${c}, ${bFrag(c, false)}, c);`, '\n      ')}
    }`;
  const sStore = `if (sg < ${u(SB)}) { subgroupMatrixStore<row_major>(&ss, rb * ${u(16 * BK)} + nb * 16u, c, ${u(BK)}); }`;
  const sMMA = `c = ${C}(); ${sCompute} ${sStore}`;
  // fold (no softcap): the row's 1/scale and the softmax scale in one factor, the same single rounding of s·scales.
  const fold = !!t.fold && !s.softcap;
  const score = (j: number, par: string) => ab('tcnoscale') ? `score2(ss[srow * ${u(BK)} + k${j}])`
    : fold ? `ss[srow * ${u(BK)} + k${j}] * (kinv[${par} * ${u(BK)} + k${j}] * rowF)`
    : `score2(ss[srow * ${u(BK)} + k${j}] * (kinv[${par} * ${u(BK)} + k${j}] * qinvRow))`;
  // Softmax of the tile starting at key kt: masked keys give p = 0 exactly, alpha via exp2x.
  const softmax = (kt: string, par: string) => `{
      ${rep(KPT, (j) => `let k${j} = sq4 * ${u(KPT)} + ((${u(j)} + srow) % ${u(KPT)}); let kj${j} = i32(${kt}) + i32(k${j});
      let v${j} = ${ab('tcnomask') ? 'true' : `kj${j} >= lo && kj${j} < hi`}; let x${j} = select(NEG, ${score(j, par)}, v${j});`, '\n      ')}
      var mt = max(mrun, ${rep(KPT, (j) => `x${j}`, ', ').split(', ').reduce((a, x) => `max(${a}, ${x})`)});
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let alpha = exp2x(mrun - mt);
      mrun = mt;
      var psum = 0.0;
      ${rep(KPT, (j) => `{ let p = select(0.0, exp2x(x${j} - mt), v${j}); psum = psum + p; if (sact) { let pi = srow * ${u(BK)} + k${j}; ps[pi >> 2u][pi & 3u] = p; } }`, '\n      ')}
      if (sact && sq4 == 0u) { red[srow] = alpha; }
      lrun = lrun * alpha + psum;
    }`;
  const pvStep = (k4: number) => `{
      ${rep(TMO, (i) => `let p${i} = ps[(rg + ${u(RG * i)}) * ${u(BK4)} + ${u(k4)}];`, ' ')}
      ${rep(4, (jj) => `{ ${rep(NCV, (c) => `let v${c} = vs[${u((k4 * 4 + jj) * DV4 + c * CG)} + cg];`, ' ')}
        ${rep(TMO, (i) => rep(NCV, (c) => `o${i}_${c} = fma(vec4<f32>(p${i}[${jj}]), v${c}, o${i}_${c});`, ' '), ' ')} }`, '\n      ')}
    }`;
  const nt = `(jt + 1 < ntiles)`, nt2 = `(jt + 2 < ntiles)`;
  return `${tcModuleHead()}
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read_write> Ob: ${storageType('f32', vecDV)};
@group(0) @binding(7) var<storage, read_write> Lb: array<f32>;
${loaders('q', 'Qb', s.dtype, d, vecD)}${loaders('k', 'Kb', s.dtype, d, vecD)}${loaders('v', 'Vb', s.dtype, dv, vecDV)}${storer('o', 'Ob', dv, vecDV)}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32' && !ab('tcexp2'), true)}
const NEG: f32 = -3.0e38;
var<workgroup> kh: array<f16, ${(half ? 1 : 2) * BK * KS}>;
var<workgroup> vs: array<vec4<f32>, ${BK * DV4}>;
var<workgroup> ss: array<f32, ${BM * BK}>;
var<workgroup> ps: array<vec4<f32>, ${BM * BK4}>;
var<workgroup> red: array<f32, ${BM}>;
var<workgroup> qinv: array<f32, ${BM}>;
var<workgroup> kinv: array<f32, ${2 * BK}>;
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(BM)}
  let sg = t / 32u;
  let rb = min(sg / ${u(NBK)}, ${u(RBN - 1)}); let nb = sg % ${u(NBK)};
  let sr = t / ${u(LPR)}; let lane8 = t % ${u(LPR)};
  ${rep(C4, (c) => `var rk${c} = vec4<f32>(0.0);`, ' ')} ${rep(NV, (e) => `var rv${e} = vec4<f32>(0.0);`, ' ')}
  // Q: split 32 rows at a time through kh; the subgroups whose row block is among them take their matrices.
  ${rep(KD, (c) => `var qh${c}: ${L};${half ? '' : ` var ql${c}: ${L};`}`, ' ')}
  for (var q0 = 0u; q0 < ${u(BM)}; q0 += 32u) {
    workgroupBarrier();
    { let row = i0 + q0 + sr;
      ${rep(C4, (c) => `var xs${c} = vec4<f32>(0.0);`, ' ')}
      if (row < sq && q0 + sr < ${u(BM)}) { let e = ((qr0 + row) * P.hq + h) * ${u(d)} + P.qShift; ${rep(C4, (c) => `xs${c} = ld4_q(e + (lane8 * ${u(C4)} + ${u(c)}) * 4u, lane8 * ${u(C4)} + ${u(c)});`, ' ')} }
      var qinvSlot = 0.0;
      ${split(`sr * ${u(KS)} + lane8 * ${u(C4 * 4)}`, 'qinvSlot')}
      if (lane8 == 0u && q0 + sr < ${u(BM)}) { qinv[q0 + sr] = qinvSlot; }
    }
    workgroupBarrier();
    if (rb * 16u >= q0 && rb * 16u < q0 + 32u) {
      let base = (rb * 16u - q0) * ${u(KS)};
      ${rep(KD, (c) => `qh${c} = subgroupMatrixLoad<${L}, row_major>(&kh, base + ${u(c * 16)}, ${u(KS)});${half ? '' : ` ql${c} = subgroupMatrixLoad<${L}, row_major>(&kh, ${u(BK * KS)} + base + ${u(c * 16)}, ${u(KS)});`}`, '\n      ')}
    }
  }
  // Softmax rows (4 threads each) and their windows; P·V rows and columns.
  let sact = t < ${u(BM * TPR)};
  let srow = min(t / ${u(TPR)}, ${u(BM - 1)}); let sq4 = t % ${u(TPR)};
  let gi = i32(i0 + srow);
  ${windowCode('lo', 'hi', 'gi')}
  workgroupBarrier();
  let qinvRow = qinv[srow];${fold ? `
  let rowF = qinvRow * P.scaleLog2;` : ''}
  var mrun = NEG; var lrun = 0.0;
  let rg = t / ${u(CG)}; let cg = t % ${u(CG)};
  ${rep(TMO, (i) => rep(NCV, (c) => `var o${i}_${c} = vec4<f32>(0.0);`, ' '), ' ')}
  var c = ${C}();
  let jstart = (jlo / ${BK}) * ${BK};
  let ntiles = select(0, (jhi - jstart + ${BK - 1}) / ${BK}, jhi > jstart);
  if (ntiles > 0) {
    // Prologue: S and softmax of tile 0; K of tile 1 and V of tile 0 in place.
    ${loadK('jstart')}
    ${storeK('0u')}
    workgroupBarrier();
    if (ntiles > 1) { ${loadK(`jstart + ${BK}`)} }
    ${loadV('jstart')}
    ${sMMA}
    workgroupBarrier();
    if (ntiles > 1) { ${storeK('1u')} }
    ${storeV}
    ${softmax('jstart', '0u')}
    workgroupBarrier();
  }
  for (var jt = 0; jt < ntiles; jt++) {
    let kt = jstart + jt * ${BK};
    // A(jt): rescale O, P·V(jt), S(jt+1); next tiles into registers.
    ${rep(TMO, (i) => `{ let a = red[rg + ${u(RG * i)}]; ${rep(NCV, (c) => `o${i}_${c} = o${i}_${c} * a;`, ' ')} }`, ' ')}
    ${ab('tcnoload') ? '' : `if ${nt2} { ${loadK(`kt + ${2 * BK}`)} }
    if ${nt} { ${loadV(`kt + ${BK}`)} }`}
    ${ab('tcnopv') ? '' : rep(BK4, (k4) => pvStep(k4), '\n    ')}
    if ${nt} { ${sMMA} }
    workgroupBarrier();
    // B(jt): K(jt+2) into kh, V(jt+1) into vs, softmax(jt+1).
    if ${nt2} { ${storeK('u32(jt & 1)')} }
    if ${nt} {
      ${storeV}
      ${softmax(`kt + ${BK}`, 'u32((jt + 1) & 1)')}
    }
    workgroupBarrier();
  }
  // Row sums over the 4 softmax threads of a row; O by the P·V threads, the LSE by the softmax threads.
  var lt = lrun;
  lt = lt + subgroupShuffleXor(lt, 1u); lt = lt + subgroupShuffleXor(lt, 2u);
  if (sact && sq4 == 0u) { red[srow] = lt; }
  workgroupBarrier();
  let ninf = bitcast<f32>(P.ninfBits);
  if (sact && sq4 == 0u && gi < i32(sq)) {
    let li = b * P.lseBatchStride + h * P.lseHeadStride + select(0u, u.z, P.lseVarlen == 1u) + u32(gi);
    Lb[li] = select(ninf, (mrun + log2(lt)) * 0.6931471805599453, lt > 0.0);
  }
  ${rep(TMO, (i) => `{
    let r = rg + ${u(RG * i)}; let l = red[r];
    if (i0 + r < sq) {
      let row = qr0 + i0 + r;
      let inv = select(0.0, 1.0 / l, l > 0.0);
      let e = (row * P.hq + h) * ${u(dv)} + P.oShift;
      ${rep(NCV, (c) => `st4_o(e + (cg + ${u(c * CG)}) * 4u, cg + ${u(c * CG)}, o${i}_${c} * inv);`, ' ')}
    }
  }`, '\n  ')}
}
`;
}

/**
 * Code of the hi/lo split of one row held by 8 lanes (this lane: C4 vec4 xs0..): the row's largest |x| over the lanes,
 * its scale 2^(14 - ceil(log2 max)) from the exponent bits, hi = the scaled value rounded to f16's 10 mantissa bits
 * (roundF16: exact in f16), lo = the rest (within half an f16 ulp of hi, rounded to f16); `put(c, yh, yl)` writes
 * vec4 c; `inv` gets 1/scale on lane 0 of the 8.
 */
export function splitRowCode(c4: number, put: (c: number, yh: string, yl: string) => string, inv: string): string {
  return `{
      var mx = 0.0;
      ${rep(c4, (c) => `mx = max(mx, max(max(abs(xs${c}.x), abs(xs${c}.y)), max(abs(xs${c}.z), abs(xs${c}.w))));`, ' ')}
      ${groupReduceShuffle('mx', 8, 'max')}
      let eb = i32((bitcast<u32>(mx) >> 23u) & 255u) - 127 + select(0, 1, (bitcast<u32>(mx) & 0x7fffffu) != 0u);
      let es = clamp(14 - eb, -126, 127);
      let sc = select(1.0, bitcast<f32>(u32(es + 127) << 23u), mx > 0.0);
      ${rep(c4, (c) => `{ let y = xs${c} * sc; let yh = ${roundF16('y', true)}; let yl = y - yh;
        ${put(c, 'yh', 'yl')} }`, '\n      ')}
      if (lane8 == 0u) { ${inv} = select(1.0, 1.0 / sc, mx > 0.0); }
    }`;
}

/**
 * WGSL: a vec4's hi and lo halves (splitRowCode's yh, yl) into workgroup array `kh` at element `at`, lo one plane
 * (`plane` halves) further; hi alone for f16/bf16 inputs (`half`: lo is exactly 0). Both tensor-core forwards stage a
 * row of Q (and the session-7 kernel K) this way.
 */
export function planesPutCode(at: string, yh: string, yl: string, plane: number, half: boolean): string {
  return `{ let a = ${at};
        kh[a] = f16(${yh}.x); kh[a + 1u] = f16(${yh}.y); kh[a + 2u] = f16(${yh}.z); kh[a + 3u] = f16(${yh}.w);${half ? '' : `
        kh[a + ${plane}u] = f16(${yl}.x); kh[a + ${plane + 1}u] = f16(${yl}.y); kh[a + ${plane + 2}u] = f16(${yl}.z); kh[a + ${plane + 3}u] = f16(${yl}.w);`} }`;
}

/** The tensor-core forwards' module head: extensions, the subgroup-matrix uniformity diagnostic off (each subgroup
 * addresses its own tile), the parameters and the cu_seqlens binding. */
export function tcModuleHead(): string {
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;`;
}

/**
 * WGSL: x (f32, or vec4<f32> with vec) rounded to f16's 10 mantissa bits (to nearest, ties away from zero: half an
 * f16 ulp added to the bits, then the low 13 cut; exact in f16 where x is in its normal range). Rounded rather than
 * cut, the rest x - hi lies within half an ulp, so the f16 lo of a hi/lo split keeps one bit more. In a NumPy model of
 * the forward with rows at spread magnitudes, the cut exceeded the criterion in 15 of 300 draws and the rounding in
 * none (scripts/split-rounding-sim.py; docs/tensor-core-path.md, session 11). Spelled out in bits because WGSL leaves
 * the rounding of f32 -> f16 conversions to the implementation.
 */
export function roundF16(x: string, vec = false): string {
  return vec ? `bitcast<vec4<f32>>((bitcast<vec4<u32>>(${x}) + vec4<u32>(0x1000u)) & vec4<u32>(0xffffe000u))`
    : `bitcast<f32>((bitcast<u32>(${x}) + 0x1000u) & 0xffffe000u)`;
}

/** The `tcnosplit` ablation's stand-in for splitRowCode (timing only): hi = f16(x), lo = 0, scale 1. */
function nosplitCode(c4: number, put: (c: number, yh: string, yl: string) => string, inv: string): string {
  return `{
      ${rep(c4, (c) => `{ let yh = xs${c}; let yl = vec4<f32>(0.0);
        ${put(c, 'yh', 'yl')} }`, '\n      ')}
      if (lane8 == 0u) { ${inv} = 1.0; }
    }`;
}

/**
 * The tensor-core forward's split (splitRowCode) as a kernel: for every row of the binding (P.count rows) and head
 * (wid.y, P.hkv heads), the hi/lo f16 planes (KP[((row * hkv + hk) * 2 + plane) * d/4 + c4]) and the inverse scale
 * (KI[row * hkv + hk]); 256 threads, 32 rows of 8 lanes, lane l taking the row's vec4s l, l + 8, ... (consecutive
 * lanes, consecutive words; with a lane's own run of d/32 vec4s, every store was a partial sector: the splits then took
 * 0.85 ms of 12.4 at d128 4k, and with Q's split into the forward, 12.39 -> 11.80 ms, run 130). The P·V-on-tensor-cores
 * forward runs it over K once per call (engine.ts, #splitKV); it needs shader-f16 and subgroups of >= 8 but no
 * subgroup matrices, so it also runs on lavapipe (test/k-split.test.ts), where the forwards themselves cannot.
 */
export function kSplitWGSL(s: { dtype: ForwardShape['dtype']; d: number }): string {
  const d = s.d, vecD = d % 4 === 0, C4 = d / 4 / 8, D4 = d / 4;
  return `enable f16;
enable subgroups;
${paramStruct()}
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(8) var<storage, read_write> KP: array<vec4<f16>>;
@group(0) @binding(9) var<storage, read_write> KI: array<f32>;
${loaders('k', 'Kb', s.dtype, d, vecD)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x * 32u + t / 8u; let lane8 = t % 8u; let hk = wid.y;
  let ok = row < P.count;
  let e = (min(row, P.count - 1u) * P.hkv + hk) * ${d}u + P.kShift;
  ${rep(C4, (c) => `let xs${c} = select(vec4<f32>(0.0), ld4_k(e + (lane8 + ${8 * c}u) * 4u, lane8 + ${8 * c}u), ok);`, ' ')}
  var inv = 1.0;
  ${splitRowCode(C4, (c, yh, yl) => `if (ok) { let o = (row * P.hkv + hk) * 2u * ${D4}u + lane8 + ${8 * c}u; KP[o] = vec4<f16>(${yh}); KP[o + ${D4}u] = vec4<f16>(${yl}); }`, 'inv')}
  if (ok && lane8 == 0u) { KI[row * P.hkv + hk] = inv; }
}
`;
}
