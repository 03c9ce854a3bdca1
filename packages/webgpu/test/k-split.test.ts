import { afterAll, describe, expect, it } from 'vitest';
import { bitsOf, fromBits, halfToNumber, normals, openDevice } from './split-test-gpu.js';
import { encodeParams, PARAM_BYTES } from '../src/wgsl-common.js';
import { kSplitWGSL } from '../src/wgsl-forward-tc.js';

/**
 * kSplitWGSL (the K hi/lo split of the tensor-core forward) run for real on this adapter (lavapipe in CI) and checked
 * element by element against a JavaScript re-implementation: per (row, KV head) the scale 2^(14 - ceil(log2 max|x|)),
 * hi = the scaled value rounded to f16's 10 mantissa bits (half an ulp added to the bits, the low 13 cleared: exact in
 * f16; session 11, before which they were only cleared), lo = the rest rounded to f16, and
 * 1/scale. The kernel reduces a row's max over 8 lanes with subgroup shuffles, so it needs subgroups of at least 8
 * (the engine only picks the tensor-core path then: subgroupMinSize >= 8).
 */

const opened = await openDevice();
const g = 'reason' in opened ? undefined : opened;
const skipWhy = !g ? (opened as { reason: string }).reason
  : g.sgMin < 8 ? `subgroups of ${g.sgMin} on ${g.desc}: the kernel reduces a row over 8 lanes (the engine runs it only where subgroupMinSize >= 8)` : undefined;
if (skipWhy) console.warn(`k-split GPU tests skipped: ${skipWhy}`);
else console.log(`k-split tests on: ${g!.desc} (subgroup size ${g!.sgMin}..${g!.sgMax})`);

afterAll(() => {
  g?.device.destroy();
});

// ---- numbers ----
/** f32 x rounded to f16's 10 mantissa bits, ties away from zero (the kernel's `(bits + 0x1000u) & 0xffffe000u`). */
const round13 = (x: number): number => fromBits((bitsOf(x) + 0x1000) & 0xffffe000);

/** Half an f16 ulp at |v| (2^-25 in the subnormal range). */
function halfUlpF16(v: number): number {
  const e = v === 0 ? -14 : Math.max(-14, Math.floor(Math.log2(Math.abs(v))));
  return 2 ** (e - 11);
}

/** The scale the kernel chooses for a row whose largest |x| is mx: 2^clamp(14 - e_b, -126, 127), 1 for 0. */
function scaleOf(mx: number): number {
  if (mx === 0) return 1;
  const b = bitsOf(mx);
  const eb = ((b >>> 23) & 255) - 127 + ((b & 0x7fffff) !== 0 ? 1 : 0);
  return 2 ** Math.min(127, Math.max(-126, 14 - eb));
}

const ROWS = 70; // not a multiple of 32: the third workgroup has 26 idle rows
const HKV = 2;
const PAD_ROWS = 32; // KP and KI are allocated this many rows longer (poisoned): an idle row's write would show there
const SPECIAL = { zero: 3, tiny: 10, huge: 20, single: 33, pow2: 41 } as const;

/** K [row][hkv][d] (f32) with the special rows. */
function makeK(d: number, seed: number): Float32Array<ArrayBuffer> {
  const K = normals(ROWS * HKV * d, seed);
  const row = (r: number, hk: number) => K.subarray((r * HKV + hk) * d, (r * HKV + hk + 1) * d);
  for (let hk = 0; hk < HKV; hk++) {
    row(SPECIAL.zero, hk).fill(0);
    for (const [r, f] of [[SPECIAL.tiny, 1e-6], [SPECIAL.huge, 3e4]] as const) {
      const x = row(r, hk);
      for (let i = 0; i < d; i++) x[i] = x[i]! * f;
    }
    // one non-zero element, held by a lane other than lane 0 (so the 8-lane max reduction has to carry it)
    const s = row(SPECIAL.single, hk);
    s.fill(0);
    s[hk === 0 ? d - 5 : d / 2 + 1] = hk === 0 ? -2.75 : 1.2345e-3;
    // largest |x| exactly a power of two (no rounding up of the exponent: the scaled max is 2^14 itself)
    const p = row(SPECIAL.pow2, hk);
    for (let i = 0; i < d; i++) p[i] = Math.fround(p[i]! / 8); // |x| < 4: these normals stay far below 32
    p[7 + hk * 40] = hk === 0 ? 4 : -4;
  }
  return K;
}

interface SplitOut { kp: Uint16Array; ki: Float32Array }

async function runSplit(dev: GPUDevice, d: number, K: Float32Array<ArrayBuffer>): Promise<SplitOut> {
  const kpBytes = (ROWS + PAD_ROWS) * HKV * 2 * d * 2, kiBytes = (ROWS + PAD_ROWS) * HKV * 4;
  dev.pushErrorScope('validation');
  const module = dev.createShaderModule({ code: kSplitWGSL({ dtype: 'f32', d }) });
  const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  expect(msgs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
  const pipeline = await dev.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const S = GPUBufferUsage.STORAGE, C = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const params = dev.createBuffer({ size: PARAM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const kb = dev.createBuffer({ size: K.byteLength, usage: S | C });
  const kp = dev.createBuffer({ size: kpBytes, usage: S | C });
  const ki = dev.createBuffer({ size: kiBytes, usage: S | C });
  dev.queue.writeBuffer(params, 0, encodeParams({ count: ROWS, hkv: HKV, kShift: 0 }));
  dev.queue.writeBuffer(kb, 0, K);
  dev.queue.writeBuffer(kp, 0, new Uint16Array(kpBytes / 2).fill(0xffff)); // f16 NaN
  dev.queue.writeBuffer(ki, 0, new Float32Array(kiBytes / 4).fill(NaN));
  const bind = dev.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: params } }, { binding: 4, resource: { buffer: kb } },
      { binding: 8, resource: { buffer: kp } }, { binding: 9, resource: { buffer: ki } },
    ],
  });
  const rkp = dev.createBuffer({ size: kpBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const rki = dev.createBuffer({ size: kiBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(Math.ceil(ROWS / 32), HKV, 1);
  pass.end();
  enc.copyBufferToBuffer(kp, 0, rkp, 0, kpBytes);
  enc.copyBufferToBuffer(ki, 0, rki, 0, kiBytes);
  dev.queue.submit([enc.finish()]);
  const err = await dev.popErrorScope();
  expect(err?.message ?? null).toBeNull();
  await Promise.all([rkp.mapAsync(GPUMapMode.READ), rki.mapAsync(GPUMapMode.READ)]);
  const out = { kp: new Uint16Array(rkp.getMappedRange().slice(0)), ki: new Float32Array(rki.getMappedRange().slice(0)) };
  for (const b of [params, kb, kp, ki, rkp, rki]) b.destroy();
  return out;
}

/** Every check on one (d, K); returns the problems found (empty: all good), at most a few per kind. */
function checkSplit(d: number, K: Float32Array, { kp, ki }: SplitOut): string[] {
  const bad: string[] = [];
  const counts = new Map<string, number>();
  const fail = (kind: string, msg: string) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (n <= 4) bad.push(`${kind}: ${msg}`);
  };
  const D4 = d / 4;
  for (let r = 0; r < ROWS; r++) {
    for (let hk = 0; hk < HKV; hk++) {
      const at = `row ${r} head ${hk}`;
      const x = K.subarray((r * HKV + hk) * d, (r * HKV + hk + 1) * d);
      let mx = 0;
      for (let i = 0; i < d; i++) mx = Math.max(mx, Math.abs(x[i]!));
      const sc = scaleOf(mx);
      const kiGot = ki[r * HKV + hk]!;
      // (a) KI is 1/scale, exactly (a power of two); (e) 1 for the zero row
      if (!Object.is(kiGot, 1 / sc)) fail('(a) KI', `${at}: expected 1/sc = ${1 / sc} (max|x| ${mx}), got ${kiGot}`);
      if (mx === 0 && kiGot !== 1) fail('(e) zero-row KI', `${at}: expected 1, got ${kiGot}`);
      const base = (r * HKV + hk) * 2 * D4 * 4; // halves: plane 0 at base, plane 1 at base + d
      let ymax = 0, ymaxGpuScale = 0;
      for (let i = 0; i < d; i++) ymax = Math.max(ymax, Math.abs(Math.fround(x[i]! * sc)));
      for (let i = 0; i < d; i++) {
        const xi = x[i]!;
        const yExact = xi * sc; // a power of two times an f32: exact in a double
        const y = Math.fround(yExact);
        ymaxGpuScale = Math.max(ymaxGpuScale, Math.abs(xi / kiGot));
        const hBits = kp[base + i]!, lBits = kp[base + d + i]!;
        const hi = halfToNumber(hBits), lo = halfToNumber(lBits);
        const hiWant = round13(y);
        const el = `${at} elem ${i} (x ${xi}, y ${y})`;
        // (b) hi is y rounded to 10 mantissa bits, exactly (an f16 when |hi| >= 2^-14, as in all these rows)
        if (hiWant !== 0 && Math.abs(hiWant) < 2 ** -14) fail('test data', `${el}: hi below f16's normal range, (b) would not hold exactly`);
        if (!(hi === hiWant)) fail('(b) hi', `${el}: expected ${hiWant}, got ${hi} (bits 0x${hBits.toString(16)})`);
        // (c) lo is y - hi (exact in f32) rounded to f16: within half an f16 ulp (2^-25 among subnormals)
        const loWant = Math.fround(y - hiWant);
        if (!(Math.abs(lo - loWant) <= halfUlpF16(loWant))) fail('(c) lo', `${el}: expected ~${loWant}, got ${lo} (bits 0x${lBits.toString(16)}), off by ${Math.abs(lo - loWant)}`);
        // (c') rounded, not cut: lo within half an f16 ulp of hi
        if (!(Math.abs(y - hi) <= halfUlpF16(hi))) fail("(c') |y - hi|", `${el}: ${Math.abs(y - hi)} above half an ulp of hi ${hi}`);
        // (d) hi + lo reconstructs y to 22 bits and a half
        if (!(Math.abs(hi + lo - yExact) <= 2 ** -22 * ymax + 2 ** -25)) fail('(d) hi + lo', `${el}: hi + lo = ${hi + lo}, off by ${Math.abs(hi + lo - yExact)}`);
        // (e) the zero row: all zeros
        if (mx === 0 && (hi !== 0 || lo !== 0)) fail('(e) zero row', `${el}: hi ${hi}, lo ${lo}`);
      }
      // (f) the scaled row's largest |y| lies in (2^13, 2^14], both with the JS scale and the one the kernel reports
      if (mx > 0) {
        for (const [which, v] of [['JS scale', ymax], ['kernel scale', ymaxGpuScale]] as const) {
          if (!(v > 2 ** 13 && v <= 2 ** 14)) fail('(f) max|y|', `${at}: ${which} max|y| ${v} not in (2^13, 2^14]`);
        }
      }
    }
  }
  // Idle rows (row >= count) wrote nothing: the padding past the ROWS rows is still poison.
  const kpEnd = ROWS * HKV * 2 * d;
  for (let i = kpEnd; i < kp.length; i++) if (kp[i] !== 0xffff) { fail('idle rows KP', `half ${i} (row ${Math.floor(i / (HKV * 2 * d))}) was written: 0x${kp[i]!.toString(16)}`); }
  for (let i = ROWS * HKV; i < ki.length; i++) if (!Number.isNaN(ki[i]!)) fail('idle rows KI', `KI[${i}] was written: ${ki[i]}`);
  for (const [k, n] of counts) if (n > 4) bad.push(`${k}: ... ${n} failures in all`);
  return bad;
}

describe.skipIf(skipWhy !== undefined)('kSplitWGSL on this adapter against a JS split', () => {
  for (const d of [128, 64]) {
    it(`d ${d}, ${ROWS} rows x ${HKV} KV heads (zero, 1e-6, 3e4, one-element and power-of-two rows)`, async () => {
      const dev = g!.device;
      const K = makeK(d, 0x5eed + d);
      const out = await runSplit(dev, d, K);
      const bad = checkSplit(d, K, out);
      expect(bad, bad.join('\n')).toEqual([]);
    }, 60_000);
  }
});

describe('the JS reference of the split', () => {
  it('scale, rounding and f16 decoding on hand-picked values', () => {
    expect(scaleOf(0)).toBe(1);
    expect(scaleOf(4)).toBe(2 ** 12); // a power of two: 4 * 2^12 = 2^14
    expect(scaleOf(4.5)).toBe(2 ** 11); // 4.5 * 2^11 = 9216 in (2^13, 2^14]
    expect(scaleOf(1e-6)).toBe(2 ** 33); // 1e-6 ~ 2^-19.93 -> e_b -19
    expect(scaleOf(3.4e38)).toBe(2 ** -114);
    expect(round13(1 + 2 ** -10 + 2 ** -12)).toBe(1 + 2 ** -10);
    expect(round13(1 + 2 ** -10 + 2 ** -11)).toBe(1 + 2 ** -9); // a tie: away from zero
    expect(round13(-(1 + 2 ** -10 + 2 ** -11 + 2 ** -20))).toBe(-(1 + 2 ** -9));
    expect(round13(2 ** 14 - 2 ** -9)).toBe(2 ** 14); // the carry into the exponent
    expect(halfToNumber(0x3c00)).toBe(1);
    expect(halfToNumber(0xc000)).toBe(-2);
    expect(halfToNumber(0x0001)).toBe(2 ** -24);
    expect(halfToNumber(0x7bff)).toBe(65504);
    expect(halfToNumber(0xffff)).toBeNaN();
  });
});
