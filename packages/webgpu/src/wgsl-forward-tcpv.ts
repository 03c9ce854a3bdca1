import { exp2Fn, loaders, paramStruct, queryTilePrologue, rep, scoreFns, storageType, storer, windowCode } from './wgsl-common.js';
import type { ForwardShape, TcAblation } from './wgsl-forward.js';
import { splitRowCode } from './wgsl-forward-tc.js';

/**
 * The tensor-core forward with P·V on the tensor cores too (f16 subgroup matrices, 16x16x16 -> f32). S = QKᵀ as in
 * wgsl-forward-tc.ts (per-row power-of-two scales, hi/lo f16 splits, three products, small ones first). P·V: P·2^14
 * (P <= 1 against the running max) and V·2^(14 - e) (e: the key tile's largest exponent) split into hi/lo f16 the
 * same way, T = Pl·Vh + Ph·Vl + Ph·Vh over the tile's keys into a fresh accumulator, stored to workgroup memory and
 * added into O on the f32 units: O = O·alpha + T·2^-14·2^(e - 14). A fresh accumulator per key tile matters: the
 * tensor cores truncate the f32 accumulator at every step, which over thousands of keys at O's magnitude exceeds the
 * criterion (5.7-6x, H100 run 74); within one tile it stays at T's magnitude over BK/16 steps
 * (scripts/tc-accumulation-sim.py: 0.3-0.6 of the criterion's baseline flushing every 32-64 keys).
 *
 * 256 threads (8 subgroups of 32) per BM query rows, key tiles of BK. Jobs per subgroup, fixed when the kernel is
 * generated: S blocks (16 rows x 16 keys; a subgroup holds one row block's Q hi/lo matrices) and P·V blocks (16 rows x
 * 16 columns of dv), balanced by estimated cost. Two barriers per key tile (j: the tile being finished):
 *   A(j): T(j) = P(j)·V(j) -> st; S(j+1) -> ss; registers <- K(j+2), V(j+1) (its largest |v| -> vmx)
 *   B(j): O = O·alpha(j) + T(j); kh <- K(j+2) split; vh <- V(j+1) split; softmax(j+1): ss -> ph, alpha -> red
 * Every workgroup array is typed (WGSL has no unions), so nothing aliases: f16 for K, V and P; f32 for S and T.
 */
export interface TcPvTiles {
  readonly bm: number;
  readonly bk: number;
  /** Timing only (scripts/device-run.ts through setForwardAblation). */
  readonly ablate?: TcAblation;
}

const CANDIDATES: readonly [number, number][] = [[64, 32], [48, 32], [64, 16], [48, 16], [32, 32], [32, 16]];

/** The P·V-on-tensor-cores forward's tile for a shape, or why it cannot take it. */
export function tcPvTiles(s: { d: number; dv: number; subgroups: boolean }, smem: number): TcPvTiles | string {
  if (!s.subgroups) return 'needs subgroups';
  if (s.dv % 16 !== 0 || s.dv > 128) return `headDimV ${s.dv} is not a multiple of 16 up to 128`;
  if (s.d % 32 !== 0 || s.d > 128) return `headDim ${s.d} is not a multiple of 32 up to 128`;
  for (const [bm, bk] of CANDIDATES) {
    const lpr = 256 / bk;
    if ((s.d / 4) % lpr !== 0) continue; // the split: lpr lanes per key row, whole vec4s each
    if ((bm * s.dv / 4) % 256 !== 0) continue; // O: whole vec4s per thread
    if (tcPvSmem(s, bm, bk) <= smem) return { bm, bk };
  }
  return `no tile fits headDim ${s.d}/${s.dv} in ${smem} bytes of workgroup memory`;
}

/** Workgroup memory of the kernel (bytes; test/tensor-cores.test.ts checks it against the generated arrays). */
export function tcPvSmem(s: { d: number; dv: number }, bm: number, bk: number): number {
  const halves = 2 * bk * (s.d + 8) + 2 * bk * (s.dv + 8) + 2 * bm * bk;
  const words = bm * s.dv + bm * bk + 2 * bm + bm + 2 * bk + 8 + 4;
  return 2 * halves + 4 * words;
}

type Job = { kind: 's' | 'pv'; rb: number; cb: number; cost: number };

/** S jobs one per subgroup (one row block of Q each), then P·V jobs, largest load first, to the least-loaded subgroup. */
export function tcPvJobs(bm: number, bk: number, d: number, dv: number): Job[][] {
  const RBN = bm / 16, NBK = bk / 16;
  const per: Job[][] = Array.from({ length: 8 }, () => []);
  const load = new Array<number>(8).fill(0);
  let sg = 0;
  for (let rb = 0; rb < RBN; rb++) for (let nb = 0; nb < NBK; nb++) {
    if (sg >= 8) throw new Error(`tcPvJobs: ${RBN * NBK} S blocks for 8 subgroups`);
    const cost = 4 * (d / 16);
    per[sg]!.push({ kind: 's', rb, cb: nb, cost });
    load[sg++]! += cost;
  }
  for (let rb = 0; rb < RBN; rb++) for (let cb = 0; cb < dv / 16; cb++) {
    let m = 0;
    for (let i = 1; i < 8; i++) if (load[i]! < load[m]!) m = i;
    const cost = 5 * NBK;
    per[m]!.push({ kind: 'pv', rb, cb, cost });
    load[m]! += cost;
  }
  return per;
}

export function forwardTcPvWGSL(s: ForwardShape, t: TcPvTiles): string {
  const { d, dv } = s;
  const BM = t.bm, BK = t.bk;
  const ab = (a: TcAblation) => t.ablate === a || (t.ablate === 'tcprobe' && (a === 'tcexp2' || a === 'tcnomask' || a === 'tcnoscale'));
  const KD = d / 16, NBK = BK / 16;
  const KS = d + 8, VS = dv + 8; // padded rows (halves): fragment loads of 16 rows then start in different banks
  const TPR = 4, KPT = BK / TPR; // softmax: 4 threads per row (threads t < BM * 4)
  const DV4 = dv / 4, NO = (BM * DV4) / 256; // O: vec4 e4 = t + 256 i, row e4 / DV4
  const LPR = 256 / BK, C4 = d / 4 / LPR; // K split: LPR lanes per key row, C4 vec4 each
  const NV = Math.ceil((BK * DV4) / 256);
  const vecD = d % 4 === 0, vecDV = dv % 4 === 0;
  // f16 array hb: [K hi | K lo] [V hi | V lo] [P hi | P lo]; f32 array fb: [T (BM x dv)] [S (BM x BK)].
  const KH = 0, KL = BK * KS, VH = 2 * BK * KS, VL = VH + BK * VS, PH = VH + 2 * BK * VS, PL = PH + BM * BK, NH = PL + BM * BK;
  const ST = 0, SS = BM * dv, NW = SS + BM * BK;
  const jobs = tcPvJobs(BM, BK, d, dv);
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  const u = (n: number) => `${n}u`;
  const sRb = jobs.map((js) => js.find((j) => j.kind === 's')?.rb ?? 99);
  const split = (dst: string, invDst: string) => splitRowCode(C4, (c, yh, yl) => `{ let a = ${dst} + ${u(c * 4)};
        hb[a] = f16(${yh}.x); hb[a + 1u] = f16(${yh}.y); hb[a + 2u] = f16(${yh}.z); hb[a + 3u] = f16(${yh}.w);
        hb[a + ${u(BK * KS)}] = f16(${yl}.x); hb[a + ${u(BK * KS + 1)}] = f16(${yl}.y); hb[a + ${u(BK * KS + 2)}] = f16(${yl}.z); hb[a + ${u(BK * KS + 3)}] = f16(${yl}.w); }`, invDst, LPR, 'lane');
  const loadK = (kt: string) => `{ let row = u32(${kt}) + sr;
      ${rep(C4, (c) => `rk${c} = vec4<f32>(0.0);`, ' ')}
      if (row < sk) { let e = ((kr0 + row) * P.hkv + hk) * ${u(d)} + P.kShift; ${rep(C4, (c) => `rk${c} = ld4_k(e + (lane * ${u(C4)} + ${u(c)}) * 4u, lane * ${u(C4)} + ${u(c)});`, ' ')} } }`;
  const storeK = (par: string) => `{ ${rep(C4, (c) => `let xs${c} = rk${c};`, ' ')}
      ${split(`sr * ${u(KS)} + lane * ${u(C4 * 4)}`, `kinv[${par} * ${u(BK)} + sr]`)} }`;
  // V: vec4 i = t + 256 e of the tile (row i / DV4); its largest |v| over the workgroup through vmx (one per subgroup).
  const loadV = (kt: string) => `{ var vm = 0.0; ${rep(NV, (e) => `{ let i = t + ${u(256 * e)}; rv${e} = vec4<f32>(0.0);
      let r = i / ${u(DV4)}; let c = i - r * ${u(DV4)}; let row = u32(${kt}) + r;
      if (i < ${u(BK * DV4)} && row < sk) { rv${e} = ld4_v(((kr0 + row) * P.hkv + hk) * ${u(dv)} + c * 4u + P.vShift, c); }
      vm = max(vm, max(max(abs(rv${e}.x), abs(rv${e}.y)), max(abs(rv${e}.z), abs(rv${e}.w)))); }`, ' ')}
      vm = subgroupMax(vm); if (t % 32u == 0u) { vmx[sg] = vm; } }`;
  // V's scale 2^(14 - e) from the tile's largest |v| (as splitRowCode), then hi/lo at [row][col] of vh; vun: what
  // T is multiplied by when added into O (2^-14 for P's scale, 1/scale for V's).
  const storeV = `{ var mx = vmx[0];
      ${rep(7, (i) => `mx = max(mx, vmx[${i + 1}]);`, ' ')}
      let eb = i32((bitcast<u32>(mx) >> 23u) & 255u) - 127 + select(0, 1, (bitcast<u32>(mx) & 0x7fffffu) != 0u);
      let es = clamp(14 - eb, -126, 127);
      let sc = select(1.0, bitcast<f32>(u32(es + 127) << 23u), mx > 0.0);
      vun = select(1.0, 1.0 / sc, mx > 0.0) * 6.103515625e-5;
      ${rep(NV, (e) => `{ let i = t + ${u(256 * e)}; let r = i / ${u(DV4)}; let c = i - r * ${u(DV4)};
        if (i < ${u(BK * DV4)}) { let y = rv${e} * sc; let yh = bitcast<vec4<f32>>(bitcast<vec4<u32>>(y) & vec4<u32>(0xffffe000u)); let yl = y - yh;
          let a = ${u(VH)} + r * ${u(VS)} + c * 4u;
          hb[a] = f16(yh.x); hb[a + 1u] = f16(yh.y); hb[a + 2u] = f16(yh.z); hb[a + 3u] = f16(yh.w);
          hb[a + ${u(BK * VS)}] = f16(yl.x); hb[a + ${u(BK * VS + 1)}] = f16(yl.y); hb[a + ${u(BK * VS + 2)}] = f16(yl.z); hb[a + ${u(BK * VS + 3)}] = f16(yl.w); } }`, '\n      ')}
    }`;
  // S block (srb, nb) of the tile in kh -> ss: the small products over all of d first, then the large ones.
  const kFrag = (c: number, nb: number, lo: boolean) => `subgroupMatrixLoad<${R}>(&hb, ${u((lo ? KL : KH) + nb * 16 * KS + c * 16)}, true, ${u(KS)})`;
  const sJob = (j: Job) => ab('tcnos') ? '' : `{ var c = ${C}();
        ${rep(KD, (c) => `c = subgroupMatrixMultiplyAccumulate(ql${c}, ${kFrag(c, j.cb, false)}, c); c = subgroupMatrixMultiplyAccumulate(qh${c}, ${kFrag(c, j.cb, true)}, c);`, '\n        ')}
        ${rep(KD, (c) => `c = subgroupMatrixMultiplyAccumulate(qh${c}, ${kFrag(c, j.cb, false)}, c);`, '\n        ')}
        subgroupMatrixStore(&fb, ${u(SS + j.rb * 16 * BK + j.cb * 16)}, c, false, ${u(BK)}); }`;
  // P·V blocks of one subgroup: P's matrices loaded once per row block, then per column block 3 products per k-step.
  const pvJobs = (js: Job[]) => {
    if (ab('tcnopv')) return '';
    const byRb = new Map<number, Job[]>();
    for (const j of js) if (j.kind === 'pv') byRb.set(j.rb, [...(byRb.get(j.rb) ?? []), j]);
    return [...byRb.entries()].map(([rb, list]) => `{
        ${rep(NBK, (k) => `let ph${k} = subgroupMatrixLoad<${L}>(&hb, ${u(PH + rb * 16 * BK + k * 16)}, false, ${u(BK)}); let pl${k} = subgroupMatrixLoad<${L}>(&hb, ${u(PL + rb * 16 * BK + k * 16)}, false, ${u(BK)});`, ' ')}
        ${list.map((j) => `{ var o = ${C}();
          ${rep(NBK, (k) => `let vh${k} = subgroupMatrixLoad<${R}>(&hb, ${u(VH + k * 16 * VS + j.cb * 16)}, false, ${u(VS)}); let vl${k} = subgroupMatrixLoad<${R}>(&hb, ${u(VL + k * 16 * VS + j.cb * 16)}, false, ${u(VS)});`, ' ')}
          ${rep(NBK, (k) => `o = subgroupMatrixMultiplyAccumulate(pl${k}, vh${k}, o); o = subgroupMatrixMultiplyAccumulate(ph${k}, vl${k}, o);`, ' ')}
          ${rep(NBK, (k) => `o = subgroupMatrixMultiplyAccumulate(ph${k}, vh${k}, o);`, ' ')}
          subgroupMatrixStore(&fb, ${u(ST + j.rb * 16 * dv + j.cb * 16)}, o, false, ${u(dv)}); }`).join('\n        ')}
      }`).join('\n      ');
  };
  // Phase A's tensor-core work, one branch per subgroup (subgroup-uniform: sg = t / 32).
  const mmaPhase = (withS: string) => jobs.map((js, g) => {
    const sj = js.find((j) => j.kind === 's');
    return `if (sg == ${u(g)}) {${sj ? ` if (${withS}) ${sJob(sj)}` : ''}
      ${pvJobs(js)}
    }`;
  }).join(' else ');
  const sOnly = jobs.map((js, g) => { const sj = js.find((j) => j.kind === 's'); return sj ? `if (sg == ${u(g)}) ${sJob(sj)}` : ''; }).filter(Boolean).join(' else ');
  // Softmax of the tile starting at key kt, parity par: masked keys give p = 0 exactly; P·2^14 split into ph/pl.
  // A row whose window holds the whole tile (every row, away from masks and the sequence end) skips the key tests.
  const xval = (j: number, par: string) => `score2(fb[${u(SS)} + srow * ${u(BK)} + k${j}]${ab('tcnoscale') ? '' : ` * (kinv[${par} * ${u(BK)} + k${j}] * qinvRow)`})`;
  const softmax = (kt: string, par: string) => `{
      let full = ${ab('tcnomask') ? 'true' : `i32(${kt}) >= lo && i32(${kt}) + ${BK} <= hi`};
      ${rep(KPT, (j) => `let k${j} = sq4 * ${u(KPT)} + ((${u(j)} + srow) % ${u(KPT)}); var x${j} = ${xval(j, par)};`, '\n      ')}
      if (!full) { ${rep(KPT, (j) => `{ let kj = i32(${kt}) + i32(k${j}); x${j} = select(NEG, x${j}, kj >= lo && kj < hi); }`, ' ')} }
      var mt = max(mrun, ${rep(KPT, (j) => `x${j}`, ', ').split(', ').reduce((a, x) => `max(${a}, ${x})`)});
      mt = max(mt, subgroupShuffleXor(mt, 1u)); mt = max(mt, subgroupShuffleXor(mt, 2u));
      let alpha = exp2x(mrun - mt);
      mrun = mt;
      var psum = 0.0;
      ${rep(KPT, (j) => `{ var p = exp2x(x${j} - mt); if (!full) { let kj = i32(${kt}) + i32(k${j}); p = select(0.0, p, kj >= lo && kj < hi); }
        psum = psum + p;
        if (sact) { let y = p * 16384.0; let yh = bitcast<f32>(bitcast<u32>(y) & 0xffffe000u); let a = srow * ${u(BK)} + k${j}; hb[${u(PH)} + a] = f16(yh); hb[${u(PL)} + a] = f16(y - yh); } }`, '\n      ')}
      if (sact && sq4 == 0u) { red[${par} * ${u(BM)} + srow] = alpha; }
      lrun = lrun * alpha + psum;
    }`;
  // O = O·alpha(j) + T(j)·vun (T from st, this thread's NO vec4).
  const oUpdate = (par: string) => rep(NO, (i) => `{ let e4 = t + ${u(256 * i)}; let r = e4 / ${u(DV4)}; let a = ${u(ST)} + e4 * 4u;
      o${i} = fma(o${i}, vec4<f32>(red[${par} * ${u(BM)} + r]), vec4<f32>(fb[a], fb[a + 1u], fb[a + 2u], fb[a + 3u]) * vun); }`, '\n    ');
  const nt = `(jt + 1 < ntiles)`, nt2 = `(jt + 2 < ntiles)`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
${paramStruct()}
@group(0) @binding(1) var<storage, read> cu: array<u32>;
@group(0) @binding(3) var<storage, read> Qb: ${storageType(s.dtype, vecD)};
@group(0) @binding(4) var<storage, read> Kb: ${storageType(s.dtype, vecD)};
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, vecDV)};
@group(0) @binding(6) var<storage, read_write> Ob: ${storageType('f32', vecDV)};
@group(0) @binding(7) var<storage, read_write> Lb: array<f32>;
${loaders('q', 'Qb', s.dtype, d, vecD)}${loaders('k', 'Kb', s.dtype, d, vecD)}${loaders('v', 'Vb', s.dtype, dv, vecDV)}${storer('o', 'Ob', dv, vecDV)}${scoreFns(s.softcap)}${exp2Fn(s.dtype === 'f32' && !ab('tcexp2'), true)}
const NEG: f32 = -3.0e38;
var<workgroup> hb: array<f16, ${NH}>;
var<workgroup> fb: array<f32, ${NW}>;
var<workgroup> red: array<f32, ${2 * BM}>;
var<workgroup> qinv: array<f32, ${BM}>;
var<workgroup> kinv: array<f32, ${2 * BK}>;
var<workgroup> vmx: array<f32, 8>;
var<workgroup> uni: vec4<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTilePrologue(BM)}
  let sg = t / 32u;
  let srb = array<u32, 8>(${sRb.map(u).join(', ')})[sg];
  let sr = t / ${u(LPR)}; let lane = t % ${u(LPR)};
  ${rep(C4, (c) => `var rk${c} = vec4<f32>(0.0);`, ' ')} ${rep(NV, (e) => `var rv${e} = vec4<f32>(0.0);`, ' ')}
  var vun = 1.0;
  // Q: split BK rows at a time through the K area of hb; the subgroup whose S row block is among them takes its matrices.
  ${rep(KD, (c) => `var qh${c}: ${L}; var ql${c}: ${L};`, ' ')}
  for (var q0 = 0u; q0 < ${u(BM)}; q0 += ${u(BK)}) {
    workgroupBarrier();
    { let row = i0 + q0 + sr;
      ${rep(C4, (c) => `var xs${c} = vec4<f32>(0.0);`, ' ')}
      if (row < sq && q0 + sr < ${u(BM)}) { let e = ((qr0 + row) * P.hq + h) * ${u(d)} + P.qShift; ${rep(C4, (c) => `xs${c} = ld4_q(e + (lane * ${u(C4)} + ${u(c)}) * 4u, lane * ${u(C4)} + ${u(c)});`, ' ')} }
      var qinvSlot = 0.0;
      ${split(`sr * ${u(KS)} + lane * ${u(C4 * 4)}`, 'qinvSlot')}
      if (lane == 0u && q0 + sr < ${u(BM)}) { qinv[q0 + sr] = qinvSlot; }
    }
    workgroupBarrier();
    if (srb * 16u >= q0 && srb * 16u < q0 + ${u(BK)}) {
      let base = (srb * 16u - q0) * ${u(KS)};
      ${rep(KD, (c) => `qh${c} = subgroupMatrixLoad<${L}>(&hb, base + ${u(KH + c * 16)}, false, ${u(KS)}); ql${c} = subgroupMatrixLoad<${L}>(&hb, base + ${u(KL + c * 16)}, false, ${u(KS)});`, '\n      ')}
    }
  }
  // Softmax rows (4 threads each) and their windows.
  let sact = t < ${u(BM * TPR)};
  let srow = min(t / ${u(TPR)}, ${u(BM - 1)}); let sq4 = t % ${u(TPR)};
  let gi = i32(i0 + srow);
  ${windowCode('lo', 'hi', 'gi')}
  workgroupBarrier();
  let qinvRow = qinv[srow];
  var mrun = NEG; var lrun = 0.0;
  ${rep(NO, (i) => `var o${i} = vec4<f32>(0.0);`, ' ')}
  let jstart = (jlo / ${BK}) * ${BK};
  let ntiles = select(0, (jhi - jstart + ${BK - 1}) / ${BK}, jhi > jstart);
  if (ntiles > 0) {
    // Prologue: S and softmax of tile 0; K of tile 1 and V of tile 0 in place.
    ${loadK('jstart')}
    ${storeK('0u')}
    workgroupBarrier();
    if (ntiles > 1) { ${loadK(`jstart + ${BK}`)} }
    ${loadV('jstart')}
    ${sOnly}
    workgroupBarrier();
    if (ntiles > 1) { ${storeK('1u')} }
    ${storeV}
    ${softmax('jstart', '0u')}
    workgroupBarrier();
  }
  for (var jt = 0; jt < ntiles; jt++) {
    let kt = jstart + jt * ${BK};
    let par = u32(jt & 1);
    // A(jt): T(jt) = P·V, S(jt+1); next tiles into registers.
    ${ab('tcnoload') ? '' : `if ${nt2} { ${loadK(`kt + ${2 * BK}`)} }
    if ${nt} { ${loadV(`kt + ${BK}`)} }`}
    ${mmaPhase(nt)}
    workgroupBarrier();
    // B(jt): O += T(jt); K(jt+2), V(jt+1) split into hb; softmax(jt+1).
    ${oUpdate('par')}
    if ${nt2} { ${storeK('par')} }
    if ${nt} {
      ${storeV}
      ${softmax(`kt + ${BK}`, '(1u - par)')}
    }
    workgroupBarrier();
  }
  // Row sums over the 4 softmax threads of a row; O by its threads, the LSE by the softmax threads.
  var lt = lrun;
  lt = lt + subgroupShuffleXor(lt, 1u); lt = lt + subgroupShuffleXor(lt, 2u);
  if (sact && sq4 == 0u) { red[srow] = lt; }
  workgroupBarrier();
  let ninf = bitcast<f32>(P.ninfBits);
  if (sact && sq4 == 0u && gi < i32(sq)) {
    let li = b * P.lseBatchStride + h * P.lseHeadStride + select(0u, u.z, P.lseVarlen == 1u) + u32(gi);
    Lb[li] = select(ninf, (mrun + log2(lt)) * 0.6931471805599453, lt > 0.0);
  }
  ${rep(NO, (i) => `{
    let e4 = t + ${u(256 * i)}; let r = e4 / ${u(DV4)}; let c4 = e4 - r * ${u(DV4)}; let l = red[r];
    if (i0 + r < sq) {
      let inv = select(0.0, 1.0 / l, l > 0.0);
      st4_o(((qr0 + i0 + r) * P.hq + h) * ${u(dv)} + P.oShift + c4 * 4u, c4, o${i} * inv);
    }
  }`, '\n  ')}
}
`;
}
