import { describe, expect, test } from 'vitest';
import { toFloat64, type CaseSpec } from '@flashattn/core';
import { referenceOracle } from '../src/index.js';
import * as simple from './simple-oracle.js';
import { gen, maxAbs, maxAbsOf } from './helpers.js';

// The blocked oracle (src/oracle.ts) against the plain row-at-a-time one (test/simple-oracle.ts).
const CASES: [string, Partial<CaseSpec>][] = [
  ['plain f32', {}],
  ['causal sq > sk, GQA, f16', { causal: true, seqlenQ: 75, seqlenK: 40, nheadsQ: 4, nheadsKV: 2, dtype: 'f16' }],
  ['window, softcap, headDimV, bf16', { window: [9, 4], softcap: 3, headDim: 24, headDimV: 10, dtype: 'bf16' }],
  ['varlen MQA f32, scale', { varlen: true, batch: 4, nheadsQ: 3, nheadsKV: 1, scale: 0.4, seed: 17 }],
];

describe('blocked oracle == plain oracle', () => {
  for (const [name, spec] of CASES) {
    test(name, () => {
      const c = gen(spec);
      const p = c.problem;
      const q = toFloat64(p.dtype, c.q), k = toFloat64(p.dtype, c.k), v = toFloat64(p.dtype, c.v), dout = toFloat64(p.dtype, c.dout!);
      const a = referenceOracle.forward(p, q, k, v);
      const b = simple.oracleForward(p, q, k, v);
      expect(maxAbs(a.out, b.out)).toBeLessThan(1e-12);
      expect(Array.from(a.lse).map((x) => (x === -Infinity ? 'inf' : x.toFixed(10)))).toEqual(Array.from(b.lse).map((x) => (x === -Infinity ? 'inf' : x.toFixed(10))));
      const ga = referenceOracle.backward(p, q, k, v, dout);
      const gb = simple.oracleBackward(p, q, k, v, dout);
      for (const n of ['dq', 'dk', 'dv'] as const) expect(maxAbs(ga[n], gb[n]), n).toBeLessThan(1e-11 * Math.max(1, maxAbsOf(gb[n])));
      // naive: the same roundings; summation order may flip a rare rounding, far below the baseline error itself
      const na = referenceOracle.naiveForward(p, q, k, v);
      const nb = simple.naiveForward(p, q, k, v);
      expect(maxAbs(na, nb)).toBeLessThanOrEqual(0.25 * maxAbs(nb, b.out));
      const nga = referenceOracle.naiveBackward(p, q, k, v, dout);
      const ngb = simple.naiveBackward(p, q, k, v, dout);
      for (const n of ['dq', 'dk', 'dv'] as const) {
        const baseline = maxAbs(ngb[n], gb[n]);
        expect(baseline, `${n} baseline`).toBeGreaterThan(0);
        expect(maxAbs(nga[n], ngb[n]), n).toBeLessThanOrEqual(0.25 * baseline);
      }
    });
  }
});
