import type { DType } from '@flashattn/core';
import { prefetchTile, prefetchVars, storePrefetched, queryTilePrologue, exp2Fn, groupReduceShuffle, maxChain, loaders, loadTile, oddStride, paramStruct, rep, scoreFns, storer, storageType, windowCode } from './wgsl-common.js';

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
}

export interface ForwardShape {
  readonly dtype: DType;
  readonly d: number;
  readonly dv: number;
  readonly softcap: boolean;
  readonly subgroups: boolean;
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
  return { g, rg, nt, d4, dv4, oc, sq, sk, sv, pk, pv };
}

/** Workgroup memory in bytes. */
export function forwardSmem(s: { d: number; dv: number; subgroups: boolean }, t: ForwardTiles): number {
  const L = forwardLayout(s, t);
  let n = 16 * (t.bm * L.sq + t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0)) + 4 * t.bm * t.bn + 16;
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
  const vs = t.separateKV ? 'vs' : 'ks';
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const bn4 = bn / 4;
  const reduceMax = (i: number) => (s.subgroups ? groupReduceShuffle(`mx${i}`, g, 'max') : '');
  const kTile = { rows: bn, dim: s.d, nt, ld: 'k', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.kShift' };
  const vTile = { rows: bn, dim: s.dv, nt, ld: 'v', rowEnd: 'sk', seqRowBase: 'kr0', heads: 'P.hkv', head: 'hk', shift: 'P.vShift' };
  const loadK = (row0: string) => (pf ? prefetchTile({ ...kTile, name: 'pk', n: L.pk, row0 }) : loadTile({ ...kTile, dst: 'ks', stride: sk, row0 }));
  const loadV = (row0: string) => (pf ? prefetchTile({ ...vTile, name: 'pv', n: L.pv, row0 }) : loadTile({ ...vTile, dst: vs, stride: sv, row0 }));
  const storeK = storePrefetched({ name: 'pk', n: L.pk, rows: bn, dim: s.d, nt, dst: 'ks', stride: sk });
  const storeV = storePrefetched({ name: 'pv', n: L.pv, rows: bn, dim: s.dv, nt, dst: vs, stride: sv });
  // Key tiles: with prefetch, tile j0 is in registers at the top of step j0 and is stored first; the next one is
  // loaded right after (K, and V when separate) or after V's store (V sharing K's array).
  const stepLoad = pf
    ? `${storeK}
    ${t.separateKV && useV ? storeV : ''}
    workgroupBarrier();
    let more = j0 + ${bn} < jhi;
    if (more) {
    ${loadK('kb + ' + bn + 'u')}
    ${t.separateKV && useV ? loadV('kb + ' + bn + 'u') : ''}
    }`
    : `${loadK('kb')}
    ${t.separateKV && useV ? loadV('kb') : ''}
    workgroupBarrier();`;
  const sharedV = pf
    ? `${storeV}
    if (more) {
    ${loadV('kb + ' + bn + 'u')}
    }`
    : loadV('kb');
  const pv = useV
    ? `${t.separateKV ? '' : `${s.subgroups ? 'workgroupBarrier();' : ''}
    ${sharedV}`}
    workgroupBarrier();
    for (var j4 = 0u; j4 < ${bn4}u; j4++) {
      ${rep(tm, (i) => `let p${i} = ps[r${i} * ${bn4}u + j4];`, ' ')}
      ${rep(4, (jj) => `${rep(oc, (c) => `let w${jj}_${c} = ${vs}[(j4 * 4u + ${jj}u) * ${sv}u + tx + ${g * c}u];`, ' ')}
      ${rep(tm * oc, (x) => `o${Math.floor(x / oc)}_${x % oc} += p${Math.floor(x / oc)}[${jj}] * w${jj}_${x % oc};`, ' ')}`, '\n      ')}
    }`
    : '';
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
      Lb[li] = select(ninf, (m${i} + log2(l${i})) * 0.6931471805599453, l${i} > 0.0);
    }
  }`)}`;
  return `${s.subgroups ? 'enable subgroups;\n' : ''}${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
${stats ? `@group(0) @binding(7) var<storage, read_write> RS: array<vec4<f32>>;` : `@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read_write> Ob: ${storageType('f32', vecDV)};
@group(0) @binding(7) var<storage, read_write> Lb: array<f32>;`}
${loaders('q', 'Qb', s.dtype, s.d, vecD)}${loaders('k', 'Kb', s.dtype, s.d, vecD)}${stats ? '' : `${loaders('v', 'Vb', s.dtype, s.dv, vecDV)}${storer('o', 'Ob', s.dv, vecDV)}`}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32')}
const NEG: f32 = -3.0e38;
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> ks: array<vec4<f32>, ${bn * sk}>;
${t.separateKV && useV ? `var<workgroup> vs: array<vec4<f32>, ${bn * sv}>;` : ''}
${useV ? `var<workgroup> ps: array<vec4<f32>, ${(bm * bn) / 4}>;` : ''}
${s.subgroups ? '' : `var<workgroup> red: array<f32, ${bm * g}>;`}
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(${nt})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(bm)}
  ${loadTile({ dst: 'qs', stride: sq, rows: bm, dim: s.d, nt, ld: 'q', row0: 'i0', rowEnd: 'sq', seqRowBase: 'qr0', heads: 'P.hq', head: 'h', shift: 'P.qShift' })}
  let rg = t / ${g}u;
  let tx = t % ${g}u;
  ${rep(tm, (i) => `let r${i} = rg + ${rg * i}u; let gi${i} = i32(i0 + r${i});\n  ${windowCode(`lo${i}`, `hi${i}`, `gi${i}`)}
  var m${i} = NEG; var l${i} = 0.0;
  ${useV ? rep(oc, (c) => `var o${i}_${c} = vec4<f32>(0.0);`, ' ') : ''}`)}
  let jstart = (jlo / ${bn}) * ${bn};
  ${pf ? `${prefetchVars('pk', L.pk)}
  ${useV ? prefetchVars('pv', L.pv) : ''}
  if (jstart < jhi) {
    let kb = u32(jstart);
    ${loadK('kb')}
    ${useV ? loadV('kb') : ''}
  }` : ''}
  for (var j0 = jstart; j0 < jhi; j0 += ${bn}) {
    workgroupBarrier();
    let kb = u32(j0);
    ${stepLoad}
    ${rep(tm * tn, (x) => `var s${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    for (var k = 0u; k < ${d4}u; k++) {
      ${rep(tm, (i) => `let a${i} = qs[r${i} * ${sq}u + k];`, ' ')}
      ${rep(tn, (j) => `let b${j} = ks[(tx + ${g * j}u) * ${sk}u + k];`, ' ')}
      ${rep(tm * tn, (x) => `s${Math.floor(x / tn)}_${x % tn} += dot(a${Math.floor(x / tn)}, b${x % tn});`, ' ')}
    }
    ${rep(tn, (j) => `let kj${j} = j0 + i32(tx + ${g * j}u);`, ' ')}
    ${rep(tm, (i) => `${rep(tn, (j) => `let v${i}_${j} = kj${j} >= lo${i} && kj${j} < hi${i}; let x${i}_${j} = select(NEG, score2(s${i}_${j}), v${i}_${j});`, ' ')}
    var mx${i} = ${maxChain(Array.from({ length: tn }, (_, j) => `x${i}_${j}`))};`)}
    ${s.subgroups ? rep(tm, reduceMax) : `${rep(tm, (i) => `red[r${i} * ${g}u + tx] = mx${i};`, ' ')}
    workgroupBarrier();
    ${rep(tm, (i) => `for (var q = 0u; q < ${g}u; q++) { mx${i} = max(mx${i}, red[r${i} * ${g}u + q]); }`)}`}
    ${rep(tm, (i) => `let mn${i} = max(m${i}, mx${i}); let al${i} = exp2x(m${i} - mn${i}); m${i} = mn${i};
    ${rep(tn, (j) => `let p${i}_${j} = select(0.0, exp2x(x${i}_${j} - mn${i}), v${i}_${j});${useV ? ` { let pi = r${i} * ${bn}u + tx + ${g * j}u; ps[pi >> 2u][pi & 3u] = p${i}_${j}; }` : ''}`, ' ')}
    l${i} = l${i} * al${i} + ${rep(tn, (j) => `p${i}_${j}`, ' + ')};
    ${useV ? rep(oc, (c) => `o${i}_${c} *= al${i};`, ' ') : ''}`)}
    ${pv}
  }
  ${rowSums}
  ${epilogue}
}
`;
}
