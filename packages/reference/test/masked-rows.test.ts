import { describe, expect, test } from 'vitest';
import { keyRange, lseIndex, toFloat64 } from '@flashattn/core';
import { createReferenceBackend, naiveForward, oracleForward, referenceOracle } from '../src/index.js';
import { gen } from './helpers.js';

// flash-attn's convention: a query row that sees no key outputs zeros and LSE = -inf.
describe('fully-masked rows', () => {
  const backend = createReferenceBackend({ workers: 0 });
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    test(`causal with seqlenQ > seqlenK gives zeros and -inf (${dtype})`, async () => {
      const c = gen({ seqlenQ: 50, seqlenK: 20, causal: true, dtype, nheadsQ: 2, nheadsKV: 1 });
      const p = c.problem;
      const f = await backend.forward(p, { q: c.q, k: c.k, v: c.v });
      const out = toFloat64(p.dtype, f.out);
      const ref = oracleForward(p, toFloat64(dtype, c.q), toFloat64(dtype, c.k), toFloat64(dtype, c.v));
      const naive = naiveForward(p, toFloat64(dtype, c.q), toFloat64(dtype, c.k), toFloat64(dtype, c.v));
      let masked = 0;
      for (let h = 0; h < p.nheadsQ; h++) {
        for (let i = 0; i < p.seqlenQ; i++) {
          const [lo, hi] = keyRange(p, i, p.seqlenQ, p.seqlenK);
          const li = lseIndex(p, 0, h, i);
          const row = (i * p.nheadsQ + h) * p.headDimV;
          const seen = hi > lo;
          if (!seen) masked++;
          expect(f.lse![li] === -Infinity, `row ${i} head ${h}`).toBe(!seen);
          expect(ref.lse[li] === -Infinity).toBe(!seen);
          for (let d = 0; d < p.headDimV; d++) {
            if (!seen) {
              expect(out[row + d]).toBe(0);
              expect(ref.out[row + d]).toBe(0);
              expect(naive[row + d]).toBe(0);
            }
          }
          if (seen) expect(Number.isFinite(f.lse![li]!)).toBe(true);
        }
      }
      expect(masked).toBe(2 * 30); // rows 0..29 of each head see nothing (bottom-right alignment)
      // gradients: masked rows get dq = 0, nothing NaN
      const g = await backend.backward(p, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout!, lse: f.lse! });
      const dq = toFloat64(dtype, g.dq);
      expect(dq.every((x) => !Number.isNaN(x))).toBe(true);
      for (let i = 0; i < 30; i++) for (let d = 0; d < p.headDim; d++) expect(dq[(i * p.nheadsQ) * p.headDim + d]).toBe(0);
      const rg = referenceOracle.backward(p, toFloat64(dtype, c.q), toFloat64(dtype, c.k), toFloat64(dtype, c.v), toFloat64(dtype, c.dout!));
      expect(rg.dq.every((x) => !Number.isNaN(x))).toBe(true);
    });
  }

  test('an empty window (left = right = 0 shifted past every key) masks every row', async () => {
    // seqlenQ 10 > seqlenK 4, window [0, 0]: row i sees only key i - 6, so rows 0..5 see nothing, rows 6..9 one key
    const c = gen({ seqlenQ: 10, seqlenK: 4, window: [0, 0], nheadsQ: 1, nheadsKV: 1 });
    const f = await backend.forward(c.problem, { q: c.q, k: c.k, v: c.v });
    const lse = Array.from(f.lse!);
    expect(lse.slice(0, 6)).toEqual(Array(6).fill(-Infinity));
    expect(lse.slice(6).every(Number.isFinite)).toBe(true);
    // a row seeing exactly one key outputs that key's value row
    const out = f.out as Float32Array;
    const v = c.v as Float32Array;
    for (let i = 6; i < 10; i++) for (let d = 0; d < 16; d++) expect(out[i * 16 + d]).toBeCloseTo(v[(i - 6) * 16 + d]!, 6);
  });
});
