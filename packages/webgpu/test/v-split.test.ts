import { afterAll, describe, expect, it } from 'vitest';
import { bitsOf, halfToNumber, normals, openDevice } from './split-test-gpu.js';
import { encodeParams, PARAM_BYTES } from '../src/wgsl-common.js';
import { vSplitWGSL } from '../src/wgsl-v-split.js';

/**
 * vSplitWGSL (V's split for P·V on the tensor cores) run for real on this adapter (lavapipe in CI) and checked against
 * JavaScript: VM[block * hkv + hk] is the bits of the largest |v| of the block of 32 rows and KV head; every value
 * times its block's scale 2^clamp(14 - ceil(log2 max), -126, 126) equals the sum of its pieces (three: exactly where the scaled
 * value is at least 1, else within 2^-25, f16's subnormal half-step; two: within 2^-22 of it), the pieces sit where the
 * forward reads them ([row][hkv][piece][dv]), and rows past the count are left alone.
 */
const opened = await openDevice();
const g = 'reason' in opened ? undefined : opened;
const skipWhy = g ? undefined : (opened as { reason: string }).reason;
if (skipWhy) console.warn(`v-split GPU tests skipped: ${skipWhy}`);
afterAll(() => g?.device.destroy());

const ROWS = 45, HKV = 3, PAD = 8, BLOCKS = Math.ceil(ROWS / 32);

function scaleOf(mx: number): number {
  if (mx === 0) return 1;
  const b = bitsOf(mx);
  const eb = ((b >>> 23) & 255) - 127 + ((b & 0x7fffff) !== 0 ? 1 : 0);
  return 2 ** Math.min(126, Math.max(-126, 14 - eb));
}

async function run(dev: GPUDevice, dv: number, vp: 1 | 2 | 3, V: Float32Array<ArrayBuffer>) {
  const S = GPUBufferUsage.STORAGE, C = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const vpBytes = (ROWS + PAD) * HKV * vp * dv * 2;
  dev.pushErrorScope('validation');
  const mk = async (code: string) => {
    const module = dev.createShaderModule({ code });
    const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    expect(msgs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
    return dev.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  };
  const pSplit = await mk(vSplitWGSL({ dtype: 'f32', dv, vp }));
  const params = dev.createBuffer({ size: PARAM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const vb = dev.createBuffer({ size: V.byteLength, usage: S | C });
  const vmBytes = 4 * BLOCKS * HKV;
  const vm = dev.createBuffer({ size: vmBytes, usage: S | C });
  const out = dev.createBuffer({ size: vpBytes, usage: S | C });
  dev.queue.writeBuffer(params, 0, encodeParams({ count: ROWS, hkv: HKV, vShift: 0 }));
  dev.queue.writeBuffer(vb, 0, V);
  dev.queue.writeBuffer(vm, 0, new Uint32Array(BLOCKS * HKV).fill(0xdeadbeef));
  dev.queue.writeBuffer(out, 0, new Uint16Array(vpBytes / 2).fill(0xffff)); // f16 NaN: an unwritten piece shows
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pSplit);
  pass.setBindGroup(0, dev.createBindGroup({ layout: pSplit.getBindGroupLayout(0), entries: [
    { binding: 0, resource: { buffer: params } }, { binding: 5, resource: { buffer: vb } }, { binding: 10, resource: { buffer: vm } }, { binding: 11, resource: { buffer: out } },
  ] }));
  pass.dispatchWorkgroups(BLOCKS, HKV, 1);
  pass.end();
  const rvm = dev.createBuffer({ size: vmBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const rout = dev.createBuffer({ size: vpBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(vm, 0, rvm, 0, vmBytes);
  enc.copyBufferToBuffer(out, 0, rout, 0, vpBytes);
  dev.queue.submit([enc.finish()]);
  expect((await dev.popErrorScope())?.message ?? null).toBeNull();
  await Promise.all([rvm.mapAsync(GPUMapMode.READ), rout.mapAsync(GPUMapMode.READ)]);
  const res = { vm: new Uint32Array(rvm.getMappedRange().slice(0)), pieces: new Uint16Array(rout.getMappedRange().slice(0)) };
  for (const b of [params, vb, vm, out, rvm, rout]) b.destroy();
  return res;
}

describe.skipIf(skipWhy !== undefined)('vSplitWGSL on this adapter against JavaScript', () => {
  for (const [dv, vp] of [[128, 3], [64, 3], [32, 3], [128, 2], [64, 1]] as const) {
    it(`dv ${dv}, ${vp} pieces, ${ROWS} rows x ${HKV} KV heads (head 1 all zero, head 2 scaled by 1e-5, head 0's second block by 300)`, async () => {
      const V = normals(ROWS * HKV * dv, 1000 + dv + vp);
      for (let r = 0; r < ROWS; r++) for (let c = 0; c < dv; c++) {
        V[(r * HKV + 1) * dv + c] = 0;
        V[(r * HKV + 2) * dv + c] = Math.fround(V[(r * HKV + 2) * dv + c]! * 1e-5);
        if (r >= 32) V[r * HKV * dv + c] = Math.fround(V[r * HKV * dv + c]! * 300);
      }
      const { vm, pieces } = await run(g!.device, dv, vp, V);
      const bad: string[] = [];
      for (let hk = 0; hk < HKV; hk++) for (let bi = 0; bi * 32 < ROWS + PAD; bi++) {
        let mx = 0;
        for (let r = bi * 32; r < Math.min(ROWS, bi * 32 + 32); r++) for (let c = 0; c < dv; c++) mx = Math.max(mx, Math.abs(V[(r * HKV + hk) * dv + c]!));
        if (bi < BLOCKS && vm[bi * HKV + hk] !== bitsOf(mx)) bad.push(`VM[${bi * HKV + hk}] = ${vm[bi * HKV + hk]}, want the bits of ${mx}`);
        const sc = scaleOf(mx);
        for (let r = bi * 32; r < Math.min(ROWS + PAD, bi * 32 + 32); r++) for (let c = 0; c < dv; c++) {
          const at = ((r * HKV + hk) * vp) * dv + c;
          const got = Array.from({ length: vp }, (_, p) => pieces[at + p * dv]!);
          if (r >= ROWS) { if (got.some((h) => h !== 0xffff)) bad.push(`row ${r} (past the count) written`); continue; }
          const y = V[(r * HKV + hk) * dv + c]! * sc, sum = got.reduce((a, h) => a + halfToNumber(h), 0);
          // hi rounded: 3 pieces exact above 1, 2 pieces 23 bits, 1 piece (bf16 inputs) within half an f16 ulp
          const tol = vp === 3 ? (Math.abs(y) >= 1 ? 0 : 2 ** -25) : vp === 2 ? Math.abs(y) * 2 ** -23 + 2 ** -25 : Math.abs(y) * 2 ** -11 + 2 ** -25;
          if (!(Math.abs(sum - y) <= tol)) bad.push(`head ${hk} row ${r} col ${c}: pieces sum to ${sum}, want ${y} (tolerance ${tol})`);
        }
      }
      expect(bad.slice(0, 6)).toEqual([]);
    });
  }
});
