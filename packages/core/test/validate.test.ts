import { describe, expect, it } from 'vitest';
import { makeProblem, validateInputs, validateBackwardInputs, ValidationError, type ProblemSpec } from '../src/index.js';

const base: ProblemSpec = { batch: 2, seqlenQ: 5, seqlenK: 7, nheadsQ: 4, nheadsKV: 2, headDim: 8 };

function err(spec: unknown): ValidationError {
  try {
    makeProblem(spec as ProblemSpec);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('makeProblem', () => {
  it('normalizes defaults', () => {
    const p = makeProblem(base);
    expect(p.nheadsKV).toBe(2);
    expect(p.headDimV).toBe(8);
    expect(p.dtype).toBe('f32');
    expect(p.scale).toBeCloseTo(1 / Math.sqrt(8));
    expect(p.window).toEqual([-1, -1]);
    expect(Array.from(p.cuSeqlensQ)).toEqual([0, 5, 10]);
    expect(Array.from(p.cuSeqlensK)).toEqual([0, 7, 14]);
    expect(p.varlen).toBe(false);
  });

  it('folds causal into the window', () => {
    expect(makeProblem({ ...base, causal: true }).window).toEqual([-1, 0]);
    expect(makeProblem({ ...base, causal: true, window: [3, 5] }).window).toEqual([3, 0]);
  });

  it.each([
    [{ ...base, batch: 0 }, 'batch: expected an integer >= 1, got 0'],
    [{ ...base, batch: 1.5 }, 'batch: expected an integer >= 1, got 1.5'],
    [{ ...base, seqlenQ: -1 }, 'seqlenQ: expected an integer >= 0, got -1'],
    [{ ...base, nheadsKV: 3 }, 'nheadsKV: expected a divisor of nheadsQ = 4 (GQA/MQA), got 3'],
    [{ ...base, headDim: 0 }, 'headDim: expected an integer in [1, 256], got 0'],
    [{ ...base, headDim: 320 }, 'headDim: expected an integer in [1, 256], got 320'],
    [{ ...base, headDimV: 257 }, 'headDimV: expected an integer in [1, 256], got 257'],
    [{ ...base, dtype: 'f64' }, 'dtype: expected one of f32, f16, bf16, got "f64"'],
    [{ ...base, scale: NaN }, 'scale: expected a finite number > 0, got NaN'],
    [{ ...base, scale: -1 }, 'scale: expected a finite number > 0, got -1'],
    [{ ...base, window: [-2, 0] }, 'window[0]: expected an integer >= -1, got -2'],
    [{ ...base, window: [0] }, 'window: expected [left, right], got [0]'],
    [{ ...base, softcap: -1 }, 'softcap: expected a finite number >= 0 (0 = off), got -1'],
    [{ ...base, causal: 'yes' }, 'causal: expected a boolean, got "yes"'],
    [{ ...base, cuSeqlensQ: [0, 2, 4] }, 'cuSeqlensK: expected present when the other offsets are (varlen needs both), got undefined'],
    [{ ...base, cuSeqlensQ: [0, 2], cuSeqlensK: [0, 2, 4] }, 'cuSeqlensQ.length: expected batch + 1 = 3, got 2'],
    [{ ...base, cuSeqlensQ: [1, 2, 4], cuSeqlensK: [0, 2, 4] }, 'cuSeqlensQ[0]: expected 0, got 1'],
    [{ ...base, cuSeqlensQ: [0, 3, 2], cuSeqlensK: [0, 2, 4] }, 'cuSeqlensQ[2]: expected non-decreasing offsets (>= cuSeqlensQ[1] = 3), got 2'],
    [{ ...base, cuSeqlensQ: [0, 6, 8], cuSeqlensK: [0, 2, 4] }, 'cuSeqlensQ[1]: expected a sequence length <= seqlenQ = 5, got 6'],
    [{ ...base, cuSeqlensQ: [0, 2, 4], cuSeqlensK: [0, 2, 10] }, 'cuSeqlensK[2]: expected a sequence length <= seqlenK = 7, got 8'],
    [null, 'problem: expected an object, got null'],
  ])('rejects %j', (spec, message) => {
    const e = err(spec);
    expect(e.message).toBe(message);
    expect(e.field).toBe(message.split(':')[0]);
  });

  it('accepts varlen with zero-length sequences', () => {
    const p = makeProblem({ ...base, cuSeqlensQ: [0, 0, 5], cuSeqlensK: [0, 7, 7] });
    expect(p.varlen).toBe(true);
    expect(p.totalQ).toBe(5);
    expect(p.totalK).toBe(7);
  });
});

describe('validateInputs', () => {
  const p = makeProblem(base);
  const q = new Float32Array(2 * 5 * 4 * 8);
  const k = new Float32Array(2 * 7 * 2 * 8);
  const v = new Float32Array(2 * 7 * 2 * 8);

  it('accepts correct buffers', () => {
    expect(() => validateInputs(p, { q, k, v })).not.toThrow();
  });

  it('names a wrong length', () => {
    expect(() => validateInputs(p, { q, k: new Float32Array(5), v })).toThrow('k.length: expected 224 elements, got 5');
  });

  it('names a wrong array type', () => {
    expect(() => validateInputs(p, { q: new Uint16Array(q.length), k, v })).toThrow(
      'q: expected a Float32Array (dtype f32), got Uint16Array(length 320)',
    );
    const p16 = makeProblem({ ...base, dtype: 'bf16' });
    expect(() => validateInputs(p16, { q, k, v })).toThrow('q: expected a Uint16Array (dtype bf16), got Float32Array(length 320)');
  });

  it('checks backward inputs', () => {
    const out = new Float32Array(q.length);
    expect(() => validateBackwardInputs(p, { q, k, v, out, dout: out, lse: new Float32Array(3) })).toThrow(
      'lse.length: expected 40 elements, got 3',
    );
  });
});
