import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TensorStateError, ValidationError, caseLabel, crossCheck, generateCase, makeProblem, tensorSizes, type CaseSpec,
} from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createWebGPUBackend } from '../src/index.js';
import { WebGPUTensor } from '../src/device-tensor.js';
import { withF32AccumulatingNaive } from '../scripts/f32-naive.js';
import { savedStatsCheck } from '../scripts/saved-stats-check.js';

// f32 cases: the baseline is a naive f32 computation that accumulates in f32 (see scripts/f32-naive.ts).
const oracle = withF32AccumulatingNaive(referenceOracle);

// Runs for real on whatever adapter exists (lavapipe in CI); skips, saying why, only when there is none.
const backend = createWebGPUBackend();
const avail = await backend.probe();
if (!avail.available) console.warn(`webgpu tests skipped: ${avail.reason}`);
else console.log(`webgpu tests on: ${avail.device}`);
const gpu = describe.skipIf(!avail.available);
const T = 600_000; // first use of a kernel shape compiles it (slow on lavapipe; cached by Mesa afterwards)

afterAll(async () => {
  await backend.dispose();
});

async function expectPass(spec: CaseSpec, b = backend) {
  const c = generateCase(spec);
  const [r] = await crossCheck(c, [b], oracle);
  expect(r!.status, `${caseLabel(spec)} seed ${c.seed}: ${r!.reason ?? ''}`).toBe('pass');
}

gpu('webgpu conformance against the float64 oracle', () => {
  const cases: CaseSpec[] = [
    { batch: 2, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 1, headDim: 64, dtype: 'f32', backward: true },
    { batch: 1, seqlenQ: 70, seqlenK: 45, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'f32', causal: true, backward: true },
    { batch: 2, seqlenQ: 40, seqlenK: 40, nheadsQ: 4, nheadsKV: 1, headDim: 64, dtype: 'f16', causal: true, backward: true },
    { batch: 3, seqlenQ: 33, seqlenK: 40, nheadsQ: 4, nheadsKV: 2, headDim: 40, headDimV: 24, dtype: 'bf16', window: [8, 3], softcap: 20, varlen: true, backward: true },
    // fully-masked rows: causal with seqlenQ > seqlenK leaves the first rows without keys (zeros, LSE -inf)
    { batch: 1, seqlenQ: 20, seqlenK: 10, nheadsQ: 1, nheadsKV: 1, headDim: 256, dtype: 'f32', causal: true, backward: true },
    { batch: 2, seqlenQ: 1, seqlenK: 90, nheadsQ: 3, nheadsKV: 3, headDim: 64, dtype: 'f32', window: [5, 0] },
  ];
  for (const spec of cases) it(caseLabel(spec), () => expectPass(spec), T);
});

gpu('webgpu splits work across storage-binding limits', () => {
  // An 8 KiB binding cap forces several dispatch chunks (odd row offsets for 16-bit data included).
  const small = createWebGPUBackend({ maxBindingBytes: 8192 });
  beforeAll(async () => { await small.probe(); });
  afterAll(async () => { await small.dispose(); });
  it('varlen bf16 over many chunks, forward and backward', () =>
    expectPass({ batch: 5, seqlenQ: 13, seqlenK: 11, nheadsQ: 2, nheadsKV: 1, headDim: 40, headDimV: 24, dtype: 'bf16', window: [8, 3], softcap: 20, varlen: true, backward: true }, small), T);
  it('rejects, with a reason, a tensor larger than the adapter allows', () => {
    const p = makeProblem({ batch: 1, seqlenQ: 1 << 22, seqlenK: 16, nheadsQ: 64, headDim: 256 });
    expect(backend.check(p).join('; ')).toMatch(/maxBufferSize|maxStorageBufferBindingSize/);
  });
  it('rejects, with a reason, a sequence that no binding can hold', () => {
    const p = makeProblem({ batch: 1, seqlenQ: 64, seqlenK: 64, nheadsQ: 4, headDim: 64 });
    const reasons = small.check(p);
    expect(reasons.join('; ')).toMatch(/maxStorageBufferBindingSize/);
  });
});

gpu('webgpu device tensors and errors', () => {
  const p = makeProblem({ batch: 1, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 1, headDim: 64, returnLse: true });
  const c = generateCase({ batch: 1, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 1, headDim: 64, dtype: 'f32', seed: 7 });

  it('forwardDevice keeps results on the device and matches the host path', async () => {
    const ops = backend.device!;
    const [q, k, v] = [await ops.upload(c.q, 'f32'), await ops.upload(c.k, 'f32'), await ops.upload(c.v, 'f32')];
    const r1 = await ops.forwardDevice(p, q, k, v);
    const r2 = await ops.forwardDevice(p, q, k, v);
    const a = (await ops.download(r1.out)) as Float32Array;
    const b = (await ops.download(r2.out)) as Float32Array;
    const host = await backend.forward(p, c);
    expect(a.length).toBe(tensorSizes(p).out);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).toEqual(Array.from(host.out as Float32Array));
    for (const t of [q, k, v, r1.out, r2.out, r1.lse!, r2.lse!]) t.dispose();
    expect(q.disposed).toBe(true);
    await expect(ops.download(q)).rejects.toBeInstanceOf(TensorStateError);
    await expect(ops.forwardDevice(p, q, k, v)).rejects.toBeInstanceOf(TensorStateError);
  }, T);

  it('a disposed output buffer is reused by the next call and fully rewritten', async () => {
    const ops = backend.device!;
    const [q, k, v] = [await ops.upload(c.q, 'f32'), await ops.upload(c.k, 'f32'), await ops.upload(c.v, 'f32')];
    const r1 = await ops.forwardDevice(p, q, k, v);
    const a = (await ops.download(r1.out)) as Float32Array;
    const buf = (r1.out as WebGPUTensor).buffer;
    r1.out.dispose();
    r1.lse!.dispose();
    const r2 = await ops.forwardDevice(p, q, k, v);
    expect((r2.out as WebGPUTensor).buffer).toBe(buf);
    expect(Array.from((await ops.download(r2.out)) as Float32Array)).toEqual(Array.from(a));
    for (const t of [q, k, v, r2.out, r2.lse!]) t.dispose();
  }, T);

  it('an f32 backward on the forward\'s own LSE tensor skips the stats pass, with the same gradients bit for bit', async () => {
    const spec: CaseSpec = { batch: 2, seqlenQ: 45, seqlenK: 61, nheadsQ: 4, nheadsKV: 2, headDim: 64, dtype: 'f32', causal: true, softcap: 15, backward: true, seed: 11 };
    const r = await savedStatsCheck(backend, spec);
    expect(r.saved).toEqual(['rowstats', 'dkv', 'dq']);
    expect(r.recompute).toEqual(['rowstats', 'stats', 'dkv', 'dq']);
    for (const g of [r.dq, r.dk, r.dv]) expect(g).toMatchObject({ differing: 0, nonFinite: 0 });
  }, T);

  it('saved statistics serve only their own problem and go with their LSE tensor', async () => {
    const ops = backend.device!;
    const e = await backend.engine();
    // dout: any tensor of out's shape (d = dv here); this test is about which kernels run.
    const [q, k, v, dout] = [await ops.upload(c.q, 'f32'), await ops.upload(c.k, 'f32'), await ops.upload(c.v, 'f32'), await ops.upload(c.q, 'f32')];
    const r = await ops.forwardDevice(p, q, k, v);
    expect((r.lse as WebGPUTensor).rowStats).toBeDefined();
    // Another scale: these statistics are not that problem's, so the stats pass runs.
    const g = await ops.backwardDevice(makeProblem({ batch: 1, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 1, headDim: 64, scale: 0.1, returnLse: true }), { q, k, v, out: r.out, dout, lse: r.lse! });
    expect(e.lastKernels).toContain('stats');
    r.lse!.dispose();
    expect((r.lse as WebGPUTensor).rowStats).toBeUndefined();
    for (const t of [q, k, v, dout, r.out, g.dq, g.dk, g.dv]) t.dispose();
  }, T);

  it('bad inputs are typed errors naming the field', async () => {
    await expect(backend.forward(p, { q: c.q.subarray(1) as Float32Array, k: c.k, v: c.v })).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.forward(p, { q: new Uint16Array(c.q.length), k: c.k, v: c.v })).rejects.toThrow(/q: expected a Float32Array/);
    const ops = backend.device!;
    const k16 = await ops.upload(new Uint16Array(c.k.length), 'f16');
    const [q, v] = [await ops.upload(c.q, 'f32'), await ops.upload(c.v, 'f32')];
    await expect(ops.forwardDevice(p, q, k16, v)).rejects.toBeInstanceOf(ValidationError);
    for (const t of [k16, q, v]) t.dispose();
  }, T);
});
