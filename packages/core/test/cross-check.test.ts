import { describe, expect, it } from 'vitest';
import {
  checkBackend, generateCase, judgeLse, judgeTensor, parseCase, ValidationError, type Backend, type OracleAnswers,
} from '../src/index.js';

describe('judgeTensor (flash-attn criterion)', () => {
  const ref = Float64Array.from([0.5, -1.25, 2]);
  const naive = Float64Array.from([0.5 + 1e-3, -1.25, 2]); // baseline error 1e-3

  it('passes within 2x the baseline plus atol, fails beyond', () => {
    expect(judgeTensor('f32', Float64Array.from([0.5 + 1.9e-3, -1.25, 2]), ref, naive, 2).ok).toBe(true);
    const bad = judgeTensor('f32', Float64Array.from([0.5 + 2.1e-3, -1.25, 2]), ref, naive, 2);
    expect(bad.ok).toBe(false);
    expect(bad.ratio).toBeCloseTo(2.1, 5);
    expect(judgeTensor('f32', Float64Array.from([0.5 + 2.9e-3, -1.25, 2]), ref, naive, 3).ok).toBe(true);
  });

  it('fails on NaN (an unwritten, poisoned element) and names it', () => {
    const r = judgeTensor('f32', Float64Array.from([0.5, NaN, 2]), ref, naive, 2);
    expect(r.ok).toBe(false);
    expect(r.note).toBe('element 1 is NaN (unwritten or invalid)');
  });

  it('uses a dtype-sized atol', () => {
    const exact = Float64Array.from([0.1, 0.2]);
    const bf = judgeTensor('bf16', Float64Array.from([0.1 + 1e-3, 0.2]), exact, exact, 2);
    const f32 = judgeTensor('f32', Float64Array.from([0.1 + 1e-3, 0.2]), exact, exact, 2);
    expect(bf.ok).toBe(true); // within bf16 rounding of 0.3
    expect(f32.ok).toBe(false);
  });
});

describe('judgeLse', () => {
  it('requires -inf exactly where the oracle has it', () => {
    const ref = Float64Array.from([1.5, -Infinity]);
    expect(judgeLse(Float32Array.from([1.5, -Infinity]), ref).ok).toBe(true);
    expect(judgeLse(Float32Array.from([1.5, -1e30]), ref).ok).toBe(false);
    expect(judgeLse(Float32Array.from([1.51, -Infinity]), ref).ok).toBe(false);
  });
});

describe('generateCase / parseCase', () => {
  it('draws reproducible inputs from a seed and fresh ones without', () => {
    const spec = { batch: 2, seqlenQ: 9, seqlenK: 11, nheadsQ: 2, nheadsKV: 1, headDim: 8, dtype: 'bf16' as const, varlen: true, seed: 5 };
    const a = generateCase(spec);
    const b = generateCase(spec);
    expect(Array.from(a.q)).toEqual(Array.from(b.q));
    expect(a.problem.cuSeqlensQ[1]).toBe(9);
    expect(a.q.some((x) => x !== 0)).toBe(true);
    const c = generateCase({ ...spec, seed: undefined });
    const d = generateCase({ ...spec, seed: undefined });
    expect(c.seed).not.toBe(d.seed);
  });

  it('rejects unknown and missing fields by name', () => {
    expect(() => parseCase({ batch: 1 }, 'cases[0]')).toThrow('cases[0].seqlenQ: expected present (required field), got undefined');
    expect(() => parseCase({ batch: 1, seqlenQ: 1, seqlenK: 1, nheadsQ: 1, nheadsKV: 1, headDim: 8, dtype: 'f32', casual: true }, 'cases[2]')).toThrow(ValidationError);
  });
});

describe('checkBackend', () => {
  const c = generateCase({ batch: 1, seqlenQ: 2, seqlenK: 2, nheadsQ: 1, nheadsKV: 1, headDim: 2, dtype: 'f32', seed: 1 });
  const answers: OracleAnswers = {
    out: Float64Array.from([1, 2, 3, 4]), lse: Float64Array.from([0.5, 0.25]), naiveOut: Float64Array.from([1, 2, 3, 4.001]),
  };
  const backend = (out: number[], over: Partial<Backend> = {}): Backend => ({
    name: 'double',
    probe: async () => ({ available: true, device: 'none' }),
    capabilities: () => ({ dtypes: ['f32'], features: [], maxHeadDim: 8 }),
    check: () => [],
    forward: async () => ({ out: Float32Array.from(out), lse: Float32Array.from([0.5, 0.25]) }),
    backward: async () => { throw new Error('unused'); },
    ...over,
  });

  it('passes a right answer and fails a wrong one with the reason', async () => {
    expect((await checkBackend(c, answers, backend([1, 2, 3, 4]))).status).toBe('pass');
    const r = await checkBackend(c, answers, backend([1, 2, 3, 4.01]));
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/^out: error 1\.00e-2 > bound/);
  });

  it('reports unavailable and unsupported with reasons, and errors without throwing', async () => {
    const un = await checkBackend(c, answers, backend([], { probe: async () => ({ available: false, reason: 'no adapter' }) }));
    expect(un).toMatchObject({ status: 'unsupported', reason: 'unavailable: no adapter' });
    const rej = await checkBackend(c, answers, backend([], { check: () => ['headDim 2 too small'] }));
    expect(rej).toMatchObject({ status: 'unsupported', reason: 'headDim 2 too small' });
    const err = await checkBackend(c, answers, backend([], { forward: async () => { throw new Error('device lost'); } }));
    expect(err).toMatchObject({ status: 'error', reason: 'device lost' });
  });
});
