import type { DType } from '@flashattn/core';
import { UNI_LOAD, queryTilePrologue, exp2Fn, loaders, loadTile, oddStride, paramStruct, rep, scoreFns, storer, storageType, windowCode } from './wgsl-common.js';

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
}

export interface BackwardShape {
  readonly dtype: DType;
  readonly d: number;
  readonly dv: number;
  readonly softcap: boolean;
}

const LOG2E = '1.4426950408889634';

/** Row statistics for the backward: (lse * log2 e, D = rowsum(dO * O)) per (query row, head). */
export function rowStatsWGSL(s: BackwardShape): string {
  const vecDV = s.dv % 4 === 0;
  const dv4 = Math.ceil(s.dv / 4);
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Ob: ${storageType(s.dtype, vecDV)};
@group(0) @binding(4) var<storage, read> dOb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(5) var<storage, read> Lb: array<f32>;
@group(0) @binding(6) var<storage, read_write> RS: array<vec4<f32>>;
${loaders('o', 'Ob', s.dtype, s.dv, vecDV)}${loaders('do', 'dOb', s.dtype, s.dv, vecDV)}
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
  let lse = Lb[b * P.lseBatchStride + h * P.lseHeadStride + select(0u, cu[b], P.lseVarlen == 1u) + i];
  RS[(cu[b] + i) * P.hq + h] = vec4<f32>(lse * ${LOG2E}, 1.0, acc, 0.0);
}
`;
}

export function dkvLayout(s: { d: number; dv: number }, t: BackwardTiles) {
  const g = t.bm / t.tm;
  const kg = t.bn / t.tn;
  const d4 = Math.ceil(s.d / 4);
  const dv4 = Math.ceil(s.dv / 4);
  const ock = Math.ceil(d4 / g);
  const ocv = Math.ceil(dv4 / g);
  const sq = oddStride(Math.max(d4, ock * g));
  const so = oddStride(Math.max(dv4, ocv * g));
  const sk = t.separateKV ? oddStride(d4) : oddStride(Math.max(d4, dv4));
  const sv = t.separateKV ? oddStride(dv4) : sk;
  return { g, kg, nt: g * kg, d4, dv4, ock, ocv, sq, so, sk, sv, ps: t.bm + 1 };
}

export function dkvSmem(s: { d: number; dv: number }, t: BackwardTiles): number {
  const L = dkvLayout(s, t);
  return 16 * (t.bm * L.sq + t.bm * L.so + t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0)) + 8 * t.bn * L.ps + 16 * t.bm + 16;
}

const captDeriv = (softcap: boolean, sv: string) => (softcap ? ` * (1.0 - capT(${sv}) * capT(${sv}))` : '');

/** dK, dV: each workgroup owns a key tile and a KV head, loops over the query heads of its group and query tiles. */
export function dkvWGSL(s: BackwardShape, t: BackwardTiles): string {
  const L = dkvLayout(s, t);
  const { g, kg, nt, d4, dv4, ock, ocv, sq, so, sk, sv, ps } = L;
  const { bm, bn, tm, tn } = t;
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const vbuf = t.separateKV ? 'vs' : 'ks';
  // f32: blocked summation. dK and dV sum over every query of the GQA group (hundreds to thousands of terms); one f32
  // accumulator per output grows its rounding error with that count, beyond what the criterion allows against a
  // baseline that sums per head. Each query tile's terms go into a fresh partial sum, added to the total once.
  const blocked = s.dtype === 'f32';
  const acc = blocked ? 't' : '';
  const lt = (dst: string, stride: number, rows: number, dim: number, ld: string, row0: string, rowEnd: string, base: string, heads: string, head: string, shift: string) =>
    loadTile({ dst, stride, rows, dim, nt, ld, row0, rowEnd, seqRowBase: base, heads, head, shift });
  const loadK = lt('ks', sk, bn, s.d, 'k', 'j0', 'sk', 'kr0', 'P.hkv', 'hk', 'P.kShift');
  const loadV = lt(vbuf, sv, bn, s.dv, 'v', 'j0', 'sk', 'kr0', 'P.hkv', 'hk', 'P.vShift');
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
${storer('dk', 'dKb', s.d, vecD)}${storer('dv', 'dVb', s.dv, vecDV)}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32')}
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> dos: array<vec4<f32>, ${bm * so}>;
var<workgroup> ks: array<vec4<f32>, ${bn * sk}>;
${t.separateKV ? `var<workgroup> vs: array<vec4<f32>, ${bn * sv}>;` : ''}
var<workgroup> pts: array<f32, ${bn * ps}>;
var<workgroup> dsts: array<f32, ${bn * ps}>;
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
  ${rep(tn, (i) => `${rep(ock, (c) => `var dk${i}_${c} = vec4<f32>(0.0);`, ' ')} ${rep(ocv, (c) => `var dv${i}_${c} = vec4<f32>(0.0);`, ' ')}`)}
  ${t.separateKV ? `${loadK}\n  ${loadV}` : ''}
  for (var gh = 0u; gh < P.group; gh++) {
    let h = hk * P.group + gh;
    for (var i0s = (ilo / ${bm}) * ${bm}; i0s < ihi; i0s += ${bm}) {
      let i0 = u32(i0s);
      workgroupBarrier();
      ${lt('qs', sq, bm, s.d, 'q', 'i0', 'sq', 'qr0', 'P.hq', 'h', 'P.qShift')}
      ${lt('dos', so, bm, s.dv, 'do', 'i0', 'sq', 'qr0', 'P.hq', 'h', 'P.doShift')}
      for (var e = t; e < ${bm}u; e += ${nt}u) { let row = i0 + e; var x = vec4<f32>(0.0); if (row < sq) { x = RS[(u.z + row) * P.hq + h]; } rs[e] = x; }
      ${t.separateKV ? '' : loadK}
      workgroupBarrier();
      ${rep(tm, (j) => `let c${j} = tx + ${g * j}u; let gq${j} = i32(i0 + c${j}); let st${j} = rs[c${j}];\n      ${windowCode(`lo${j}`, `hi${j}`, `gq${j}`)}`, '\n      ')}
      ${rep(tn * tm, (x) => `var s${Math.floor(x / tm)}_${x % tm} = 0.0;`, ' ')}
      for (var k = 0u; k < ${d4}u; k++) {
        ${rep(tn, (i) => `let a${i} = ks[r${i} * ${sk}u + k];`, ' ')}
        ${rep(tm, (j) => `let q${j} = qs[c${j} * ${sq}u + k];`, ' ')}
        ${rep(tn * tm, (x) => `s${Math.floor(x / tm)}_${x % tm} += dot(a${Math.floor(x / tm)}, q${x % tm});`, ' ')}
      }
      ${rep(tn * tm, (x) => { const i = Math.floor(x / tm); const j = x % tm; return `let p${i}_${j} = select(0.0, exp2x(score2(s${i}_${j}) - st${j}.x) * st${j}.y, kj${i} >= lo${j} && kj${i} < hi${j});`; }, '\n      ')}
      ${t.separateKV ? '' : `workgroupBarrier();\n      ${loadV}\n      workgroupBarrier();`}
      ${rep(tn * tm, (x) => `var dp${Math.floor(x / tm)}_${x % tm} = 0.0;`, ' ')}
      for (var k = 0u; k < ${dv4}u; k++) {
        ${rep(tn, (i) => `let a${i} = ${vbuf}[r${i} * ${sv}u + k];`, ' ')}
        ${rep(tm, (j) => `let q${j} = dos[c${j} * ${so}u + k];`, ' ')}
        ${rep(tn * tm, (x) => `dp${Math.floor(x / tm)}_${x % tm} += dot(a${Math.floor(x / tm)}, q${x % tm});`, ' ')}
      }
      ${rep(tn * tm, (x) => { const i = Math.floor(x / tm); const j = x % tm; return `pts[r${i} * ${ps}u + c${j}] = p${i}_${j}; dsts[r${i} * ${ps}u + c${j}] = p${i}_${j} * (dp${i}_${j} - st${j}.z)${captDeriv(s.softcap, `s${i}_${j}`)};`; }, '\n      ')}
      workgroupBarrier();
      ${blocked ? rep(tn, (i) => `${rep(ocv, (c) => `var tdv${i}_${c} = vec4<f32>(0.0);`, ' ')} ${rep(ock, (c) => `var tdk${i}_${c} = vec4<f32>(0.0);`, ' ')}`, '\n      ') : ''}
      for (var q = 0u; q < ${bm}u; q++) {
        ${rep(tn, (i) => `let pp${i} = pts[r${i} * ${ps}u + q]; let dd${i} = dsts[r${i} * ${ps}u + q];`, ' ')}
        ${rep(ocv, (c) => `let wo${c} = dos[q * ${so}u + tx + ${g * c}u];`, ' ')}
        ${rep(ock, (c) => `let wq${c} = qs[q * ${sq}u + tx + ${g * c}u];`, ' ')}
        ${rep(tn, (i) => `${rep(ocv, (c) => `${acc}dv${i}_${c} += pp${i} * wo${c};`, ' ')} ${rep(ock, (c) => `${acc}dk${i}_${c} += dd${i} * wq${c};`, ' ')}`, '\n        ')}
      }
      ${blocked ? rep(tn, (i) => `${rep(ocv, (c) => `dv${i}_${c} += tdv${i}_${c};`, ' ')} ${rep(ock, (c) => `dk${i}_${c} += tdk${i}_${c};`, ' ')}`, '\n      ') : ''}
    }
  }
  ${rep(tn, (i) => `if (kj${i} < i32(sk)) {
    let row = kr0 + u32(kj${i});
    ${rep(ock, (c) => `if (tx + ${g * c}u < ${d4}u) { st4_dk((row * P.hkv + hk) * ${s.d}u + (tx + ${g * c}u) * 4u + P.dkShift, tx + ${g * c}u, dk${i}_${c} * P.scale); }`, '\n    ')}
    ${rep(ocv, (c) => `if (tx + ${g * c}u < ${dv4}u) { st4_dv((row * P.hkv + hk) * ${s.dv}u + (tx + ${g * c}u) * 4u + P.dvShift, tx + ${g * c}u, dv${i}_${c}); }`, '\n    ')}
  }`, '\n  ')}
}
`;
}

export function dqLayout(s: { d: number; dv: number }, t: BackwardTiles) {
  const g = t.bn / t.tn;
  const rg = t.bm / t.tm;
  const d4 = Math.ceil(s.d / 4);
  const dv4 = Math.ceil(s.dv / 4);
  const ock = Math.ceil(d4 / g);
  const sq = oddStride(d4);
  const so = oddStride(dv4);
  const sk = t.separateKV ? oddStride(Math.max(d4, ock * g)) : oddStride(Math.max(d4, ock * g, dv4));
  const sv = t.separateKV ? oddStride(dv4) : sk;
  return { g, rg, nt: g * rg, d4, dv4, ock, sq, so, sk, sv, ps: t.bn + 1 };
}

export function dqSmem(s: { d: number; dv: number }, t: BackwardTiles): number {
  const L = dqLayout(s, t);
  return 16 * (t.bm * L.sq + t.bm * L.so + t.bn * L.sk + (t.separateKV ? t.bn * L.sv : 0)) + 4 * t.bm * L.ps + 16;
}

/** dQ: each workgroup owns a query tile of one head and streams key tiles; no two workgroups write one row. */
export function dqWGSL(s: BackwardShape, t: BackwardTiles): string {
  const L = dqLayout(s, t);
  const { g, rg, nt, d4, dv4, ock, sq, so, sk, sv, ps } = L;
  const { bm, bn, tm, tn } = t;
  const vecD = s.d % 4 === 0;
  const vecDV = s.dv % 4 === 0;
  const vbuf = t.separateKV ? 'vs' : 'ks';
  const lt = (dst: string, stride: number, rows: number, dim: number, ld: string, row0: string, rowEnd: string, base: string, heads: string, head: string, shift: string) =>
    loadTile({ dst, stride, rows, dim, nt, ld, row0, rowEnd, seqRowBase: base, heads, head, shift });
  const loadK = lt('ks', sk, bn, s.d, 'k', 'kb', 'sk', 'kr0', 'P.hkv', 'hk', 'P.kShift');
  const loadV = lt(vbuf, sv, bn, s.dv, 'v', 'kb', 'sk', 'kr0', 'P.hkv', 'hk', 'P.vShift');
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read> dOb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(7) var<storage, read> RS: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dQb: ${storageType('f32', vecD)};
${loaders('q', 'Qb', s.dtype, s.d, vecD)}${loaders('k', 'Kb', s.dtype, s.d, vecD)}${loaders('v', 'Vb', s.dtype, s.dv, vecDV)}${loaders('do', 'dOb', s.dtype, s.dv, vecDV)}
${storer('dq', 'dQb', s.d, vecD)}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32')}
var<workgroup> qs: array<vec4<f32>, ${bm * sq}>;
var<workgroup> dos: array<vec4<f32>, ${bm * so}>;
var<workgroup> ks: array<vec4<f32>, ${bn * sk}>;
${t.separateKV ? `var<workgroup> vs: array<vec4<f32>, ${bn * sv}>;` : ''}
var<workgroup> dss: array<f32, ${bm * ps}>;
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(${nt})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(bm)}
  ${lt('qs', sq, bm, s.d, 'q', 'i0', 'sq', 'qr0', 'P.hq', 'h', 'P.qShift')}
  ${lt('dos', so, bm, s.dv, 'do', 'i0', 'sq', 'qr0', 'P.hq', 'h', 'P.doShift')}
  let rg = t / ${g}u;
  let tx = t % ${g}u;
  ${rep(tm, (i) => `let r${i} = rg + ${rg * i}u; let gi${i} = i32(i0 + r${i});
  ${windowCode(`lo${i}`, `hi${i}`, `gi${i}`)}
  var st${i} = vec4<f32>(0.0); if (gi${i} < i32(sq)) { st${i} = RS[(u.z + u32(gi${i})) * P.hq + h]; }
  ${rep(ock, (c) => `var dq${i}_${c} = vec4<f32>(0.0);`, ' ')}`, '\n  ')}
  for (var j0 = (jlo / ${bn}) * ${bn}; j0 < jhi; j0 += ${bn}) {
    let kb = u32(j0);
    workgroupBarrier();
    ${t.separateKV ? loadK : ''}
    ${loadV}
    workgroupBarrier();
    ${rep(tn, (j) => `let c${j} = tx + ${g * j}u; let kj${j} = j0 + i32(c${j});`, ' ')}
    ${rep(tm * tn, (x) => `var dp${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    for (var k = 0u; k < ${dv4}u; k++) {
      ${rep(tm, (i) => `let a${i} = dos[r${i} * ${so}u + k];`, ' ')}
      ${rep(tn, (j) => `let w${j} = ${vbuf}[c${j} * ${sv}u + k];`, ' ')}
      ${rep(tm * tn, (x) => `dp${Math.floor(x / tn)}_${x % tn} += dot(a${Math.floor(x / tn)}, w${x % tn});`, ' ')}
    }
    ${t.separateKV ? '' : `workgroupBarrier();\n    ${loadK}\n    workgroupBarrier();`}
    ${rep(tm * tn, (x) => `var s${Math.floor(x / tn)}_${x % tn} = 0.0;`, ' ')}
    for (var k = 0u; k < ${d4}u; k++) {
      ${rep(tm, (i) => `let a${i} = qs[r${i} * ${sq}u + k];`, ' ')}
      ${rep(tn, (j) => `let w${j} = ks[c${j} * ${sk}u + k];`, ' ')}
      ${rep(tm * tn, (x) => `s${Math.floor(x / tn)}_${x % tn} += dot(a${Math.floor(x / tn)}, w${x % tn});`, ' ')}
    }
    ${rep(tm * tn, (x) => { const i = Math.floor(x / tn); const j = x % tn; return `{ let p = select(0.0, exp2x(score2(s${i}_${j}) - st${i}.x) * st${i}.y, kj${j} >= lo${i} && kj${j} < hi${i}); dss[r${i} * ${ps}u + c${j}] = p * (dp${i}_${j} - st${i}.z)${captDeriv(s.softcap, `s${i}_${j}`)}; }`; }, '\n    ')}
    workgroupBarrier();
    for (var j = 0u; j < ${bn}u; j++) {
      ${rep(tm, (i) => `let d${i} = dss[r${i} * ${ps}u + j];`, ' ')}
      ${rep(ock, (c) => `let wk${c} = ks[j * ${sk}u + tx + ${g * c}u];`, ' ')}
      ${rep(tm * ock, (x) => `dq${Math.floor(x / ock)}_${x % ock} += d${Math.floor(x / ock)} * wk${x % ock};`, ' ')}
    }
  }
  ${rep(tm, (i) => `if (gi${i} < i32(sq)) {
    let row = qr0 + u32(gi${i});
    ${rep(ock, (c) => `if (tx + ${g * c}u < ${d4}u) { st4_dq((row * P.hq + h) * ${s.d}u + (tx + ${g * c}u) * 4u + P.dqShift, tx + ${g * c}u, dq${i}_${c} * P.scale); }`, '\n    ')}
  }`, '\n  ')}
}
`;
}
