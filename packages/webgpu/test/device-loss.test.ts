import { afterAll, describe, expect, it } from 'vitest';
import { DeviceError, generateCase, makeProblem } from '@flashattn/core';
import { createWebGPUBackend } from '../src/index.js';

/**
 * Device loss becomes a typed error, never a hang (the rule): a backend of its own whose device is destroyed
 * between calls and in the middle of one. A destroyed device is what a lost one looks like to the API (`lost`
 * resolves, 'destroyed'); a driver reset cannot be caused from here.
 */
const spec = { batch: 2, seqlenQ: 33, seqlenK: 47, nheadsQ: 2, nheadsKV: 1, headDim: 32, dtype: 'f32' as const, causal: true };
const probeBackend = createWebGPUBackend();
const avail = await probeBackend.probe();
afterAll(async () => {
  await probeBackend.dispose();
});
const T = 120_000;

/** `p` settled within `ms`, or a failure saying it hung. */
async function settles<T>(p: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`did not settle in ${ms} ms (a hang)`)), ms); });
  try {
    return { ok: true, value: await Promise.race([p, hang]) };
  } catch (error) {
    if ((error as Error)?.message?.includes('(a hang)')) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!avail.available)('device loss', () => {
  it('between calls: forward, backward and device tensors fail with DeviceError device-lost; probe says why', async () => {
    const b = createWebGPUBackend();
    const c = generateCase({ ...spec, backward: true });
    const p = makeProblem({ ...spec, returnLse: true });
    const r = await b.forward(p, { q: c.q, k: c.k, v: c.v });
    const t = await b.device!.upload(c.q, 'f32');
    const engine = await b.engine();
    engine.ctx.device.destroy();
    await engine.ctx.device.lost;
    await expect(b.forward(p, { q: c.q, k: c.k, v: c.v })).rejects.toSatisfy((e: unknown) => e instanceof DeviceError && e.code === 'device-lost');
    await expect(b.backward(p, { q: c.q, k: c.k, v: c.v, out: r.out, dout: c.dout!, lse: r.lse! })).rejects.toBeInstanceOf(DeviceError);
    await expect(b.device!.download(t)).rejects.toBeInstanceOf(DeviceError);
    await expect(b.device!.upload(c.k, 'f32')).rejects.toBeInstanceOf(DeviceError);
    const a = await b.probe();
    expect(a.available).toBe(false);
    expect(a.available ? '' : a.reason).toMatch(/device was lost/);
    t.dispose();
    await b.dispose();
  }, T);

  it('during a call: the call settles (rejects with DeviceError, or finished first), and the next one fails typed', async () => {
    const b = createWebGPUBackend();
    const c = generateCase({ ...spec, seqlenQ: 300, seqlenK: 400 });
    const p = makeProblem({ ...spec, seqlenQ: 300, seqlenK: 400 });
    await b.forward(p, { q: c.q, k: c.k, v: c.v }); // compiled, so that the next call reaches the GPU at once
    const engine = await b.engine();
    const call = b.forward(p, { q: c.q, k: c.k, v: c.v });
    await new Promise((res) => setTimeout(res, 0));
    engine.ctx.device.destroy();
    const got = await settles(call, 60_000);
    if (!got.ok) expect(got.error).toBeInstanceOf(DeviceError);
    await expect(b.forward(p, { q: c.q, k: c.k, v: c.v })).rejects.toBeInstanceOf(DeviceError);
    await b.dispose();
  }, T);
});
