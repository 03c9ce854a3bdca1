import { describe, expect, test } from 'vitest';
import { makeProblem, toFloat64, type CaseSpec, type ProblemSpec } from '@flashattn/core';
import { createReferenceBackend, oracleBackward, oracleForward } from '../src/index.js';
import { gen, maxAbs, maxAbsOf } from './helpers.js';

// f32 inputs: the tiled backend must agree with the float64 oracle to float32 accuracy, for every feature.
const CASES: [string, Partial<CaseSpec>][] = [
  ['plain', {}],
  ['causal, seqlenQ < seqlenK', { causal: true }],
  ['causal, seqlenQ > seqlenK', { causal: true, seqlenQ: 70, seqlenK: 45 }],
  ['sliding window', { window: [7, 3] }],
  ['window, left only', { window: [10, -1], seqlenQ: 90, seqlenK: 90 }],
  ['softcap', { softcap: 2.5, scale: 0.9 }],
  ['GQA 6/2', { nheadsQ: 6, nheadsKV: 2 }],
  ['MQA 4/1, causal', { nheadsQ: 4, nheadsKV: 1, causal: true }],
  ['varlen', { varlen: true, batch: 4, seed: 99 }],
  ['headDimV != headDim', { headDim: 40, headDimV: 24 }],
  ['odd headDim 59, custom scale', { headDim: 59, scale: 0.05 }],
  ['everything', { causal: true, window: [20, 0], softcap: 4, nheadsQ: 4, nheadsKV: 2, headDim: 33, headDimV: 17, varlen: true, batch: 3, seqlenQ: 150, seqlenK: 140 }],
  ['multi-tile (> 64 rows and keys)', { seqlenQ: 200, seqlenK: 260, causal: true, batch: 2 }],
];

describe('tiled backend vs float64 oracle (f32)', () => {
  const backend = createReferenceBackend({ workers: 0 });
  for (const [name, spec] of CASES) {
    test(name, async () => {
      const c = gen(spec);
      const p = c.problem;
      const q = toFloat64(p.dtype, c.q), k = toFloat64(p.dtype, c.k), v = toFloat64(p.dtype, c.v);
      const dout = toFloat64(p.dtype, c.dout!);
      const ref = oracleForward(p, q, k, v);
      const f = await backend.forward(p, { q: c.q, k: c.k, v: c.v });
      // float32 outputs of O(1) values: within a few float32 ulps of the float64 answer
      expect(maxAbs(f.out as Float32Array, ref.out)).toBeLessThan(2e-6 * Math.max(1, maxAbsOf(ref.out)));
      const lse = f.lse!;
      for (let i = 0; i < lse.length; i++) {
        if (ref.lse[i] === -Infinity) expect(lse[i]).toBe(-Infinity);
        else expect(Math.abs(lse[i]! - ref.lse[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.lse[i]!)));
      }
      const g = await backend.backward(p, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout!, lse });
      const rg = oracleBackward(p, q, k, v, dout);
      for (const n of ['dq', 'dk', 'dv'] as const) {
        const scale = Math.max(1, maxAbsOf(rg[n]));
        expect(maxAbs(g[n] as Float32Array, rg[n]), n).toBeLessThan(5e-6 * scale);
      }
    });
  }

  test('a zero-length sequence in a varlen batch (Q and K), and one with keys but no queries', async () => {
    const spec: ProblemSpec = {
      batch: 4, seqlenQ: 30, seqlenK: 40, nheadsQ: 2, nheadsKV: 1, headDim: 8, headDimV: 12, dtype: 'f32', returnLse: true,
      cuSeqlensQ: [0, 30, 30, 30, 47], cuSeqlensK: [0, 40, 40, 55, 95], causal: true,
    };
    const p = makeProblem(spec);
    const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + 1) * 1.7);
    const q = rnd(p.totalQ * 2 * 8), k = rnd(p.totalK * 8), v = rnd(p.totalK * 12), dout = rnd(p.totalQ * 2 * 12);
    const f = await backend.forward(p, { q, k, v });
    const ref = oracleForward(p, Float64Array.from(q), Float64Array.from(k), Float64Array.from(v));
    expect(maxAbs(f.out as Float32Array, ref.out)).toBeLessThan(1e-5);
    const g = await backend.backward(p, { q, k, v, out: f.out, dout, lse: f.lse! });
    const rg = oracleBackward(p, Float64Array.from(q), Float64Array.from(k), Float64Array.from(v), Float64Array.from(dout));
    for (const n of ['dq', 'dk', 'dv'] as const) expect(maxAbs(g[n] as Float32Array, rg[n]), n).toBeLessThan(1e-4);
    // keys of sequence 2 (rows 40..55) are seen by no query: exactly zero gradients, not NaN (unwritten)
    for (let r = 40; r < 55; r++) for (let d = 0; d < 8; d++) expect(g.dk[r * 8 + d]).toBe(0);
    expect(g.dk.some((x) => x !== 0)).toBe(true);
  });
});
