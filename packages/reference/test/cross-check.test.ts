import { describe, expect, test } from 'vitest';
import { crossCheck, fromFloat, toFloat64, type Backend, type CaseSpec } from '@flashattn/core';
import { createReferenceBackend, naiveForward, oracleForward, referenceOracle } from '../src/index.js';
import { gen, maxAbs } from './helpers.js';

const FEATURES: [string, Partial<CaseSpec>][] = [
  ['plain', { seqlenQ: 113, seqlenK: 203, headDim: 32 }],
  ['causal', { seqlenQ: 128, seqlenK: 217, headDim: 40, causal: true }],
  ['GQA + window', { seqlenQ: 108, seqlenK: 256, nheadsQ: 6, nheadsKV: 2, window: [30, 10] }],
  ['MQA + softcap', { nheadsQ: 3, nheadsKV: 1, softcap: 5, headDim: 59 }],
  ['varlen + headDimV', { varlen: true, batch: 3, seqlenQ: 90, seqlenK: 120, headDim: 48, headDimV: 24 }],
];

describe('crossCheck (flash-attn criterion) passes for the reference backend', () => {
  const backend = createReferenceBackend({ workers: 0 });
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    for (const [name, spec] of FEATURES) {
      test(`${dtype} ${name}`, async () => {
        const c = gen({ ...spec, dtype, seed: undefined }); // fresh inputs every run
        const [r] = await crossCheck(c, [backend], referenceOracle);
        expect(r!.status, `seed ${c.seed}: ${r!.reason}`).toBe('pass');
        expect(Object.keys(r!.errors!).sort()).toEqual(['dk', 'dq', 'dv', 'lse', 'out']);
      });
    }
  }
});

describe('the criterion can fail', () => {
  test('a backend off by a few ulps more than the naive baseline fails, and so does one leaving NaN', async () => {
    const good = createReferenceBackend({ workers: 0 });
    const c = gen({ dtype: 'f16', seed: 5, backward: false });
    const perturbed: Backend = {
      ...good,
      name: 'perturbed',
      async forward(p, x) {
        const f = await good.forward(p, x);
        const o = toFloat64(p.dtype, f.out);
        o[7] = o[7]! * 1.02 + 0.01; // one element off by ~1e-2: far above the f16 baseline
        return { out: fromFloat(p.dtype, o), lse: f.lse };
      },
    };
    const unwritten: Backend = {
      ...good,
      name: 'unwritten',
      async forward(p, x) {
        const f = await good.forward(p, x);
        const o = toFloat64(p.dtype, f.out);
        o[3] = NaN;
        return { out: fromFloat(p.dtype, o), lse: f.lse };
      },
    };
    const rs = await crossCheck(c, [good, perturbed, unwritten], referenceOracle);
    expect(rs.map((r) => r.status)).toEqual(['pass', 'fail', 'fail']);
    expect(rs[2]!.reason).toMatch(/NaN/);
  });
});

describe('naive dtype baseline', () => {
  test('its error grows with the dtype (bf16 > f16 > f32 > 0) and stays small', () => {
    const errs: Record<string, number> = {};
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const c = gen({ dtype, seqlenQ: 64, seqlenK: 96, seed: 3 });
      const p = c.problem;
      const q = toFloat64(dtype, c.q), k = toFloat64(dtype, c.k), v = toFloat64(dtype, c.v);
      errs[dtype] = maxAbs(naiveForward(p, q, k, v), oracleForward(p, q, k, v).out);
      const g = referenceOracle.naiveBackward(p, q, k, v, toFloat64(dtype, c.dout!));
      const rg = referenceOracle.backward(p, q, k, v, toFloat64(dtype, c.dout!));
      errs[`${dtype}-dq`] = maxAbs(g.dq, rg.dq);
    }
    expect(errs.f32).toBeGreaterThan(0);
    expect(errs.f32).toBeLessThan(1e-6);
    expect(errs.f16).toBeGreaterThan(10 * errs.f32!);
    expect(errs.bf16).toBeGreaterThan(4 * errs.f16!);
    expect(errs.bf16).toBeLessThan(0.05);
    expect(errs['f32-dq']).toBeLessThan(1e-5);
    expect(errs['bf16-dq']).toBeGreaterThan(errs['f16-dq']!);
  });
});
