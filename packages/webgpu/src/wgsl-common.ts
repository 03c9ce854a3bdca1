import type { DType } from '@flashattn/core';

/** Uniform parameters shared by every attention kernel (one struct, words in this order). */
export const PARAM_FIELDS = [
  ['scale', 'f32'], ['scaleLog2', 'f32'], ['softcap', 'f32'], ['ninfBits', 'u32'],
  ['hq', 'u32'], ['hkv', 'u32'], ['group', 'u32'], ['winLeft', 'i32'], ['winRight', 'i32'],
  ['batch0', 'u32'], ['qRow0', 'u32'], ['kRow0', 'u32'],
  ['qShift', 'u32'], ['kShift', 'u32'], ['vShift', 'u32'], ['oShift', 'u32'], ['doShift', 'u32'],
  ['dqShift', 'u32'], ['dkShift', 'u32'], ['dvShift', 'u32'],
  ['lseBatchStride', 'u32'], ['lseHeadStride', 'u32'], ['lseVarlen', 'u32'],
  ['count', 'u32'], ['pattern', 'u32'], ['rowsX', 'u32'], ['cuKOff', 'u32'], ['statsBase', 'u32'], ['zeroBits', 'u32'],
] as const;
export type ParamName = (typeof PARAM_FIELDS)[number][0];
export const PARAM_BYTES = 256;

export function paramStruct(): string {
  return `struct Params {\n${PARAM_FIELDS.map(([n, t]) => `  ${n}: ${t},`).join('\n')}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

/** Encode parameter values into the 256-byte uniform block. */
export function encodeParams(v: Partial<Record<ParamName, number>>): ArrayBuffer {
  const buf = new ArrayBuffer(PARAM_BYTES);
  const dv = new DataView(buf);
  PARAM_FIELDS.forEach(([n, t], i) => {
    const x = v[n] ?? 0;
    if (t === 'f32') dv.setFloat32(i * 4, x, true);
    else if (t === 'i32') dv.setInt32(i * 4, x, true);
    else dv.setUint32(i * 4, x >>> 0, true);
  });
  return buf;
}

/** How a tensor is stored in a binding: f32 (scalar or vec4) or 16-bit values packed two to a u32 word. */
export function storageType(dt: DType, vec4: boolean): string {
  if (dt !== 'f32') return 'array<u32>';
  return vec4 ? 'array<vec4<f32>>' : 'array<f32>';
}

/**
 * Loader functions for a tensor binding `buf`: ld_NAME(e) -> f32 and ld4_NAME(e, c4) -> vec4<f32> where e is
 * the element index of the first of 4 and c4 the vec4 column (so that columns past `dim` read as 0).
 * f16/bf16 are converted at load from their packed bits (no shader-f16 needed).
 */
export function loaders(name: string, buf: string, dt: DType, dim: number, vec4: boolean): string {
  let one: string;
  if (dt === 'f32') one = vec4 ? `return ${buf}[e >> 2u][e & 3u];` : `return ${buf}[e];`;
  else if (dt === 'f16') one = `return unpack2x16float(${buf}[e >> 1u])[e & 1u];`;
  else one = `let w = ${buf}[e >> 1u]; return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (e & 1u) == 1u));`;
  let four: string;
  if (dim % 4 === 0) {
    if (dt === 'f32') four = vec4 ? `return ${buf}[e >> 2u];` : `return vec4<f32>(${buf}[e], ${buf}[e + 1u], ${buf}[e + 2u], ${buf}[e + 3u]);`;
    else if (dt === 'f16') four = `let w = e >> 1u; return vec4<f32>(unpack2x16float(${buf}[w]), unpack2x16float(${buf}[w + 1u]));`;
    else four = `let w = e >> 1u; let a = ${buf}[w]; let b = ${buf}[w + 1u]; return bitcast<vec4<f32>>(vec4<u32>(a << 16u, a & 0xffff0000u, b << 16u, b & 0xffff0000u));`;
  } else {
    four = `var r = vec4<f32>(0.0); let c = c4 * 4u;
  for (var k = 0u; k < 4u; k++) { if (c + k < ${dim}u) { r[k] = ld_${name}(e + k); } }
  return r;`;
  }
  return `fn ld_${name}(e: u32) -> f32 { ${one} }\nfn ld4_${name}(e: u32, c4: u32) -> vec4<f32> { ${four} }\n`;
}

/** Store of an f32 result row segment (4 values at element e, vec4 column c4) into an f32 binding. */
export function storer(name: string, buf: string, dim: number, vec4: boolean): string {
  const body = vec4
    ? `${buf}[e >> 2u] = x;`
    : `let c = c4 * 4u; for (var k = 0u; k < 4u; k++) { if (c + k < ${dim}u) { ${buf}[e + k] = x[k]; } }`;
  return `fn st4_${name}(e: u32, c4: u32, x: vec4<f32>) { ${body} }\n`;
}

/** Odd stride (in vec4) >= n, so rows of a workgroup tile fall in different banks. */
export function oddStride(n: number): number {
  return n % 2 === 1 ? n : n + 1;
}

export const rep = (n: number, f: (i: number) => string, sep = '\n'): string => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/**
 * A loop of n steps over index `v`, as written or unrolled: `unroll` true = fully (step(i) gets the constant i, so
 * workgroup-memory offsets fold and there is no loop overhead), a number u = u steps per iteration (full where u does
 * not divide n), absent = a plain loop (step(v) gets the variable's name).
 */
export function loopN(v: string, n: number, unroll: boolean | number | undefined, step: (i: string | number) => string): string {
  if (unroll === true || (typeof unroll === 'number' && unroll > 1 && (unroll >= n || n % unroll !== 0))) return rep(n, (i) => `{ ${step(i)} }`, '\n    ');
  if (typeof unroll === 'number' && unroll > 1) return `for (var ${v} = 0u; ${v} < ${n}u; ${v} += ${unroll}u) {
      ${rep(unroll, (i) => `{ ${step(i === 0 ? v : `${v} + ${i}u`)} }`, '\n      ')}
    }`;
  return `for (var ${v} = 0u; ${v} < ${n}u; ${v}++) {
      ${step(v)}
    }`;
}

/** A loop index as a WGSL u32 expression (constants get their suffix; compound expressions are parenthesized). */
export const ix = (i: string | number): string => (typeof i === 'number' ? `${i}u` : /^\w+$/.test(i) ? i : `(${i})`);

/**
 * `rounded(x)`: x as stored, through an XOR with the uniform P.zeroBits (always 0, unknown to the compiler). The
 * backward's P = exp2(score2(s) - m) must see score2(s) rounded, as the forward's max m did: NVIDIA's compiler fuses
 * the multiply into the subtraction otherwise (fma(s, scale, -m): the product's rounding error, not 0, for the row's
 * maximum), which put a 1-ulp error into dV where P must be exactly 1 (H100, d64 window (0,0), runs 82-86).
 */
export const ROUNDED_FN = 'fn rounded(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) ^ P.zeroBits); }\n';

/** Score in log2 units from a raw dot product; with softcap also returns t = tanh(.) for the gradient. */
export function scoreFns(softcap: boolean): string {
  if (!softcap) return `fn score2(a: f32) -> f32 { return a * P.scaleLog2; }\n`;
  return `fn tanh_c(x: f32) -> f32 { return select(tanh(x), sign(x), abs(x) > 15.0); }
fn capT(a: f32) -> f32 { return tanh_c(a * P.scale / P.softcap); }
fn score2(a: f32) -> f32 { return P.softcap * capT(a) * 1.4426950408889634; }\n`;
}

/** Code that loads `rows` rows (from row `row0` of the sequence, zero past `rowEnd`) of a tensor into a tile. */
export function loadTile(o: {
  dst: string; stride: number; rows: number; dim: number; nt: number; ld: string;
  row0: string; rowEnd: string; seqRowBase: string; heads: string; head: string; shift: string;
  /** Optional start of the tile inside dst (WGSL u32 expression), e.g. one of two alternating buffers. */
  offset?: string;
}): string {
  const d4 = Math.ceil(o.dim / 4);
  return `for (var e = t; e < ${o.rows * d4}u; e += ${o.nt}u) {
      let r = e / ${d4}u; let c = e - r * ${d4}u; let row = ${o.row0} + r;
      var x = vec4<f32>(0.0);
      if (row < ${o.rowEnd}) { x = ld4_${o.ld}(((${o.seqRowBase} + row) * ${o.heads} + ${o.head}) * ${o.dim}u + c * 4u + ${o.shift}, c); }
      ${o.dst}[${o.offset ? `${o.offset} + ` : ''}r * ${o.stride}u + c] = x;
    }`;
}

/**
 * Register double buffering: `prefetchTile` loads this thread's share (vec4 slots e = t + nt * i) of a tile's rows
 * into registers NAME0..NAME{n-1} (declared by `prefetchVars`); `storePrefetched` writes them into the workgroup tile.
 */
export function prefetchVars(name: string, n: number): string {
  return rep(n, (i) => `var ${name}${i} = vec4<f32>(0.0);`, ' ');
}

export function prefetchTile(o: {
  name: string; n: number; rows: number; dim: number; nt: number; ld: string;
  row0: string; rowEnd: string; seqRowBase: string; heads: string; head: string; shift: string;
  /**
   * One address per thread and tile, the slots at constant row steps from it (where nt is a multiple of the vec4s per
   * row, slot i is nt/d4 rows below slot 0 in the same column), instead of each slot's own index arithmetic.
   */
  shared?: boolean;
}): string {
  const d4 = Math.ceil(o.dim / 4);
  const total = o.rows * d4;
  if (o.shared && o.nt % d4 === 0) {
    const R = o.nt / d4;
    return `{ let r = t / ${d4}u; let c = t - r * ${d4}u; let row = ${o.row0} + r;
      let a = ((${o.seqRowBase} + row) * ${o.heads} + ${o.head}) * ${o.dim}u + c * 4u + ${o.shift}; let step = ${R}u * ${o.heads} * ${o.dim}u;
      ${rep(o.n, (i) => {
        const guard = (i + 1) * o.nt > total ? ` && t + ${i * o.nt}u < ${total}u` : '';
        return `${o.name}${i} = vec4<f32>(0.0); if (row + ${i * R}u < ${o.rowEnd}${guard}) { ${o.name}${i} = ld4_${o.ld}(a + ${i}u * step, c); }`;
      }, '\n      ')} }`;
  }
  return rep(o.n, (i) => {
    const guard = (i + 1) * o.nt > total ? ` && e < ${total}u` : '';
    return `{ let e = t + ${i * o.nt}u; let r = e / ${d4}u; let c = e - r * ${d4}u; let row = ${o.row0} + r;
      ${o.name}${i} = vec4<f32>(0.0);
      if (row < ${o.rowEnd}${guard}) { ${o.name}${i} = ld4_${o.ld}(((${o.seqRowBase} + row) * ${o.heads} + ${o.head}) * ${o.dim}u + c * 4u + ${o.shift}, c); } }`;
  }, '\n    ');
}

export function storePrefetched(o: { name: string; n: number; rows: number; dim: number; nt: number; dst: string; stride: number; offset?: string }): string {
  const d4 = Math.ceil(o.dim / 4);
  const total = o.rows * d4;
  return rep(o.n, (i) => {
    const e = `t + ${i * o.nt}u`;
    const body = `let e = ${e}; let r = e / ${d4}u; ${o.dst}[${o.offset ? `${o.offset} + ` : ''}r * ${o.stride}u + e - r * ${d4}u] = ${o.name}${i};`;
    return (i + 1) * o.nt > total ? `if (${e} < ${total}u) { ${body} }` : `{ ${body} }`;
  }, '\n    ');
}

/** Window bounds [lo, hi) of query row gi (i32) as code; `off` = sk - sq. */
export function windowCode(lo: string, hi: string, gi: string): string {
  return `var ${lo} = 0; var ${hi} = i32(sk);
    if (P.winLeft >= 0) { ${lo} = max(0, ${gi} + off - P.winLeft); }
    if (P.winRight >= 0) { ${hi} = min(i32(sk), ${gi} + off + P.winRight + 1); }
    if (${gi} >= i32(sq)) { ${hi} = ${lo}; }`;
}

/** Reduce a value over the G lanes of a group (subgroup shuffles when available). */
export function groupReduceShuffle(v: string, g: number, op: 'max' | 'add'): string {
  const lines: string[] = [];
  for (let m = 1; m < g; m *= 2) lines.push(op === 'max' ? `${v} = max(${v}, subgroupShuffleXor(${v}, ${m}u));` : `${v} = ${v} + subgroupShuffleXor(${v}, ${m}u);`);
  return lines.join(' ');
}

/** max(a, b, c, ...) as nested two-argument calls (WGSL's max takes two). */
export function maxChain(xs: string[]): string {
  return xs.reduce((acc, x) => (acc === '' ? x : `max(${acc}, ${x})`), '');
}

/** Sequence lengths and first rows of sequence b: cuQ then cuK packed in one buffer `cu` (cuK at P.cuKOff). */
export const UNI_LOAD =
  'let kb0 = P.cuKOff + b; uni = vec4<u32>(cu[b + 1u] - cu[b], cu[kb0 + 1u] - cu[kb0], cu[b], cu[kb0]);';

/**
 * exp2x: the builtin exp2 (about 2 ulp on GPUs), or for f32 problems a Cephes-style polynomial (about 1 ulp) so that
 * f32 results stay within the criterion's bound, which a naive f32 computation makes tight. `bitScale`: multiply by
 * 2^n built from exponent bits (n in [-126, 126] after the clamp, so always a normal) instead of ldexp; the same
 * value wherever the result is a normal.
 */
export function exp2Fn(precise: boolean, bitScale = false): string {
  if (!precise) return 'fn exp2x(x: f32) -> f32 { return exp2(x); }\n';
  return `fn exp2x(x: f32) -> f32 {
  let xc = clamp(x, -126.0, 126.0);
  let n = floor(xc + 0.5);
  let f = xc - n;
  var p = 1.535336188319500e-4;
  p = fma(p, f, 1.339887440266574e-3);
  p = fma(p, f, 9.618437357674640e-3);
  p = fma(p, f, 5.550332471162809e-2);
  p = fma(p, f, 2.402264791363012e-1);
  p = fma(p, f, 6.931472028550421e-1);
  p = fma(p, f, 1.0);
  return select(${bitScale ? 'p * bitcast<f32>(u32(i32(n) + 127) << 23u)' : 'ldexp(p, i32(n))'}, 0.0, x < -126.0);
}
`;
}

/**
 * Start of a kernel over one Q tile of bm rows (forward, dQ): the sequence's bounds (b, h, sq, sk, row bases), an
 * early exit past the sequence, and the key range [jlo, jhi) the tile's rows may see under the window.
 */
export function queryTilePrologue(bm: number): string {
  return `  let b = wid.z + P.batch0;
  let h = wid.y;
  if (t == 0u) { ${UNI_LOAD} }
  let u = workgroupUniformLoad(&uni);
  let sq = u.x; let sk = u.y;
  let i0 = wid.x * ${bm}u;
  if (i0 >= sq) { return; }
  let hk = h / P.group;
  let qr0 = u.z - P.qRow0;
  let kr0 = u.w - P.kRow0;
  let off = i32(sk) - i32(sq);
  let iLast = i32(min(i0 + ${bm}u, sq)) - 1;
  var jlo = 0;
  if (P.winLeft >= 0) { jlo = max(0, i32(i0) + off - P.winLeft); }
  var jhi = i32(sk);
  if (P.winRight >= 0) { jhi = min(i32(sk), iLast + off + P.winRight + 1); }`;
}
