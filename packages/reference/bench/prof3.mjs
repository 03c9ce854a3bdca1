import { generateCase, forwardFlops } from '@flashattn/core';
import { createReferenceBackend } from '../dist/index.js';
const [sq, sk, causal, d] = process.argv.slice(2).map(Number);
const c = generateCase({ batch: 1, seqlenQ: sq, seqlenK: sk, nheadsQ: 2, nheadsKV: 2, headDim: d, causal: !!causal, dtype: 'f32', seed: 1, backward: true });
const b = createReferenceBackend({ workers: 0 });
for (let r = 0; r < 4; r++) {
  let t = performance.now();
  const f = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
  let t1 = performance.now();
  await b.backward(c.problem, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
  const t2 = performance.now();
  console.log(sq, sk, causal, d, 'fwd GF/s', (forwardFlops(c.problem) / (t1 - t) / 1e6).toFixed(2), 'bwd GF/s', (2.5 * forwardFlops(c.problem) / (t2 - t1) / 1e6).toFixed(2));
}
