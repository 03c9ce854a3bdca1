import { afterAll, describe, expect, it } from 'vitest';
import { roundTo } from '@flashattn/core';
import { bitsOf, normals, openDevice } from './split-test-gpu.js';
import { SM_MMA_WGSL } from './tc-emulation.js';

/**
 * The emulated subgroup-matrix multiply-accumulate (tc-emulation.ts) on this adapter: one rounding per k-step, as
 * tensor cores sum a step's products with the accumulator, not 16 FMA roundings (which made the emulated forward's (tc-emulated-suite.ts)
 * error ratios larger than the hardware's). Two inputs: 16 products of 2^-25 onto 1, which one rounding takes to
 * 1 + 2^-21 and 16 FMAs leave at 1; and f16 normals with an f32 accumulator, against the float64 sum rounded once.
 */
const opened = await openDevice();
const g = 'reason' in opened ? undefined : opened;
if (!g) console.warn(`tc-emulation GPU test skipped: ${(opened as { reason: string }).reason}`);
afterAll(() => {
  g?.device.destroy();
});

const KERNEL = `alias SM = array<f32, 256>;
var<workgroup> emuN: u32;
${SM_MMA_WGSL}
@group(0) @binding(0) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> outp: array<f32>;
@compute @workgroup_size(1)
fn main() {
  emuN = 16u;
  var a: SM; var b: SM; var c: SM;
  for (var e = 0u; e < 256u; e++) { a[e] = inp[e]; b[e] = inp[256u + e]; c[e] = inp[512u + e]; }
  let r = smMMA(a, b, c);
  for (var e = 0u; e < 256u; e++) { outp[e] = r[e]; }
}`;

async function mma(dev: GPUDevice, a: Float32Array, b: Float32Array, c: Float32Array): Promise<Float32Array> {
  dev.pushErrorScope('validation');
  const inp = dev.createBuffer({ size: 768 * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const out = dev.createBuffer({ size: 256 * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const rb = dev.createBuffer({ size: 256 * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const all = new Float32Array(768);
  all.set(a, 0); all.set(b, 256); all.set(c, 512);
  dev.queue.writeBuffer(inp, 0, all);
  const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code: KERNEL }), entryPoint: 'main' } });
  const bg = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: inp } }, { binding: 1, resource: { buffer: out } }] });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipe); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(1); pass.end();
  enc.copyBufferToBuffer(out, 0, rb, 0, 256 * 4);
  dev.queue.submit([enc.finish()]);
  expect((await dev.popErrorScope())?.message ?? null).toBeNull();
  await rb.mapAsync(GPUMapMode.READ);
  const r = new Float32Array(rb.getMappedRange().slice(0));
  for (const x of [inp, out, rb]) x.destroy();
  return r;
}

describe.skipIf(!g)('the emulated subgroup-matrix multiply-accumulate', () => {
  it('rounds once per k-step: 1 + sixteen products of 2^-25 gives 1 + 2^-21', async () => {
    const a = new Float32Array(256).fill(2 ** -13), b = new Float32Array(256).fill(2 ** -12), c = new Float32Array(256).fill(1);
    const r = await mma(g!.device, a, b, c);
    expect([...new Set(r)]).toEqual([1 + 2 ** -21]);
  });

  it('f16 normals with an f32 accumulator: the float64 sum rounded once, element for element', async () => {
    const seed = ((Date.now() >>> 0) ^ 0x9e3779b9) >>> 0;
    const n = normals(768, seed);
    const a = n.subarray(0, 256).map((x) => roundTo('f16', x)), b = n.subarray(256, 512).map((x) => roundTo('f16', x));
    const c = n.subarray(512).map((x) => Math.fround(x * 8));
    const r = await mma(g!.device, a, b, c);
    const bad: string[] = [];
    for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) {
      // Nearly exact in float64: 16 products of f16 values (at most 22 significant bits each) and an f32.
      let s = c[i * 16 + j]!;
      for (let k = 0; k < 16; k++) s += a[i * 16 + k]! * b[k * 16 + j]!;
      const want = Math.fround(s), got = r[i * 16 + j]!;
      // Neumaier's sum is the exact sum rounded once except within a hair of a tie: an ulp either way is allowed
      // on at most one element of the 256; a 16-FMA chain misses on most.
      if (got !== want) bad.push(`(${i}, ${j}): got ${got} (0x${bitsOf(got).toString(16)}), want ${want} (0x${bitsOf(want).toString(16)}), ${Math.abs(bitsOf(got) - bitsOf(want))} ulp`);
    }
    expect(bad.length <= 1 && bad.every((x) => x.endsWith(' 1 ulp')), `seed ${seed}:\n${bad.slice(0, 8).join('\n')}`).toBe(true);
  });
});
