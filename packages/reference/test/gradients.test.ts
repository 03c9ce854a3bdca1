import { expect, test } from 'vitest';
import { makeProblem, type Problem } from '@flashattn/core';
import { createReferenceBackend, oracleBackward, oracleForward } from '../src/index.js';
import { maxAbs } from './helpers.js';

/** loss = sum(out * dout): its gradient w.r.t. q, k, v is exactly the backward given dout. */
function loss(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array): number {
  const { out } = oracleForward(p, q, k, v);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i]! * dout[i]!;
  return s;
}

function finiteDifferences(p: Problem, x: { q: Float64Array; k: Float64Array; v: Float64Array }, dout: Float64Array) {
  const h = 1e-6;
  const grads: Record<string, Float64Array> = {};
  for (const n of ['q', 'k', 'v'] as const) {
    const t = x[n];
    const g = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const keep = t[i]!;
      t[i] = keep + h;
      const up = loss(p, x.q, x.k, x.v, dout);
      t[i] = keep - h;
      const down = loss(p, x.q, x.k, x.v, dout);
      t[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    grads[`d${n}`] = g;
  }
  return grads;
}

const SPECS = {
  'GQA, softcap, window, headDimV, varlen with an empty sequence': {
    batch: 3, seqlenQ: 5, seqlenK: 7, nheadsQ: 4, nheadsKV: 2, headDim: 4, headDimV: 3, softcap: 1.5, scale: 0.7,
    window: [3, 1] as [number, number], cuSeqlensQ: [0, 5, 5, 9], cuSeqlensK: [0, 7, 9, 15],
  },
  'causal, seqlenQ > seqlenK (masked rows)': { batch: 1, seqlenQ: 6, seqlenK: 4, nheadsQ: 2, nheadsKV: 1, headDim: 5, causal: true },
};

for (const [name, spec] of Object.entries(SPECS)) {
  test(`oracle backward matches finite differences of the oracle forward: ${name}`, async () => {
    const p = makeProblem({ ...spec, dtype: 'f32', returnLse: true });
    const rnd = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 7.31 + seed) * 1.3));
    const x = { q: rnd(p.totalQ * p.nheadsQ * p.headDim, 1), k: rnd(p.totalK * p.nheadsKV * p.headDim, 2), v: rnd(p.totalK * p.nheadsKV * p.headDimV, 3) };
    const dout = rnd(p.totalQ * p.nheadsQ * p.headDimV, 4);
    const fd = finiteDifferences(p, x, dout);
    const an = oracleBackward(p, x.q, x.k, x.v, dout);
    for (const n of ['dq', 'dk', 'dv'] as const) {
      expect(maxAbs(an[n], fd[n]!), n).toBeLessThan(1e-7);
      expect(an[n].some((g) => Math.abs(g) > 1e-3), `${n} is not trivially zero`).toBe(true);
    }
    // and the tiled backward agrees with both
    const b = createReferenceBackend({ workers: 0 });
    const f32 = (a: Float64Array) => Float32Array.from(a);
    const f = await b.forward(p, { q: f32(x.q), k: f32(x.k), v: f32(x.v) });
    const g = await b.backward(p, { q: f32(x.q), k: f32(x.k), v: f32(x.v), out: f.out, dout: f32(dout), lse: f.lse! });
    for (const n of ['dq', 'dk', 'dv'] as const) expect(maxAbs(g[n] as Float32Array, fd[n]!), n).toBeLessThan(1e-5);
  });
}
