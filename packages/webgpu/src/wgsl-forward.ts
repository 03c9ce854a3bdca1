import type { DType } from '@flashattn/core';
import { ix, loopN, prefetchTile, prefetchVars, storePrefetched, queryTilePrologue, exp2Fn, groupReduceShuffle, maxChain, loaders, loadTile, oddStride, paramStruct, rep, scoreFns, storer, storageType, windowCode } from './wgsl-common.js';

/** Forward tile shape: BM query rows per workgroup, BN keys per step, TM x TN scores per thread. */
export interface ForwardTiles {
  readonly bm: number;
  readonly bn: number;
  readonly tm: number;
  readonly tn: number;
  /** K and V tiles in separate workgroup arrays (one load phase) or sharing one (less memory). */
  readonly separateKV: boolean;
  /** Load the next K/V tile into registers while the current one is computed (software double buffering). */
  readonly prefetch?: boolean;
  // Candidate code options (FLASHATTN_WEBGPU_TILES "fwdOpts", off by default; each is correct for every feature):
  /** QKᵀ (and PV) as explicit fma() chains: `s += dot(a, b)` is a multiply, three FMAs and an add per 4 FMAs. */
  readonly fma?: boolean;
  /**
   * Generate the QKᵀ d-loop and the PV key loop unrolled: fully (true: constant workgroup-memory offsets, no loop
   * overhead) or n steps per iteration (n: fewer registers live than full unrolling; full where n does not divide).
   */
  readonly unroll?: boolean | number;
  /** exp2x scales by 2^n built from exponent bits instead of ldexp (same polynomial, same result for normals). */
  readonly fexp?: boolean;
  /** Two K/V workgroup buffers used alternately: the barrier at the top of each key step is not needed. */
  readonly dbuf?: boolean;
  /**
   * K/V sharing one array, with prefetch: load the current V tile at the top of a step (hidden behind QKᵀ) and the
   * next K tile after V's store (hidden behind P·V), instead of both next tiles at the top: the two register sets
   * are never live at once, so half the prefetch registers.
   */
  readonly stagger?: boolean;
  /**
   * Key tiles inside every valid row's window (a workgroup-uniform test) skip the per-score mask; P = exp2(x − m)
   * with m taken as 0 while a row has seen no key, so that masked scores give exactly 0 without a per-score select.
   */
  readonly imask?: boolean;
  /** Prefetch loads address slots from one per-thread address per tile (see prefetchTile `shared`). */
  readonly addr?: boolean;
  /** P·V as explicit fma() (O's rounding: one per product at most, as a contracted multiply-add). */
  readonly pvfma?: boolean;
  /** Timing only, never set from TileOverride: see `setForwardAblation`. */
  readonly ablate?: ForwardAblation;
}

export const FORWARD_BOOL_OPTIONS = ['fma', 'fexp', 'dbuf', 'stagger', 'imask', 'addr', 'pvfma'] as const;
export type ForwardOptions = { -readonly [K in (typeof FORWARD_BOOL_OPTIONS)[number]]?: boolean } & { unroll?: boolean | number };

/** The options that are set, and nothing else (the override comes from JSON in an environment variable). */
export function forwardOptions(o?: ForwardOptions): ForwardOptions {
  const r: ForwardOptions = {};
  for (const k of FORWARD_BOOL_OPTIONS) if (o?.[k] === true) r[k] = true;
  const u = o?.unroll;
  if (u === true || (typeof u === 'number' && Number.isInteger(u) && u > 1 && u <= 64)) r.unroll = u;
  return r;
}

/**
 * Ablations for attributing GPU time (scripts/device-run.ts `tiles` mode only): the same kernel with one piece
 * removed, results wrong on purpose. noexp: exp2x(x) = x; nopv: no P·V loop (P still stored); noqk: scores from one
 * vec4 dot (k = 0) instead of the d-loop; noload: no global K/V loads after the first tile; norescale: O not scaled
 * by alpha; nobartop: no barrier at the top of a key step; nobar: no barrier inside the key loop; noqa / noqb: QKᵀ
 * reads the same Q (resp. K) vec4 at every d step, so the compiler keeps one load: the cost of those workgroup-memory
 * reads alone, the arithmetic unchanged; nopw: the same for P·V's V reads.
 */
export type ForwardAblation = 'noexp' | 'nopv' | 'noqk' | 'noload' | 'norescale' | 'nobartop' | 'nobar' | 'noqa' | 'noqb' | 'nopw' | TcAblation;
export const FORWARD_ABLATIONS: readonly ForwardAblation[] = ['noexp', 'nopv', 'noqk', 'noload', 'norescale', 'nobartop', 'nobar', 'noqa', 'noqb', 'nopw'];
/**
 * The same for the tensor-core forward (wgsl-forward-tc.ts): tcexp2: the builtin exp2 instead of exp2x's polynomial;
 * tcnomask: no window test per key (right only for unmasked problems whose seqlenK is a multiple of 32); tcnoscale:
 * scores not unscaled by the rows' split scales; tcnosplit: K stored as f16(x) and 0 (no row max, no shuffles, no
 * bit cut); tcnos: no S MMAs; tcnopv: no P·V; tcnoload: no global K/V loads after the prologue; tcprobe: tcexp2 +
 * tcnomask + tcnoscale (what scripts/fused-f16-probe.ts's pipelined kernel leaves out).
 */
export type TcAblation = 'tcexp2' | 'tcnomask' | 'tcnoscale' | 'tcnosplit' | 'tcnos' | 'tcnopv' | 'tcnoload' | 'tcprobe';
export const TC_ABLATIONS: readonly TcAblation[] = ['tcexp2', 'tcnomask', 'tcnoscale', 'tcnosplit', 'tcnos', 'tcnopv', 'tcnoload', 'tcprobe'];
let timingAblation: ForwardAblation | undefined;
/**
 * Set (or clear) the ablation that chooseForwardTiles attaches to the forward tiles it returns. Timing only, for
 * scripts/device-run.ts, which imports this module directly: index.ts does not export it, and no option or
 * environment variable of the backend reaches it.
 */
export function setForwardAblation(a?: ForwardAblation): void {
  timingAblation = a;
}
export function forwardAblation(): ForwardAblation | undefined {
  return timingAblation;
}

export interface ForwardShape {
  readonly dtype: DType;
  readonly d: number;
  readonly dv: number;
  readonly softcap: boolean;
  readonly subgroups: boolean;
  /** Also write each row's (max, 1/sum) for the backward after the LSE, from word P.statsBase (RowStats in device-tensor.ts). */
  readonly saveStats?: boolean;
}

export function forwardLayout(s: { d: number; dv: number }, t: ForwardTiles) {
  const g = t.bn / t.tn;
  const rg = t.bm / t.tm;
  const d4 = Math.ceil(s.d / 4);
  const dv4 = Math.ceil(s.dv / 4);
  const oc = Math.ceil(dv4 / g);
  const sq = oddStride(d4);
  const sk = t.separateKV ? oddStride(d4) : oddStride(Math.max(d4, oc * g));
  const sv = t.separateKV ? oc * g : sk;
  const nt = g * rg;
  /** vec4 registers per thread holding the next K (pk) and V (pv) tile when prefetching. */
  const pk = Math.ceil((t.bn * d4) / nt);
  const pv = Math.ceil((t.bn * dv4) / nt);
  /** K/V workgroup buffers (2 with dbuf). */
  const nbuf = t.dbuf ? 2 : 1;
  return { g, rg, nt, d4, dv4, oc, sq, sk, sv, pk, pv, nbuf };
}

/** Workgroup memory in bytes. */
export function forwardSmem(s: { d: number; dv: number; subgroups: boolean }, t: ForwardTiles): number {
  const L = forwardLayout(s, t);
  let n = 16 * (t.bm * L.sq + L.nbuf * (t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0))) + 4 * t.bm * t.bn + 16;
  if (!s.subgroups) n += 4 * t.bm * L.g;
  return n;
}

/**
 * Forward: one workgroup per (Q tile, head, sequence). K/V tiles stream through workgroup memory (with `prefetch`,
 * the next tile is loaded into registers while the current one is computed); each thread keeps running max, sum and
 * its O slice in registers; P goes through workgroup memory and is read back as vec4 (four keys per load) for PV;
 * O and LSE are written once. With `stats` (backward, f32): only each row's max and 1/sum, no V.
 */
export function forwardWGSL(s: ForwardShape, t: ForwardTiles, stats = false): string {
  const L = forwardLayout(s, t);
  const { g, rg, nt, d4, dv4, oc, sq, sk, sv } = L;
  const { bm, bn, tm, tn } = t;
  const pf = !!t.prefetch;
  const useV = !stats;
  const ab = stats ? undefined : t.ablate;
  const nl = ab === 'noload';
  const db = !!t.dbuf;
  /** Staggered prefetch (see ForwardTiles.stagger): pk holds the next K tile during P·V, pv the current V during QKᵀ. */
  const st = pf && useV && !!t.stagger && !t.separateKV;
  const im = !!t.imask;
  /** A barrier inside the key loop (the `nobar` ablation drops them all). */
  const bar = ab === 'nobar' ? '' : 'workgroupBarrier();';
  // dbuf: key step n uses K/V buffer n & 1 (offsets kbo/vbo into arrays twice the size).
  const kOff = db ? 'kbo' : undefined;
  const vOff = db ? (t.separateKV ? 'vbo' : 'kbo') : undefined;
  const ko = kOff ? `${kOff} + ` : '';
  const vo = vOff ? `${vOff} + ` : '';
  const vs = t.separateKV ? 'vs' : 'ks';
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const bn4 = bn / 4;
  const reduceMax = (i: number) => (s.subgroups ? groupReduceShuffle(`mx${i}`, g, 'max') : '');
  const kTile = { rows: bn, dim: s.d, nt, ld: 'k', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.kShift' };
  const vTile = { rows: bn, dim: s.dv, nt, ld: 'v', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.vShift' };
  const loadK = (row0: string) => (pf ? prefetchTile({ ...kTile, name: 'pk', n: L.pk, row0, shared: !!t.addr }) : loadTile({ ...kTile, dst: 'ks', stride: sk, row0, offset: kOff }));
  const loadV = (row0: string) => (pf ? prefetchTile({ ...vTile, name: 'pv', n: L.pv, row0, shared: !!t.addr }) : loadTile({ ...vTile, dst: vs, stride: sv, row0, offset: vOff }));
  const storeK = storePrefetched({ name: 'pk', n: L.pk, rows: bn, dim: s.d, nt, dst: 'ks', stride: sk, offset: kOff });
  const storeV = storePrefetched({ name: 'pv', n: L.pv, rows: bn, dim: s.dv, nt, dst: vs, stride: sv, offset: vOff });
  /** Direct (non-prefetch) loads; the `noload` ablation keeps only the first tile's. */
  const firstOnly = (code: string) => (nl ? `if (j0 == jstart) { ${code} }` : code);
  // Key tiles: with prefetch, tile j0 is in registers at the top of step j0 and is stored first; the next one is
  // loaded right after (K, and V when separate) or after V's store (V sharing K's array).
  const stepLoad = st
    ? `${storeK}
    ${firstOnly(loadV('kb'))}
    ${bar}
    let more = j0 + ${bn} < jhi;`
    : pf
    ? `${storeK}
    ${t.separateKV && useV ? storeV : ''}
    ${bar}
    let more = j0 + ${bn} < jhi;
    if (more) {
    ${nl ? '' : loadK('kb + ' + bn + 'u')}
    ${t.separateKV && useV && !nl ? loadV('kb + ' + bn + 'u') : ''}
    }`
    : `${firstOnly(loadK('kb'))}
    ${t.separateKV && useV ? firstOnly(loadV('kb')) : ''}
    ${bar}`;
  const sharedV = st
    ? `${storeV}
    if (more) {
    ${nl ? '' : loadK('kb + ' + bn + 'u')}
    }`
    : pf
    ? `${storeV}
    if (more) {
    ${nl ? '' : loadV('kb + ' + bn + 'u')}
    }`
    : firstOnly(loadV('kb'));
  // PV over four keys per step (j4: the loop variable or an expression, or a constant when unrolled).
  const pvStep = (j4: string | number) => `${rep(tm, (i) => `let p${i} = ps[r${i} * ${bn4}u + ${ix(j4)}];`, ' ')}
      ${rep(4, (jj) => `${rep(oc, (c) => `let w${jj}_${c} = ${vs}[${vo}${ab === 'nopw' ? `${g * c}u + tx` : typeof j4 === 'number' ? `${(j4 * 4 + jj) * sv + g * c}u + tx` : `(${ix(j4)} * 4u + ${jj}u) * ${sv}u + tx + ${g * c}u`}];`, ' ')}
      ${rep(tm * oc, (x) => {
        const o = `o${Math.floor(x / oc)}_${x % oc}`, p = `p${Math.floor(x / oc)}[${jj}]`, w = `w${jj}_${x % oc}`;
        return t.fma || t.pvfma ? `${o} = fma(vec4<f32>(${p}), ${w}, ${o});` : `${o} += ${p} * ${w};`;
      }, ' ')}`, '\n      ')}`;
  const pvLoop = loopN('j4', bn4, t.unroll, pvStep);
  const pv = useV
    ? `${t.separateKV ? '' : `${s.subgroups ? bar : ''}
    ${sharedV}`}
    ${bar}
    ${ab === 'nopv' ? '' : pvLoop}`
    : '';
  // QKᵀ over one vec4 of d (k: the loop variable, or a constant when unrolled).
  const qkStep = (k: string | number) => {
    const kk = ix(k);
    return `${rep(tm, (i) => `let a${i} = qs[r${i} * ${sq}u + ${ab === 'noqa' ? '0u' : kk}];`, ' ')}
      ${rep(tn, (j) => `let b${j} = ks[${ko}(tx + ${g * j}u) * ${sk}u + ${ab === 'noqb' ? '0u' : kk}];`, ' ')}
      ${rep(tm * tn, (x) => {
        const sc = `s${Math.floor(x / tn)}_${x % tn}`, a = `a${Math.floor(x / tn)}`, b = `b${x % tn}`;
        return t.fma ? `${sc} = fma(${a}.w, ${b}.w, fma(${a}.z, ${b}.z, fma(${a}.y, ${b}.y, fma(${a}.x, ${b}.x, ${sc}))));` : `${sc} += dot(${a}, ${b});`;
      }, ' ')}`;
  };
  const kIters = ab === 'noqk' ? 1 : d4;
  const qkLoop = loopN('k', kIters, t.unroll, qkStep);
  // Scores in log2 units, masked outside each row's window (NEG); with imask, key tiles inside every valid row's
  // window (tLo/tHi: the last valid row's low bound, the first row's high bound) take a branch without the mask, and
  // the other branch computes the rows' bounds where it needs them (fewer registers live across the key loop).
  const kjs = rep(tn, (j) => `let kj${j} = j0 + i32(tx + ${g * j}u);`, ' ');
  const masked = (decl: boolean) => rep(tm, (i) => rep(tn, (j) => `${decl ? `let v${i}_${j} = ` : `{ let v = `}kj${j} >= lo${i} && kj${j} < hi${i}; ${decl ? 'let ' : ''}x${i}_${j} = select(NEG, score2(s${i}_${j}), ${decl ? `v${i}_${j}` : 'v'});${decl ? '' : ' }'}`, ' '), '\n    ');
  const scores = im
    ? `${rep(tm * tn, (x) => `var x${Math.floor(x / tn)}_${x % tn}: f32;`, ' ')}
    if (j0 >= tLo && j0 + ${bn} <= tHi) {
      ${rep(tm * tn, (x) => `x${Math.floor(x / tn)}_${x % tn} = score2(s${Math.floor(x / tn)}_${x % tn});`, ' ')}
    } else {
      ${kjs}
      ${rep(tm, (i) => windowCode(`lo${i}`, `hi${i}`, `gi${i}`), '\n      ')}
      ${masked(false)}
    }`
    : `${kjs}
    ${masked(true)}`;
  const rowSums = s.subgroups
    ? rep(tm, (i) => groupReduceShuffle(`l${i}`, g, 'add'))
    : `workgroupBarrier();
  ${rep(tm, (i) => `red[r${i} * ${g}u + tx] = l${i};`, ' ')}
  workgroupBarrier();
  ${rep(tm, (i) => `l${i} = 0.0; for (var q = 0u; q < ${g}u; q++) { l${i} += red[r${i} * ${g}u + q]; }`)}`;
  const epilogue = stats
    ? rep(tm, (i) => `if (gi${i} < i32(sq) && tx == 0u) {
    let ri = (u.z + u32(gi${i})) * P.hq + h;
    RS[ri] = vec4<f32>(m${i}, select(0.0, 1.0 / l${i}, l${i} > 0.0), RS[ri].z, 0.0);
  }`)
    : `let ninf = bitcast<f32>(P.ninfBits);
  ${rep(tm, (i) => `if (gi${i} < i32(sq)) {
    let row = qr0 + u32(gi${i});
    let inv = select(0.0, 1.0 / l${i}, l${i} > 0.0);
    ${rep(oc, (c) => `if (tx + ${g * c}u < ${dv4}u) { st4_o((row * P.hq + h) * ${s.dv}u + (tx + ${g * c}u) * 4u + P.oShift, tx + ${g * c}u, o${i}_${c} * inv); }`, '\n    ')}
    if (tx == 0u) {
      let li = b * P.lseBatchStride + h * P.lseHeadStride + select(0u, u.z, P.lseVarlen == 1u) + u32(gi${i});
      Lb[li] = select(ninf, (m${i} + log2(l${i})) * 0.6931471805599453, l${i} > 0.0);${s.saveStats ? `
      Lb[P.statsBase + 2u * li] = m${i}; Lb[P.statsBase + 2u * li + 1u] = inv;` : ''}
    }
  }`)}`;
  return `${s.subgroups ? 'enable subgroups;\n' : ''}${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
${stats ? `@group(0) @binding(7) var<storage, read_write> RS: array<vec4<f32>>;` : `@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read_write> Ob: ${storageType('f32', vecDV)};
@group(0) @binding(7) var<storage, read_write> Lb: array<f32>;`}
${loaders('q', 'Qb', s.dtype, s.d, vecD)}${loaders('k', 'Kb', s.dtype, s.d, vecD)}${stats ? '' : `${loaders('v', 'Vb', s.dtype, s.dv, vecDV)}${storer('o', 'Ob', s.dv, vecDV)}`}${scoreFns(s.softcap)}${ab === 'noexp' ? 'fn exp2x(x: f32) -> f32 { return x; }\n' : exp2Fn(s.dtype === 'f32', !!t.fexp)}
const NEG: f32 = -3.0e38;
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> ks: array<vec4<f32>, ${L.nbuf * bn * sk}>;
${t.separateKV && useV ? `var<workgroup> vs: array<vec4<f32>, ${L.nbuf * bn * sv}>;` : ''}
${useV ? `var<workgroup> ps: array<vec4<f32>, ${(bm * bn) / 4}>;` : ''}
${s.subgroups ? '' : `var<workgroup> red: array<f32, ${bm * g}>;`}
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(${nt})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(bm)}
  ${loadTile({ dst: 'qs', stride: sq, rows: bm, dim: s.d, nt, ld: 'q', row0: 'i0', rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head: 'h', shift: 'P.qShift' })}
  let rg = t / ${g}u;
  let tx = t % ${g}u;
  ${rep(tm, (i) => `let r${i} = rg + ${rg * i}u; let gi${i} = i32(i0 + r${i});\n  ${im ? '' : windowCode(`lo${i}`, `hi${i}`, `gi${i}`)}
  var m${i} = NEG; var l${i} = 0.0;
  ${useV ? rep(oc, (c) => `var o${i}_${c} = vec4<f32>(0.0);`, ' ') : ''}`)}
  let jstart = (jlo / ${bn}) * ${bn};${im ? `
  var tLo = 0; if (P.winLeft >= 0) { tLo = max(0, iLast + off - P.winLeft); }
  var tHi = i32(sk); if (P.winRight >= 0) { tHi = min(i32(sk), i32(i0) + off + P.winRight + 1); }` : ''}
  ${pf ? `${prefetchVars('pk', L.pk)}
  ${useV ? prefetchVars('pv', L.pv) : ''}
  if (jstart < jhi) {
    let kb = u32(jstart);
    ${loadK('kb')}
    ${useV && !st ? loadV('kb') : ''}
  }` : ''}
  for (var j0 = jstart; j0 < jhi; j0 += ${bn}) {
    ${db || ab === 'nobartop' ? '' : bar}
    let kb = u32(j0);${db ? `
    let kbuf = (u32(j0 - jstart) / ${bn}u) & 1u; let kbo = kbuf * ${bn * sk}u;${t.separateKV && useV ? ` let vbo = kbuf * ${bn * sv}u;` : ''}` : ''}
    ${stepLoad}
    ${rep(tm * tn, (x) => `var s${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    ${qkLoop}
    ${scores}
    ${rep(tm, (i) => `var mx${i} = ${maxChain(Array.from({ length: tn }, (_, j) => `x${i}_${j}`))};`, ' ')}
    ${s.subgroups ? rep(tm, reduceMax) : `${rep(tm, (i) => `red[r${i} * ${g}u + tx] = mx${i};`, ' ')}
    ${bar}
    ${rep(tm, (i) => `for (var q = 0u; q < ${g}u; q++) { mx${i} = max(mx${i}, red[r${i} * ${g}u + q]); }`)}`}
    ${rep(tm, (i) => `let mn${i} = max(m${i}, mx${i}); let al${i} = exp2x(m${i} - mn${i}); m${i} = mn${i};
    ${im ? `let ms${i} = select(mn${i}, 0.0, mn${i} == NEG);` : ''}
    ${rep(tn, (j) => `let p${i}_${j} = ${im ? `exp2x(x${i}_${j} - ms${i})` : `select(0.0, exp2x(x${i}_${j} - mn${i}), v${i}_${j})`};${useV ? ` { let pi = r${i} * ${bn}u + tx + ${g * j}u; ps[pi >> 2u][pi & 3u] = p${i}_${j}; }` : ''}`, ' ')}
    l${i} = l${i} * al${i} + ${rep(tn, (j) => `p${i}_${j}`, ' + ')};
    ${useV && ab !== 'norescale' ? rep(oc, (c) => `o${i}_${c} *= al${i};`, ' ') : ''}`)}
    ${pv}
  }
  ${rowSums}
  ${epilogue}
}
`;
}
