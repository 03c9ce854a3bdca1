import { paramStruct } from './wgsl-common.js';

/** Threads per workgroup of the linear (fill, pack) kernels; their index is gid.x + gid.y * P.rowsX. */
export const LINEAR_WG = 256;

/** Fill P.count u32 words with P.pattern (NaN poison before a kernel writes its outputs). */
export function fillWGSL(): string {
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(${LINEAR_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x + gid.y * P.rowsX;
  if (w < P.count) { dst[w] = P.pattern; }
}
`;
}

/** Pack f32 results into 16-bit words (round to nearest even, as core's dtype.ts does). */
export function packWGSL(dtype: 'f16' | 'bf16'): string {
  const conv =
    dtype === 'f16'
      ? `fn enc(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let e = i32((b >> 23u) & 0xffu);
  let m = b & 0x7fffffu;
  if (e == 255) { return sign | 0x7c00u | select(0u, 0x200u, m != 0u); }
  var ee = e - 127 + 15;
  if (ee >= 31) { return sign | 0x7c00u; }
  if (ee <= 0) {
    if (ee < -10) { return sign; }
    let mm = m | 0x800000u;
    let shift = u32(14 - ee);
    let half = 1u << (shift - 1u);
    var r = mm >> shift;
    let rem = mm & ((1u << shift) - 1u);
    if (rem > half || (rem == half && (r & 1u) == 1u)) { r += 1u; }
    return sign | r;
  }
  var r = m >> 13u;
  let rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) == 1u)) {
    r += 1u;
    if (r == 0x400u) { r = 0u; ee += 1; if (ee >= 31) { return sign | 0x7c00u; } }
  }
  return sign | (u32(ee) << 10u) | r;
}`
      : `fn enc(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu) != 0u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}`;
  return `${paramStruct()}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${conv}
@compute @workgroup_size(${LINEAR_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x + gid.y * P.rowsX;
  if (w < P.count) { dst[w] = enc(src[2u * w]) | (enc(src[2u * w + 1u]) << 16u); }
}
`;
}
