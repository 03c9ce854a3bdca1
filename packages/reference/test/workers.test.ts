import { afterAll, describe, expect, test } from 'vitest';
import { ValidationError, crossCheck } from '@flashattn/core';
import { createReferenceBackend, referenceOracle } from '../src/index.js';
import { gen } from './helpers.js';

describe('worker pool', () => {
  const pooled = createReferenceBackend({ workers: 2 });
  const inline = createReferenceBackend({ workers: 0 });
  afterAll(() => pooled.dispose());

  test('large problems run on the workers and give bit-identical results to the inline path', async () => {
    // GQA + varlen + causal: forward splits rows, backward splits (sequence, kv head) units
    const c = gen({ batch: 3, varlen: true, seqlenQ: 300, seqlenK: 280, nheadsQ: 4, nheadsKV: 2, headDim: 64, causal: true, softcap: 8, dtype: 'bf16' });
    const p = c.problem;
    const a = await pooled.forward(p, { q: c.q, k: c.k, v: c.v });
    const b = await inline.forward(p, { q: c.q, k: c.k, v: c.v });
    expect(pooled.stats().workerRuns).toBe(1);
    expect(pooled.stats().workersStarted).toBe(2);
    expect(inline.stats().workerRuns).toBe(0);
    expect(a.out).toEqual(b.out);
    expect(a.lse).toEqual(b.lse);
    expect(a.out).not.toBe(c.q);
    const ga = await pooled.backward(p, { q: c.q, k: c.k, v: c.v, out: a.out, dout: c.dout!, lse: a.lse! });
    const gb = await inline.backward(p, { q: c.q, k: c.k, v: c.v, out: b.out, dout: c.dout!, lse: b.lse! });
    expect(pooled.stats().workerRuns).toBe(2);
    expect(ga.dq).toEqual(gb.dq);
    expect(ga.dk).toEqual(gb.dk);
    expect(ga.dv).toEqual(gb.dv);
    // outputs are plain memory, not the pool's shared buffers
    expect(ga.dq.buffer).toBeInstanceOf(ArrayBuffer);
    expect(a.lse!.buffer).toBeInstanceOf(ArrayBuffer);
  }, 60_000);

  test('cross-check passes on the pooled path too (f32)', async () => {
    const c = gen({ seqlenQ: 256, seqlenK: 512, nheadsQ: 4, nheadsKV: 2, headDim: 64, window: [100, 20], seed: undefined });
    const before = pooled.stats().workerRuns;
    const [r] = await crossCheck(c, [pooled], referenceOracle);
    expect(r!.status, r!.reason).toBe('pass');
    expect(pooled.stats().workerRuns).toBe(before + 2);
  }, 60_000);

  test('MQA with one sequence: the group is split over the workers and partial dK, dV are summed', async () => {
    const c = gen({ batch: 1, seqlenQ: 256, seqlenK: 300, nheadsQ: 4, nheadsKV: 1, headDim: 64, causal: true, seed: undefined });
    const before = pooled.stats().workerRuns;
    const [r] = await crossCheck(c, [pooled], referenceOracle);
    expect(r!.status, r!.reason).toBe('pass');
    expect(pooled.stats().workerRuns).toBe(before + 2); // forward and backward both on the pool
    const p = c.problem;
    const f = await inline.forward(p, { q: c.q, k: c.k, v: c.v });
    const x = { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout!, lse: f.lse! };
    const [ga, gb] = [await pooled.backward(p, x), await inline.backward(p, x)];
    expect(ga.dq).toEqual(gb.dq); // dq is not split
    for (const n of ['dk', 'dv'] as const) {
      const a = ga[n] as Float32Array, b = gb[n] as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
      expect(worst, n).toBeLessThan(1e-6); // the same sums, added in another order
    }
  }, 60_000);

  test('small problems stay inline', async () => {
    const c = gen({ seqlenQ: 16, seqlenK: 16 });
    const before = pooled.stats();
    await pooled.forward(c.problem, { q: c.q, k: c.k, v: c.v });
    expect(pooled.stats().inlineRuns).toBe(before.inlineRuns + 1);
    expect(pooled.stats().workerRuns).toBe(before.workerRuns);
  });

  test('dispose terminates the workers; a later call starts fresh ones', async () => {
    const b = createReferenceBackend({ workers: 2 });
    const c = gen({ seqlenQ: 400, seqlenK: 400, headDim: 64, nheadsQ: 2, nheadsKV: 2, backward: false });
    const first = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
    await b.dispose();
    const again = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
    expect(again.out).toEqual(first.out);
    expect(b.stats().workersStarted).toBe(4);
    await b.dispose();
  }, 60_000);

  test('bad options are typed errors', () => {
    expect(() => createReferenceBackend({ workers: -1 })).toThrow(ValidationError);
    expect(() => createReferenceBackend({ workers: 1.5 })).toThrow(/workers: expected a non-negative integer, got 1.5/);
  });
});
