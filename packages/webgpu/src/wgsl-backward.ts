import type { DType } from '@flashattn/core';
import { ROUNDED_FN, UNI_LOAD, ix, loopN, queryTilePrologue, exp2Fn, loaders, loadTile, oddStride, paramStruct, prefetchTile, prefetchVars, rep, scoreFns, storePrefetched, storer, storageType, windowCode } from './wgsl-common.js';

/**
 * Backward tiles. dK/dV kernel: a workgroup owns BN keys, streams BM-query tiles (TN keys x TM queries per thread).
 * dQ kernel: a workgroup owns BM queries, streams BN-key tiles (TM queries x TN keys per thread).
 */
export interface BackwardTiles {
  readonly bm: number;
  readonly bn: number;
  readonly tm: number;
  readonly tn: number;
  readonly separateKV: boolean;
  /**
   * Software double buffering. dK/dV: 1 = the next Q/dO tile (and row stats) is loaded into registers during the
   * current one's math; 2 = also keep the (constant) K/V tile in registers when K and V share one array, instead of
   * reloading it from global memory every query tile. dQ: >= 1 = the next K/V tile in registers. 0 = off.
   */
  readonly prefetch?: number;
  /** dK/dV only: keys per thread in the dK/dV accumulation, whose thread layout is independent of the scores'. */
  readonly rk?: number;
  /**
   * Unroll the head-dim loops (S, dP) and the dK/dV (dQ) sums: true = fully, n = n steps per iteration (loopN);
   * 'scores' / 'sums': only the former / the latter, fully.
   */
  readonly unroll?: boolean | number | 'scores' | 'sums';
}

export interface BackwardShape {
  readonly dtype: DType;
  readonly d: number;
  readonly dv: number;
  readonly softcap: boolean;
  /**
   * S = QKᵀ as fma chains (else `s += dot`), as the forward computed it: P must be recomputed bit for bit like the
   * row statistics (f32: the stats pass) were, or its rows no longer sum to 1 (measured: dQ error ratios up 20-50%).
   */
  readonly fmaScores?: boolean;
  /** Row stats kernel only: take each row's (max, 1/sum) from the forward's saved statistics (binding 7). */
  readonly savedStats?: boolean;
}

const LOG2E = '1.4426950408889634';
const scoresUnroll = (t: BackwardTiles) => (t.unroll === 'scores' ? true : t.unroll === 'sums' ? undefined : t.unroll);
const sumsUnroll = (t: BackwardTiles) => (t.unroll === 'sums' ? true : t.unroll === 'scores' ? undefined : t.unroll);

/**
 * Row statistics for the backward: (lse * log2 e, D = rowsum(dO * O)) per (query row, head). D is summed exactly as
 * the dK/dV and dQ kernels sum dP = dO Vᵀ (`+= dot`, same order), so that dP - D is exactly 0 where O = V (one key).
 * Not fma chains: sequential chains over the head dim round worse in f32; with them, an f32 d160 case of the H100
 * grid exceeded the criterion (dK 1.26x the bound, 2026-11-21 23:50 UTC).
 */
export function rowStatsWGSL(s: BackwardShape): string {
  const vecDV = s.dv % 4 === 0;
  const dv4 = Math.ceil(s.dv / 4);
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Ob: ${storageType(s.dtype, vecDV)};
@group(0) @binding(4) var<storage, read> dOb: ${storageType(s.dtype, vecDV)};
${s.savedStats ? '@group(0) @binding(7) var<storage, read> Sv: array<vec2<f32>>;' : '@group(0) @binding(5) var<storage, read> Lb: array<f32>;'}
@group(0) @binding(6) var<storage, read_write> RS: array<vec4<f32>>;
${loaders('o', 'Ob', s.dtype, s.dv, vecDV)}${loaders('do', 'dOb', s.dtype, s.dv, vecDV)}${FDOT}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let b = wid.z + P.batch0;
  let h = wid.y;
  let sq = cu[b + 1u] - cu[b];
  let i = wid.x * 64u + t;
  if (i >= sq) { return; }
  let row = cu[b] - P.qRow0 + i;
  let bo = (row * P.hq + h) * ${s.dv}u;
  var acc = 0.0;
  for (var c = 0u; c < ${dv4}u; c++) {
    acc += dot(ld4_o(bo + c * 4u + P.oShift, c), ld4_do(bo + c * 4u + P.doShift, c));
  }
  let li = b * P.lseBatchStride + h * P.lseHeadStride + select(0u, cu[b], P.lseVarlen == 1u) + i;
  ${s.savedStats ? `let sv = Sv[li];
  RS[(cu[b] + i) * P.hq + h] = vec4<f32>(sv.x, sv.y, acc, 0.0);` : `RS[(cu[b] + i) * P.hq + h] = vec4<f32>(Lb[li] * ${LOG2E}, 1.0, acc, 0.0);`}
}
`;
}

/** s + dot(a, b) as one explicit fma chain (4 instructions instead of a dot product plus an add). */
const FDOT = 'fn fdot(s: f32, a: vec4<f32>, b: vec4<f32>) -> f32 { return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, s)))); }\n';
const COMP = ['x', 'y', 'z', 'w'];
/** One step of S = QKᵀ, written as the forward writes it (see BackwardShape.fmaScores). */
const scoreStep = (fmaScores: boolean | undefined) => (s: string, a: string, b: string) => (fmaScores ? `${s} = fdot(${s}, ${a}, ${b});` : `${s} += dot(${a}, ${b});`);

/** Row stride (floats, a multiple of 4) of a P/dS tile written by groups of g consecutive threads, read as vec4. */
const pStride = (cols: number, g: number) => cols + Math.max(4, Math.min(g, 16));

/** Default keys per thread of the dK/dV accumulation: 4 where the thread layout allows it, without idle columns. */
export function dkvDefaultRk(s: { d: number; dv: number }, t: BackwardTiles): number {
  const nt = (t.bm / t.tm) * (t.bn / t.tn);
  const ok = (r: number) => t.bn % r === 0 && (nt * r) % t.bn === 0;
  const w = Math.max(Math.ceil(s.d / 4), Math.ceil(s.dv / 4));
  return [4, 2, 1, 8].find((r) => ok(r) && (nt * r) / t.bn <= w) ?? [4, 2, 1, 8].find(ok) ?? 1;
}

export function dkvLayout(s: { d: number; dv: number }, t: BackwardTiles) {
  const g = t.bm / t.tm;
  const kg = t.bn / t.tn;
  const nt = g * kg;
  const rk = t.rk ?? dkvDefaultRk(s, t);
  const kg2 = t.bn / rk;
  const g2 = nt / kg2;
  const d4 = Math.ceil(s.d / 4);
  const dv4 = Math.ceil(s.dv / 4);
  const ock = Math.ceil(d4 / g2);
  const ocv = Math.ceil(dv4 / g2);
  // Rows hold d4 (dv4) vec4; dK/dV threads whose last column lies past them read a clamped column (results unused).
  const sq = oddStride(d4);
  const so = oddStride(dv4);
  const sk = t.separateKV ? oddStride(d4) : oddStride(Math.max(d4, dv4));
  const sv = t.separateKV ? oddStride(dv4) : sk;
  const ps = pStride(t.bm, g);
  const pre = (rows: number, w: number) => Math.ceil((rows * w) / nt);
  return {
    g, kg, nt, rk, kg2, g2, d4, dv4, ock, ocv, sq, so, sk, sv, ps,
    /** Prefetch registers (vec4) per thread: next Q, dO, row stats; K, V held when shared (prefetch 2). */
    pq: pre(t.bm, d4), pd: pre(t.bm, dv4), pr: pre(t.bm, 1), pk: pre(t.bn, d4), pv: pre(t.bn, dv4),
    valid: Number.isInteger(kg2) && Number.isInteger(g2) && g2 >= 1 && t.bm % 4 === 0,
  };
}

export function dkvSmem(s: { d: number; dv: number }, t: BackwardTiles): number {
  const L = dkvLayout(s, t);
  return 16 * (t.bm * L.sq + t.bm * L.so + t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0)) + 8 * t.bn * L.ps + 16 * t.bm + 16;
}

const captDeriv = (softcap: boolean, sv: string) => (softcap ? ` * (1.0 - capT(${sv}) * capT(${sv}))` : '');

/**
 * dK, dV: each workgroup owns a key tile and a KV head and streams (query head of its group, query tile) pairs.
 * Per step: Sᵀ and dPᵀ (TN keys x TM queries per thread), P and dS into workgroup memory, then
 * dV += Pᵀ dO and dK += dSᵀ Q with RK keys per thread, P/dS read as vec4 (four queries per load). With prefetch the
 * next step's Q, dO and row stats are loaded into registers right after the current ones are stored.
 */
export function dkvWGSL(s: BackwardShape, t: BackwardTiles): string {
  const sdot = scoreStep(s.fmaScores);
  const L = dkvLayout(s, t);
  const { g, kg, nt, rk, kg2, g2, d4, dv4, ock, ocv, sq, so, sk, sv, ps } = L;
  if (!L.valid) throw new Error(`dkv tiles ${JSON.stringify(t)}: invalid thread layout`);
  const { bm, bn, tm, tn } = t;
  const pf = Number(t.prefetch ?? 1);
  const kvRegs = !t.separateKV && pf >= 2;
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const vbuf = t.separateKV ? 'vs' : 'ks';
  const ps4 = ps / 4;
  // f32: blocked summation. dK and dV sum over every query of the GQA group (hundreds to thousands of terms); one f32
  // accumulator per output grows its rounding error with that count, beyond what the criterion allows against a
  // baseline that sums per head. Each query tile's terms go into a fresh partial sum, added to the total once
  // (dV's partials, then dK's, so that only one set of partials is live).
  const blocked = s.dtype === 'f32';
  const kTile = { rows: bn, dim: s.d, nt, ld: 'k', row0: 'j0', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.kShift' };
  const vTile = { rows: bn, dim: s.dv, nt, ld: 'v', row0: 'j0', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.vShift' };
  const qTile = (row0: string, head: string) => ({ rows: bm, dim: s.d, nt, ld: 'q', row0, rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head, shift: 'P.qShift' });
  const oTile = (row0: string, head: string) => ({ rows: bm, dim: s.dv, nt, ld: 'do', row0, rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head, shift: 'P.doShift' });
  const loadK = loadTile({ ...kTile, dst: 'ks', stride: sk });
  const loadV = loadTile({ ...vTile, dst: vbuf, stride: sv });
  // Row statistics of a query tile: into registers pr* (prefetch) or straight into rs.
  const prLoad = (row0: string, head: string) => rep(L.pr, (i) => `{ let e = t + ${i * nt}u; let row = ${row0} + e; pr${i} = vec4<f32>(0.0); if (e < ${bm}u && row < sq) { pr${i} = RS[(u.z + row) * P.hq + ${head}]; } }`, '\n    ');
  const prStore = rep(L.pr, (i) => `if (t + ${i * nt}u < ${bm}u) { rs[t + ${i * nt}u] = pr${i}; }`, ' ');
  const loadNext = (row0: string, head: string) => `${prefetchTile({ ...qTile(row0, head), name: 'pq', n: L.pq })}
    ${prefetchTile({ ...oTile(row0, head), name: 'pd', n: L.pd })}
    ${prLoad(row0, head)}`;
  const stepLoad = pf
    ? `${storePrefetched({ name: 'pq', n: L.pq, rows: bm, dim: s.d, nt, dst: 'qs', stride: sq })}
    ${storePrefetched({ name: 'pd', n: L.pd, rows: bm, dim: s.dv, nt, dst: 'dos', stride: so })}
    ${prStore}`
    : `${loadTile({ ...qTile('i0', 'h'), dst: 'qs', stride: sq })}
    ${loadTile({ ...oTile('i0', 'h'), dst: 'dos', stride: so })}
    ${rep(Math.ceil(bm / nt), (i) => `{ let e = t + ${i * nt}u; let row = i0 + e; if (e < ${bm}u) { var x = vec4<f32>(0.0); if (row < sq) { x = RS[(u.z + row) * P.hq + h]; } rs[e] = x; } }`, '\n    ')}`;
  const storeKr = storePrefetched({ name: 'pk', n: L.pk, rows: bn, dim: s.d, nt, dst: 'ks', stride: sk });
  const storeVr = storePrefetched({ name: 'pv', n: L.pv, rows: bn, dim: s.dv, nt, dst: 'ks', stride: sk });
  // dV += Pᵀ dO (or dK += dSᵀ Q): RK keys per thread, four queries per vec4 read of P (dS).
  const col = (c: number, oc: number, w4: number) => (oc * g2 > w4 ? `min(x2 + ${g2 * c}u, ${w4 - 1}u)` : `x2 + ${g2 * c}u`);
  const accum = (acc: string, tile: string, src: string, stride: number, oc: number, w4: number) => {
    const a = blocked ? `t${acc}` : acc;
    return `${blocked ? rep(rk, (i) => rep(oc, (c) => `var t${acc}${i}_${c} = vec4<f32>(0.0);`, ' '), ' ') : ''}
    ${loopN('q4', bm / 4, sumsUnroll(t), (q4) => `${rep(rk, (i) => `let pp${i} = ${tile}[rr${i} * ${ps4}u + ${ix(q4)}];`, ' ')}
      ${rep(4, (jj) => `{ ${rep(oc, (c) => `let w${c} = ${src}[${typeof q4 === 'number' ? `${(q4 * 4 + jj) * stride}u` : `(${ix(q4)} * 4u + ${jj}u) * ${stride}u`} + ${col(c, oc, w4)}];`, ' ')}
      ${rep(rk * oc, (x) => { const i = Math.floor(x / oc); const c = x % oc; return `${a}${i}_${c} = fma(vec4<f32>(pp${i}.${COMP[jj]}), w${c}, ${a}${i}_${c});`; }, ' ')} }`, '\n      ')}`)}
    ${blocked ? rep(rk, (i) => rep(oc, (c) => `${acc}${i}_${c} += t${acc}${i}_${c};`, ' '), ' ') : ''}`;
  };
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read> dOb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(7) var<storage, read> RS: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dKb: ${storageType('f32', vecD)};
@group(0) @binding(9) var<storage, read_write> dVb: ${storageType('f32', vecDV)};
${loaders('q', 'Qb', s.dtype, s.d, vecD)}${loaders('k', 'Kb', s.dtype, s.d, vecD)}${loaders('v', 'Vb', s.dtype, s.dv, vecDV)}${loaders('do', 'dOb', s.dtype, s.dv, vecDV)}
${storer('dk', 'dKb', s.d, vecD)}${storer('dv', 'dVb', s.dv, vecDV)}${scoreFns(s.softcap)}${ROUNDED_FN}${exp2Fn(s.dtype === 'f32', true)}${FDOT}
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> dos: array<vec4<f32>, ${bm * so}>;
var<workgroup> ks: array<vec4<f32>, ${bn * sk}>;
${t.separateKV ? `var<workgroup> vs: array<vec4<f32>, ${bn * sv}>;` : ''}
var<workgroup> pts: array<vec4<f32>, ${bn * ps4}>;
var<workgroup> dsts: array<vec4<f32>, ${bn * ps4}>;
var<workgroup> rs: array<vec4<f32>, ${bm}>;
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(${nt})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let b = wid.z + P.batch0;
  let hk = wid.y;
  if (t == 0u) { ${UNI_LOAD} }
  let u = workgroupUniformLoad(&uni);
  let sq = u.x; let sk = u.y;
  let j0 = wid.x * ${bn}u;
  if (j0 >= sk) { return; }
  let qr0 = u.z - P.qRow0;
  let kr0 = u.w - P.kRow0;
  let off = i32(sk) - i32(sq);
  let j1 = i32(min(j0 + ${bn}u, sk));
  var ilo = 0;
  if (P.winRight >= 0) { ilo = max(0, i32(j0) - off - P.winRight); }
  var ihi = i32(sq);
  if (P.winLeft >= 0) { ihi = min(i32(sq), j1 - off + P.winLeft); }
  let kg = t / ${g}u;
  let tx = t % ${g}u;
  ${rep(tn, (i) => `let r${i} = kg + ${kg * i}u; let kj${i} = i32(j0 + r${i});`, ' ')}
  let x2 = t % ${g2}u;
  ${rep(rk, (i) => `let rr${i} = t / ${g2}u + ${kg2 * i}u;`, ' ')}
  ${rep(rk, (i) => `${rep(ock, (c) => `var dk${i}_${c} = vec4<f32>(0.0);`, ' ')} ${rep(ocv, (c) => `var dv${i}_${c} = vec4<f32>(0.0);`, ' ')}`, '\n  ')}
  ${t.separateKV ? `${loadK}\n  ${loadV}` : ''}
  ${kvRegs ? `${prefetchVars('pk', L.pk)} ${prefetchVars('pv', L.pv)}
  ${prefetchTile({ ...kTile, name: 'pk', n: L.pk })}
  ${prefetchTile({ ...vTile, name: 'pv', n: L.pv })}` : ''}
  let ilo0 = (ilo / ${bm}) * ${bm};
  var ntq = 0;
  if (ihi > ilo0) { ntq = (ihi - ilo0 + ${bm - 1}) / ${bm}; }
  let total = i32(P.group) * ntq;
  ${pf ? `${prefetchVars('pq', L.pq)} ${prefetchVars('pd', L.pd)} ${prefetchVars('pr', L.pr)}
  if (total > 0) {
    let nh = hk * P.group; let ni0 = u32(ilo0);
    ${loadNext('ni0', 'nh')}
  }` : ''}
  for (var it = 0; it < total; it++) {
    let h = hk * P.group + u32(it / ntq);
    let i0 = u32(ilo0 + (it % ntq) * ${bm});
    workgroupBarrier();
    ${stepLoad}
    ${t.separateKV ? '' : kvRegs ? storeKr : loadK}
    workgroupBarrier();
    ${pf ? `if (it + 1 < total) {
    let nh = hk * P.group + u32((it + 1) / ntq); let ni0 = u32(ilo0 + ((it + 1) % ntq) * ${bm});
    ${loadNext('ni0', 'nh')}
    }` : ''}
    ${rep(tm, (j) => `let c${j} = tx + ${g * j}u; let gq${j} = i32(i0 + c${j}); let st${j} = rs[c${j}];\n    ${windowCode(`lo${j}`, `hi${j}`, `gq${j}`)}`, '\n    ')}
    ${rep(tn * tm, (x) => `var s${Math.floor(x / tm)}_${x % tm} = 0.0;`, ' ')}
    ${loopN('k', d4, scoresUnroll(t), (k) => `${rep(tn, (i) => `let a${i} = ks[r${i} * ${sk}u + ${ix(k)}];`, ' ')}
      ${rep(tm, (j) => `let q${j} = qs[c${j} * ${sq}u + ${ix(k)}];`, ' ')}
      ${rep(tn * tm, (x) => `${sdot(`s${Math.floor(x / tm)}_${x % tm}`, `a${Math.floor(x / tm)}`, `q${x % tm}`)}`, ' ')}`)}
    ${rep(tn * tm, (x) => { const i = Math.floor(x / tm); const j = x % tm; return `let p${i}_${j} = select(0.0, exp2x(rounded(score2(s${i}_${j})) - st${j}.x) * st${j}.y, kj${i} >= lo${j} && kj${i} < hi${j});`; }, '\n    ')}
    ${t.separateKV ? '' : `workgroupBarrier();\n    ${kvRegs ? storeVr : loadV}\n    workgroupBarrier();`}
    ${rep(tn * tm, (x) => `var dp${Math.floor(x / tm)}_${x % tm} = 0.0;`, ' ')}
    ${loopN('k', dv4, scoresUnroll(t), (k) => `${rep(tn, (i) => `let a${i} = ${vbuf}[r${i} * ${sv}u + ${ix(k)}];`, ' ')}
      ${rep(tm, (j) => `let q${j} = dos[c${j} * ${so}u + ${ix(k)}];`, ' ')}
      ${rep(tn * tm, (x) => `dp${Math.floor(x / tm)}_${x % tm} += dot(a${Math.floor(x / tm)}, q${x % tm});`, ' ')}`)}
    ${rep(tn * tm, (x) => { const i = Math.floor(x / tm); const j = x % tm; return `{ let pi = r${i} * ${ps}u + c${j}; pts[pi >> 2u][pi & 3u] = p${i}_${j}; dsts[pi >> 2u][pi & 3u] = p${i}_${j} * (dp${i}_${j} - st${j}.z)${captDeriv(s.softcap, `s${i}_${j}`)}; }`; }, '\n    ')}
    workgroupBarrier();
    ${accum('dv', 'pts', 'dos', so, ocv, dv4)}
    ${accum('dk', 'dsts', 'qs', sq, ock, d4)}
  }
  ${rep(rk, (i) => `if (j0 + rr${i} < sk) {
    let row = kr0 + j0 + rr${i};
    ${rep(ock, (c) => `if (x2 + ${g2 * c}u < ${d4}u) { st4_dk((row * P.hkv + hk) * ${s.d}u + (x2 + ${g2 * c}u) * 4u + P.dkShift, x2 + ${g2 * c}u, dk${i}_${c} * P.scale); }`, '\n    ')}
    ${rep(ocv, (c) => `if (x2 + ${g2 * c}u < ${dv4}u) { st4_dv((row * P.hkv + hk) * ${s.dv}u + (x2 + ${g2 * c}u) * 4u + P.dvShift, x2 + ${g2 * c}u, dv${i}_${c}); }`, '\n    ')}
  }`, '\n  ')}
}
`;
}

export function dqLayout(s: { d: number; dv: number }, t: BackwardTiles) {
  const g = t.bn / t.tn;
  const rg = t.bm / t.tm;
  const nt = g * rg;
  const d4 = Math.ceil(s.d / 4);
  const dv4 = Math.ceil(s.dv / 4);
  const ock = Math.ceil(d4 / g);
  const sq = oddStride(d4);
  const so = oddStride(dv4);
  // Rows hold d4 vec4; dQ threads whose last column lies past them read a clamped column (results unused).
  const sk = t.separateKV ? oddStride(d4) : oddStride(Math.max(d4, dv4));
  const sv = t.separateKV ? oddStride(dv4) : sk;
  const pre = (w: number) => Math.ceil((t.bn * w) / nt);
  return { g, rg, nt, d4, dv4, ock, sq, so, sk, sv, ps: pStride(t.bn, g), pk: pre(d4), pv: pre(dv4), valid: t.bn % 4 === 0 };
}

export function dqSmem(s: { d: number; dv: number }, t: BackwardTiles): number {
  const L = dqLayout(s, t);
  return 16 * (t.bm * L.sq + t.bm * L.so + t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0)) + 4 * t.bm * L.ps + 16;
}

/**
 * dQ: each workgroup owns a query tile of one head and streams key tiles (no two workgroups write one row): dP and S
 * (fma chains), dS into workgroup memory, dQ += dS K with dS read as vec4 (four keys per load). With prefetch the
 * next K/V tile is loaded into registers right after the current one is stored.
 */
export function dqWGSL(s: BackwardShape, t: BackwardTiles): string {
  const sdot = scoreStep(s.fmaScores);
  const L = dqLayout(s, t);
  const { g, rg, nt, d4, dv4, ock, sq, so, sk, sv, ps } = L;
  if (!L.valid) throw new Error(`dq tiles ${JSON.stringify(t)}: bn must be a multiple of 4`);
  const { bm, bn, tm, tn } = t;
  const pf = Number(t.prefetch ?? 1) >= 1;
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const vbuf = t.separateKV ? 'vs' : 'ks';
  const ps4 = ps / 4;
  const kTile = { rows: bn, dim: s.d, nt, ld: 'k', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.kShift' };
  const vTile = { rows: bn, dim: s.dv, nt, ld: 'v', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.vShift' };
  const loadK = (row0: string) => (pf ? prefetchTile({ ...kTile, name: 'pk', n: L.pk, row0 }) : loadTile({ ...kTile, dst: 'ks', stride: sk, row0 }));
  const loadV = (row0: string) => (pf ? prefetchTile({ ...vTile, name: 'pv', n: L.pv, row0 }) : loadTile({ ...vTile, dst: vbuf, stride: sv, row0 }));
  const storeK = storePrefetched({ name: 'pk', n: L.pk, rows: bn, dim: s.d, nt, dst: 'ks', stride: sk });
  const storeV = storePrefetched({ name: 'pv', n: L.pv, rows: bn, dim: s.dv, nt, dst: vbuf, stride: sv });
  const next = `kb + ${bn}u`;
  // Separate arrays: K and V stored together, then the next tile's loads issued. Shared: V (for dP) first, then K.
  const first = pf
    ? `${storeV}
    ${t.separateKV ? storeK : ''}
    workgroupBarrier();
    let more = j0 + ${bn} < jhi;
    if (more) {
    ${loadV(next)}
    ${t.separateKV ? loadK(next) : ''}
    }`
    : `${loadV('kb')}
    ${t.separateKV ? loadK('kb') : ''}
    workgroupBarrier();`;
  const second = t.separateKV ? '' : pf
    ? `workgroupBarrier();
    ${storeK}
    workgroupBarrier();
    if (more) {
    ${loadK(next)}
    }`
    : `workgroupBarrier();
    ${loadK('kb')}
    workgroupBarrier();`;
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read> dOb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(7) var<storage, read> RS: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dQb: ${storageType('f32', vecD)};
${loaders('q', 'Qb', s.dtype, s.d, vecD)}${loaders('k', 'Kb', s.dtype, s.d, vecD)}${loaders('v', 'Vb', s.dtype, s.dv, vecDV)}${loaders('do', 'dOb', s.dtype, s.dv, vecDV)}
${storer('dq', 'dQb', s.d, vecD)}${scoreFns(s.softcap)}${ROUNDED_FN}${exp2Fn(s.dtype === 'f32', true)}${FDOT}
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> dos: array<vec4<f32>, ${bm * so}>;
var<workgroup> ks: array<vec4<f32>, ${bn * sk}>;
${t.separateKV ? `var<workgroup> vs: array<vec4<f32>, ${bn * sv}>;` : ''}
var<workgroup> dss: array<vec4<f32>, ${bm * ps4}>;
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(${nt})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(bm)}
  ${loadTile({ dst: 'qs', stride: sq, rows: bm, dim: s.d, nt, ld: 'q', row0: 'i0', rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head: 'h', shift: 'P.qShift' })}
  ${loadTile({ dst: 'dos', stride: so, rows: bm, dim: s.dv, nt, ld: 'do', row0: 'i0', rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head: 'h', shift: 'P.doShift' })}
  let rg = t / ${g}u;
  let tx = t % ${g}u;
  ${rep(tm, (i) => `let r${i} = rg + ${rg * i}u; let gi${i} = i32(i0 + r${i});
  ${windowCode(`lo${i}`, `hi${i}`, `gi${i}`)}
  var st${i} = vec4<f32>(0.0); if (gi${i} < i32(sq)) { st${i} = RS[(u.z + u32(gi${i})) * P.hq + h]; }
  ${rep(ock, (c) => `var dq${i}_${c} = vec4<f32>(0.0);`, ' ')}`, '\n  ')}
  let jstart = (jlo / ${bn}) * ${bn};
  ${pf ? `${prefetchVars('pk', L.pk)} ${prefetchVars('pv', L.pv)}
  if (jstart < jhi) {
    let kb = u32(jstart);
    ${loadK('kb')}
    ${loadV('kb')}
  }` : ''}
  for (var j0 = jstart; j0 < jhi; j0 += ${bn}) {
    let kb = u32(j0);
    workgroupBarrier();
    ${first}
    ${rep(tn, (j) => `let c${j} = tx + ${g * j}u; let kj${j} = j0 + i32(c${j});`, ' ')}
    ${rep(tm * tn, (x) => `var dp${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    ${loopN('k', dv4, scoresUnroll(t), (k) => `${rep(tm, (i) => `let a${i} = dos[r${i} * ${so}u + ${ix(k)}];`, ' ')}
      ${rep(tn, (j) => `let w${j} = ${vbuf}[c${j} * ${sv}u + ${ix(k)}];`, ' ')}
      ${rep(tm * tn, (x) => `dp${Math.floor(x / tn)}_${x % tn} += dot(a${Math.floor(x / tn)}, w${x % tn});`, ' ')}`)}
    ${second}
    ${rep(tm * tn, (x) => `var s${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    ${loopN('k', d4, scoresUnroll(t), (k) => `${rep(tm, (i) => `let a${i} = qs[r${i} * ${sq}u + ${ix(k)}];`, ' ')}
      ${rep(tn, (j) => `let w${j} = ks[c${j} * ${sk}u + ${ix(k)}];`, ' ')}
      ${rep(tm * tn, (x) => `${sdot(`s${Math.floor(x / tn)}_${x % tn}`, `a${Math.floor(x / tn)}`, `w${x % tn}`)}`, ' ')}`)}
    ${rep(tm * tn, (x) => { const i = Math.floor(x / tn); const j = x % tn; return `{ let p = select(0.0, exp2x(rounded(score2(s${i}_${j})) - st${i}.x) * st${i}.y, kj${j} >= lo${i} && kj${j} < hi${i}); let pi = r${i} * ${ps}u + c${j}; dss[pi >> 2u][pi & 3u] = p * (dp${i}_${j} - st${i}.z)${captDeriv(s.softcap, `s${i}_${j}`)}; }`; }, '\n    ')}
    workgroupBarrier();
    ${loopN('j4', bn / 4, sumsUnroll(t), (j4) => `${rep(tm, (i) => `let d${i} = dss[r${i} * ${ps4}u + ${ix(j4)}];`, ' ')}
      ${rep(4, (jj) => `{ ${rep(ock, (c) => `let wk${c} = ks[${typeof j4 === 'number' ? `${(j4 * 4 + jj) * sk}u` : `(${ix(j4)} * 4u + ${jj}u) * ${sk}u`} + ${ock * g > d4 ? `min(tx + ${g * c}u, ${d4 - 1}u)` : `tx + ${g * c}u`}];`, ' ')}
      ${rep(tm * ock, (x) => { const i = Math.floor(x / ock); const c = x % ock; return `dq${i}_${c} = fma(vec4<f32>(d${i}.${COMP[jj]}), wk${c}, dq${i}_${c});`; }, ' ')} }`, '\n      ')}`)}
  }
  ${rep(tm, (i) => `if (gi${i} < i32(sq)) {
    let row = qr0 + u32(gi${i});
    ${rep(ock, (c) => `if (tx + ${g * c}u < ${d4}u) { st4_dq((row * P.hq + h) * ${s.d}u + (tx + ${g * c}u) * 4u + P.dqShift, tx + ${g * c}u, dq${i}_${c} * P.scale); }`, '\n    ')}
  }`, '\n  ')}
}
`;
}
