import { generateCase } from '@flashattn/core';
import { createReferenceBackend } from '/work/main/packages/reference/dist/index.js';
const c = generateCase({ batch: 3, varlen: true, seqlenQ: 300, seqlenK: 280, nheadsQ: 4, nheadsKV: 2, headDim: 64, causal: true, softcap: 8, dtype: 'bf16', seed: 1, backward: true });
for (const w of [0, 2]) {
  const b = createReferenceBackend({ workers: w });
  for (let r = 0; r < 2; r++) {
  let t = performance.now();
  const f = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
  let t1 = performance.now();
  await b.backward(c.problem, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
  console.log(w, (t1 - t).toFixed(0), (performance.now() - t1).toFixed(0), b.stats());
  }
  await b.dispose();
}
