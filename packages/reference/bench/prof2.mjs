import { generateCase, forwardFlops } from '@flashattn/core';
import { createReferenceBackend } from '../dist/index.js';
for (const extra of [{}, { softcap: 8 }, { dtype: 'bf16' }]) {
const c = generateCase({ batch: 3, varlen: true, seqlenQ: 300, seqlenK: 280, nheadsQ: 4, nheadsKV: 2, headDim: 64, causal: true, dtype: 'f32', seed: 1, backward: true, ...extra });
console.log(Array.from(c.problem.cuSeqlensQ), Array.from(c.problem.cuSeqlensK), (forwardFlops(c.problem)/1e6).toFixed(0), 'MFLOP');
const b = createReferenceBackend({ workers: 0 });
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  const f = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
  let t1 = performance.now();
  await b.backward(c.problem, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
  console.log(JSON.stringify(extra), (t1 - t).toFixed(0), (performance.now() - t1).toFixed(0));
}
}
