/**
 * The emulated multiply-accumulate r = a·b + c of 16x16 matrices (`SM`, row-major array<f32, 256>; the loop bound
 * `emuN` = 16 from workgroup memory): per element, the accumulator and the 16 products (exact in f32: the operands are
 * f16 values) summed by Neumaier's compensated sum and rounded once, the final `s + e`. Needs `alias SM` and
 * `var<workgroup> emuN: u32` beside it. test/tc-emulation.test.ts checks the one rounding.
 */
export const SM_MMA_WGSL = `fn smMMA(a: SM, b: SM, c: SM) -> SM {
  var r = c; let n = emuN;
  for (var i = 0u; i < n; i++) { for (var j = 0u; j < n; j++) {
    var s = r[i * 16u + j]; var e = 0.0;
    for (var k = 0u; k < n; k++) {
      let p = a[i * 16u + k] * b[k * 16u + j]; let t = s + p;
      e += select((p - t) + s, (s - t) + p, abs(s) >= abs(p)); s = t;
    }
    r[i * 16u + j] = s + e;
  } }
  return r;
}`;

/**
 * Test seam: the tensor-core forward's WGSL (wgsl-forward-tcpv.ts) rewritten so that it runs where there are no
 * subgroup matrices (lavapipe in CI), to check its logic (tiles, masks, windows, varlen alignment, GQA, softcap, the
 * splits and block scales, the flush's indexing) against the float64 oracle. Not its speed. The multiply-accumulate
 * sums each k-step's 16 exact products and the accumulator with one rounding (SM_MMA_WGSL), as tensor cores do (they
 * truncate where this rounds to nearest): with 16 FMA roundings instead, the emulated kernel's errors (S's and P·V's
 * accumulation) came out larger than the hardware's and its error ratios had a tail past the criterion.
 * - Each 16x16 subgroup matrix becomes an `array<f32, 256>` held whole by every invocation of the (32-wide) subgroup:
 *   loads read all 256 elements (row- or column-major, as asked), the multiply-accumulate is a plain triple loop, and a
 *   store writes element e from invocation t with e % 32 == t % 32 (each element once).
 * - The kernel's one reduction over a 32-wide subgroup (the window bounds of a subgroup's rows: subgroupMax /
 *   subgroupMin, then lane 0) becomes workgroup atomics over all rows, which gives the same [ulo, uhi) whatever the
 *   adapter's subgroup size. Its other subgroup operations are shuffles within 4 and 8 lanes, which lavapipe's 8-wide
 *   subgroups run as they are.
 * Every rewrite must match: a generator change that breaks one makes emulate() throw rather than test something else.
 */
export function emulateSubgroupMatrices(code: string): string {
  if (!code.includes('chromium_experimental_subgroup_matrix')) return code;
  let s = code;
  const sub = (re: RegExp, to: string | ((...m: string[]) => string), what: string) => {
    const before = s;
    s = s.replace(re, to as string);
    if (s === before) throw new Error(`tc emulation: no ${what} in the kernel (has the generator changed?)`);
  };
  sub(/enable chromium_experimental_subgroup_matrix;\n/, '', 'extension');
  sub(/diagnostic\(off, chromium\.subgroup_matrix_uniformity\);\n/, '', 'diagnostic');
  const arrays = new Set<string>();
  sub(/subgroupMatrixLoad<subgroup_matrix_(?:left|right)<f16, 16, 16>, (row|col)_major>\(&(\w+), /g, (_m, major: string, arr: string) => {
    arrays.add(arr);
    return `smLoad_${arr}(${major === 'col'}, `;
  }, 'subgroupMatrixLoad');
  const stores = new Set<string>();
  sub(/subgroupMatrixStore<row_major>\(&(\w+), /g, (_m, arr: string) => {
    stores.add(arr);
    return `smStore_${arr}(t, `;
  }, 'subgroupMatrixStore');
  sub(/subgroupMatrixMultiplyAccumulate\(/g, 'smMMA(', 'subgroupMatrixMultiplyAccumulate');
  sub(/subgroup_matrix_(?:left|right)<f16, 16, 16>|subgroup_matrix_result<f32, 16, 16>/g, 'SM', 'subgroup matrix type');
  // The window bounds over a subgroup's rows, then over the subgroups (thread 0): atomics over every row instead.
  sub(/vlo = subgroupMax\(vlo\); vhi = subgroupMin\(vhi\);\n\s*if \(lane == 0u\) \{ wlo\[sg\] = vlo; whi\[sg\] = vhi; \} \}/,
    'atomicMax(&emuLo, vlo); atomicMin(&emuHi, vhi); }', 'window reduction');
  sub(/if \(t == 0u\) \{ var a = wlo\[0\];[^\n]*ulo = a; uhi = z; \}/, 'if (t == 0u) { ulo = atomicLoad(&emuLo); uhi = atomicLoad(&emuHi); }', 'window combine');
  // emuLo starts at 0 (every valid row's lo is >= 0); emuHi must start high: set before the prologue's barriers.
  sub(/(let sg = t \/ 32u; let lane = t % 32u;)/, '$1\n  if (t == 0u) { atomicStore(&emuHi, 2147483647); emuN = 16u; }\n  workgroupBarrier();', 'subgroup index');
  const helpers = [
    'alias SM = array<f32, 256>;',
    'var<workgroup> emuLo: atomic<i32>;',
    'var<workgroup> emuHi: atomic<i32>;',
    // The loops' bound from memory, so that the compiler cannot unroll them (unrolled, every one of the kernel's
    // matrix operations became 4096 inlined FMAs and lavapipe's compile did not finish in 16 minutes).
    'var<workgroup> emuN: u32;',
    SM_MMA_WGSL,
    ...[...arrays].map((a) => `fn smLoad_${a}(col: bool, off: u32, stride: u32) -> SM { var m: SM; let n = emuN; for (var i = 0u; i < n; i++) { for (var j = 0u; j < n; j++) { m[i * 16u + j] = f32(${a}[select(off + i * stride + j, off + j * stride + i, col)]); } } return m; }`),
    ...[...stores].map((a) => `fn smStore_${a}(t: u32, off: u32, m: SM, stride: u32) { for (var e = t % 32u; e < emuN * emuN; e += 32u) { ${a}[off + (e / 16u) * stride + e % 16u] = m[e]; } }`),
  ].join('\n');
  // After the module-scope declarations (the helpers name the workgroup arrays): before the entry point.
  sub(/\n@compute /, `\n${helpers}\n@compute `, 'entry point');
  return s;
}
