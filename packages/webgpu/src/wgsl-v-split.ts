import { loaders, paramStruct, rep, storageType } from './wgsl-common.js';
import type { ForwardShape } from './wgsl-forward.js';
import { roundF16 } from './wgsl-forward-tc.js';

/**
 * V's split for P·V on the tensor cores (wgsl-forward-tcpv.ts), once per call before the forward, one workgroup per
 * block of 32 key rows of the binding and KV head (grid (ceil(P.count / 32), hkv); 256 threads = 32 rows of 8 lanes,
 * lane l taking a row's vec4s l, l + 8, ..., so that the 8 lanes of a row load and store consecutive words): the
 * block's largest |v| (rows past P.count count as 0) goes to VM[block * hkv + hk] as its f32 bits; every value is
 * scaled by 2^(14 - ceil(log2 max)) (vScaleCode) and cut into `vp` f16 pieces: hi (rounded to f16's 10 mantissa bits,
 * roundF16: exact), mid (the same of the rest), lo (the rest, rounded): VP[((row * hkv + hk) * vp + piece) * dv/4 + c4]
 * (vec4<f16>). The forward's key tiles are these blocks (aligned to the binding's rows), so a tile's T is unscaled by
 * its block's scale. Three pieces carry 33 bits, so a one-hot attention row gives V exactly; two (22 bits) failed a
 * window-(0,0) case (session 8). bf16 inputs take one (8 mantissa bits: one f16 holds a scaled value exactly, unless
 * it lies more than 2^28 below its block's largest, where f16 goes subnormal), as f16 inputs split (tcOpts.f16Split). (One scale per KV head took a max kernel of its own over V
 * and a zeroed buffer before this one: runs up to 129.) Needs shader-f16 and subgroups but no subgroup matrices, so it
 * runs on lavapipe (test/v-split.test.ts).
 */
export function vSplitWGSL(s: { dtype: ForwardShape['dtype']; dv: number; vp: 1 | 2 | 3 }): string {
  const C4 = s.dv / 4 / 8, DV4 = s.dv / 4, vp = s.vp;
  return `enable f16;
enable subgroups;
${paramStruct()}
@group(0) @binding(5) var<storage, read> Vb: ${storageType(s.dtype, true)};
@group(0) @binding(10) var<storage, read_write> VM: array<u32>;
@group(0) @binding(11) var<storage, read_write> VP: array<vec4<f16>>;
${loaders('v', 'Vb', s.dtype, s.dv, true)}
var<workgroup> wm: atomic<u32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let row = wid.x * 32u + t / 8u; let lane8 = t % 8u; let hk = wid.y;
  let e = (min(row, P.count - 1u) * P.hkv + hk) * ${s.dv}u + P.vShift;
  ${rep(C4, (c) => `var x${c} = vec4<f32>(0.0);`, ' ')}
  if (row < P.count) { ${rep(C4, (c) => `x${c} = ld4_v(e + (lane8 + ${8 * c}u) * 4u, lane8 + ${8 * c}u);`, ' ')} }
  var m = 0.0;
  ${rep(C4, (c) => `{ let a = abs(x${c}); m = max(m, max(max(a.x, a.y), max(a.z, a.w))); }`, ' ')}
  // The bits of |v| >= 0 order as the values do: one atomic max per subgroup gives the block's.
  m = subgroupMax(m);
  if (sid == 0u && m > 0.0) { atomicMax(&wm, bitcast<u32>(m)); }
  workgroupBarrier();
  let mb = atomicLoad(&wm);
  if (t == 0u) { VM[wid.x * P.hkv + hk] = mb; }
  if (row >= P.count) { return; }
  let sc = ${vScaleCode('mb')};
  let o = (row * P.hkv + hk) * ${vp * DV4}u + lane8;
  ${rep(C4, (c) => `{ let y = x${c} * sc;
    let yh = ${roundF16('y', true)}; let r1 = y - yh;${vp === 3 ? ` let ym = ${roundF16('r1', true)};` : ''}
    VP[o + ${8 * c}u] = vec4<f16>(yh);${vp === 3 ? ` VP[o + ${DV4 + 8 * c}u] = vec4<f16>(ym); VP[o + ${2 * DV4 + 8 * c}u] = vec4<f16>(r1 - ym);` : vp === 2 ? ` VP[o + ${DV4 + 8 * c}u] = vec4<f16>(r1);` : ''} }`, '\n  ')}
}
`;
}

/**
 * WGSL: V's scale 2^(14 - ceil(log2 max)) from VM's bits (1 where V is all zero); clamped so that it and its inverse
 * are normal f32. vSplitWGSL multiplies by it; the forward divides T by it (exact: a power of two).
 */
export function vScaleCode(bits: string): string {
  return `select(1.0, bitcast<f32>(u32(clamp(14 - (i32((${bits} >> 23u) & 255u) - 127 + select(0, 1, (${bits} & 0x7fffffu) != 0u)), -126, 126) + 127) << 23u), ${bits} != 0u)`;
}
