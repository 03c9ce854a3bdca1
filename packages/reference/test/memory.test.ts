import { expect, test } from 'vitest';
import { makeProblem } from '@flashattn/core';
import { totalmem } from 'node:os';
import { createReferenceBackend } from '../src/index.js';

// The tiled forward never holds a seqlenQ x seqlenK matrix: run it where one could not even be allocated.
test('O(seqlen) memory: forward at seqlen 2^18, where an N x N score matrix cannot exist', async () => {
  const N = 2 ** 18;
  const D = 8;
  // An N x N float32 score matrix is 256 GiB: more than this machine's memory, and over V8's typed-array limit.
  expect(N * N * 4).toBeGreaterThan(totalmem());
  expect(() => new Float32Array(N * N)).toThrow(RangeError);

  // causal + a small window keeps the compute O(N * window), so the test is quick on 2 cores
  const p = makeProblem({ batch: 1, seqlenQ: N, seqlenK: N, nheadsQ: 1, nheadsKV: 1, headDim: D, dtype: 'f32', causal: true, window: [31, 0], returnLse: true });
  const q = new Float32Array(N * D);
  const k = new Float32Array(N * D);
  const v = new Float32Array(N * D);
  for (let i = 0; i < N * D; i++) {
    q[i] = Math.sin(i * 0.37);
    k[i] = Math.cos(i * 0.11);
    v[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  }
  const backend = createReferenceBackend({ workers: 0 }); // inline: the heap measured is this thread's
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  const f = await backend.forward(p, { q, k, v });
  const after = process.memoryUsage();
  const inputsAndOutputs = (4 * N * D + N) * 4; // q, k, v, out, lse as float32
  const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  // extra memory beyond the outputs: a few tiles, far below N*N (and even below the inputs)
  expect(grown).toBeLessThan(inputsAndOutputs + 64 * 2 ** 20);
  expect(grown).toBeLessThan((N * N) / 1000);

  // the recomputing backward is O(seqlen) too: dq, dk, dv plus float64 accumulators of the same size
  const dout = v.map((x, i) => x * Math.cos(i));
  const b0 = process.memoryUsage();
  const g = await backend.backward(p, { q, k, v, out: f.out, dout, lse: f.lse! });
  const b1 = process.memoryUsage();
  const gradBytes = 3 * N * D * 4;
  expect(b1.heapUsed + b1.arrayBuffers - (b0.heapUsed + b0.arrayBuffers)).toBeLessThan(gradBytes + 2 * N * D * 8 + 64 * 2 ** 20);
  expect((g.dq as Float32Array).every(Number.isFinite)).toBe(true);

  // spot-check the answer: row i attends to keys max(0, i - 31) .. i
  const out = f.out as Float32Array;
  const lse = f.lse!;
  expect(lse.every(Number.isFinite)).toBe(true);
  for (const i of [0, 1, 40, N - 1]) {
    const lo = Math.max(0, i - 31);
    const s: number[] = [];
    for (let j = lo; j <= i; j++) {
      let x = 0;
      for (let d = 0; d < D; d++) x += q[i * D + d]! * k[j * D + d]!;
      s.push(x / Math.sqrt(D));
    }
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    expect(lse[i]).toBeCloseTo(m + Math.log(z), 4);
    for (let d = 0; d < D; d++) {
      let o = 0;
      for (let j = lo; j <= i; j++) o += (e[j - lo]! / z) * v[j * D + d]!;
      expect(out[i * D + d]).toBeCloseTo(o, 5);
    }
  }
}, 120_000);
