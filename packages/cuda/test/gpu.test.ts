// GPU-gated: skipped, with the probe's reason printed, where the cuda backend is unavailable.
// The full grid, OOM and latency runs are in scripts/device-verify.ts (bundled for the GPU machine).
import { describe, expect, it } from 'vitest';
import { caseLabel, crossCheck, DeviceOutOfMemoryError, generateCase, type CaseSpec, type Oracle } from '@flashattn/core';
import { createCudaBackend } from '../src/index.js';

const cuda = createCudaBackend();
const avail = await cuda.probe();
if (!avail.available) console.log(`cuda GPU tests skipped: ${avail.reason}`);

// The oracle comes from @flashattn/reference once it is built (not a dependency of this package: a specifier in a
// variable keeps typecheck independent of whether packages/reference/dist exists).
const referencePackage = '@flashattn/reference';
const oracle: Oracle | undefined = await import(/* @vite-ignore */ referencePackage)
  .then((m: { referenceOracle?: Oracle }) => m.referenceOracle)
  .catch(() => undefined);
if (avail.available && !oracle) console.log('cuda cross-checks skipped: @flashattn/reference is not built (packages/reference/dist)');

const cases: CaseSpec[] = [];
for (const headDim of [64, 128, 256])
  for (const dtype of ['f16', 'bf16', 'f32'] as const) {
    cases.push({ batch: 2, seqlenQ: 113, seqlenK: 203, nheadsQ: 4, nheadsKV: 2, headDim, dtype, causal: true, backward: true });
    cases.push({ batch: 3, seqlenQ: 90, seqlenK: 70, nheadsQ: 4, nheadsKV: 1, headDim, dtype, varlen: true, window: [16, 4], softcap: 10, backward: true });
  }

describe.skipIf(!avail.available)('cuda on the GPU', () => {
  describe.skipIf(!oracle)('cross-check against the float64 oracle', () => {
    for (const spec of cases) {
      it(caseLabel(spec), { timeout: 60_000 }, async () => {
        const c = generateCase(spec);
        const [r] = await crossCheck(c, [cuda], oracle!);
        expect(r!.status, `seed ${c.seed}: ${r!.reason}`).toBe('pass');
      });
    }
  });

  it('frees every device tensor (no leak) and refuses use after dispose', async () => {
    const c = generateCase({ batch: 1, seqlenQ: 64, seqlenK: 64, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'f16', backward: true });
    const d = cuda.device;
    const q = await d.upload(c.q, 'f16'), k = await d.upload(c.k, 'f16'), v = await d.upload(c.v, 'f16');
    const f = await d.forwardDevice(c.problem, q, k, v);
    const dout = await d.upload(c.dout!, 'f16');
    const g = await d.backwardDevice(c.problem, { q, k, v, out: f.out, dout, lse: f.lse! });
    expect([...(await d.download(q))]).toEqual([...c.q]);
    for (const t of [q, k, v, f.out, f.lse!, dout, g.dq, g.dk, g.dv]) t.dispose();
    expect(cuda.stats()).toMatchObject({ tensorBytes: 0, tensors: 0 });
    await expect(d.download(q)).rejects.toThrow(/disposed/);
  });

  it('turns out-of-memory into DeviceOutOfMemoryError and stays usable', async () => {
    expect(() => cuda.device.empty('f32', 50e9)).toThrow(DeviceOutOfMemoryError);
    const t = await cuda.device.upload(new Float32Array(1024).fill(1), 'f32');
    expect((await cuda.device.download(t))[1023]).toBe(1);
    t.dispose();
  });

  it('gives bit-identical gradients run to run in deterministic mode', async () => {
    const c = generateCase({ batch: 1, seqlenQ: 200, seqlenK: 200, nheadsQ: 4, nheadsKV: 1, headDim: 128, dtype: 'bf16', backward: true });
    const f = await cuda.forward(c.problem, c);
    const run = () => cuda.backward(c.problem, { ...c, out: f.out, dout: c.dout!, lse: f.lse! }, { deterministic: true });
    const [a, b] = [await run(), await run()];
    expect([...a.dq]).toEqual([...b.dq]);
    expect([...a.dk]).toEqual([...b.dk]);
    expect([...a.dv]).toEqual([...b.dv]);
  });
});
