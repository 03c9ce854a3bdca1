/**
 * On-device self-test of the FFI binding (bundled by scripts/prepare-device.sh; run under node, bun and deno):
 * typed errors from the driver (out of memory, invalid value, invalid image), tensor state errors, no leaked
 * device memory over repeated calls, bit-identical backward across runs, event timing of a few shapes.
 * Prints one JSON line per check; exit 1 if any check failed.
 */
import {
  DeviceError, DeviceOutOfMemoryError, TensorStateError, generateCase, runtimeVersion, type CaseSpec,
} from '@flashattn/core';
import { createRocmBackend } from '../src/backend.js';
import { GpuDriver } from '../src/gpu/driver.js';
import { loadFfiSeam } from '../src/ffi/load-seam.js';
import { readEnv } from '../src/env.js';
import { liveDeviceMemory } from '../src/device-tensor.js';

let failed = 0;
function report(check: string, ok: boolean, detail: unknown): void {
  if (!ok) failed++;
  console.log(JSON.stringify({ runtime: runtimeVersion(), check, ok, detail }));
}

async function expectThrow(check: string, f: () => unknown, type: Function, code?: string): Promise<void> {
  try {
    await f();
    report(check, false, 'did not throw');
  } catch (e) {
    const ok = e instanceof type && (code === undefined || (e as DeviceError).code === code);
    report(check, ok, `${(e as Error).constructor.name}: ${(e as Error).message}`);
  }
}

const env = readEnv();
const backend = createRocmBackend();
const avail = await backend.probe();
report('probe', avail.available, avail);

if (avail.available) {
  const kind = env.FLASHATTN_ROCM_DRIVER === 'cuda' ? 'cuda' : 'hip';
  const drv = GpuDriver.open(kind, await loadFfiSeam(), env);
  await expectThrow('malloc 1 PiB -> DeviceOutOfMemoryError', () => drv.malloc(2 ** 50), DeviceOutOfMemoryError);
  await expectThrow('bad module image -> DeviceError', () => drv.loadModule(new Uint8Array([1, 2, 3, 4, 0])), DeviceError);
  await expectThrow('free of a bogus pointer -> DeviceError', () => drv.free(0x1234n), DeviceError);

  const d = backend.device;
  const t = await d.upload(new Float32Array([1, 2, 3]), 'f32');
  const back = (await d.download(t)) as Float32Array;
  report('upload/download round trip', back.join(',') === '1,2,3', Array.from(back));
  t.dispose();
  await expectThrow('download after dispose -> TensorStateError', () => d.download(t), TensorStateError);

  // Leak check: free device memory before and after repeated forward+backward calls.
  const spec: CaseSpec = { batch: 2, seqlenQ: 300, seqlenK: 333, nheadsQ: 4, nheadsKV: 2, headDim: 96, dtype: 'bf16', causal: true, backward: true, seed: 5 };
  const c = generateCase(spec);
  const p = c.problem;
  const f0 = await backend.forward(p, c);
  const g0 = await backend.backward(p, { ...c, out: f0.out, dout: c.dout!, lse: f0.lse! });
  // Counted by the backend's allocator: free device memory (cuMemGetInfo) is shared with concurrent processes.
  const before = liveDeviceMemory();
  let same = true;
  for (let i = 0; i < 10; i++) {
    const f = await backend.forward(p, c);
    const g = await backend.backward(p, { ...c, out: f.out, dout: c.dout!, lse: f.lse! });
    for (const k of ['dq', 'dk', 'dv'] as const) if (!g[k].every((x, j) => x === g0[k][j])) same = false;
  }
  const after = liveDeviceMemory();
  report('no leaked device memory over 10 forward+backward', after.bytes === before.bytes && after.tensors === 0, { before, after, freeBytes: drv.memInfo().free });
  report('backward bit-identical across runs', same, 'dq, dk, dv compared over 10 runs');

  // Event timing of a few shapes (kernel time only, from device events).
  const shapes: CaseSpec[] = [
    { batch: 4, seqlenQ: 1024, seqlenK: 1024, nheadsQ: 16, nheadsKV: 16, headDim: 64, dtype: 'f16', backward: true },
    { batch: 1, seqlenQ: 2048, seqlenK: 2048, nheadsQ: 8, nheadsKV: 8, headDim: 128, dtype: 'bf16', causal: true, backward: true },
  ];
  for (const s of shapes) {
    const cs = generateCase({ ...s, seed: 1 });
    const f = await backend.forward(cs.problem, cs);
    await backend.backward(cs.problem, { ...cs, out: f.out, dout: cs.dout!, lse: f.lse! });
    const tm = backend.timing();
    const flops = 4 * s.batch * s.nheadsQ * s.seqlenQ * s.seqlenK * s.headDim * (s.causal ? 0.5 : 1);
    report(`timing ${JSON.stringify(s)}`, true, { forwardMs: tm.forwardMs, backwardMs: tm.backwardMs, forwardTflops: flops / (tm.forwardMs! * 1e9), backwardTflops: (2.5 * flops) / (tm.backwardMs! * 1e9) });
  }
  await backend.dispose?.();
}
console.log(JSON.stringify({ runtime: runtimeVersion(), selftest: failed ? 'FAILED' : 'ok', failed }));
if (failed) (globalThis as any).process?.exit?.(1);
