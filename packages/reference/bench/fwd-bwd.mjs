// Times forward + backward of the reference backend. Usage: node bench/fwd-bwd.mjs [workers] [seqlen] [headDim] [heads] [dtype]
import { generateCase } from '@flashattn/core';
import { createReferenceBackend } from '../dist/index.js';

const [workers = '', s = '1024', d = '128', h = '2', dtype = 'f32'] = (globalThis.Deno ? Deno.args : process.argv.slice(2));
const c = generateCase({ batch: 1, seqlenQ: +s, seqlenK: +s, nheadsQ: +h, nheadsKV: +h, headDim: +d, dtype, backward: true, seed: 7 });
const b = createReferenceBackend(workers === '' ? {} : { workers: +workers });
for (let rep = 0; rep < 2; rep++) {
  const t0 = performance.now();
  const f = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
  const t1 = performance.now();
  await b.backward(c.problem, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
  const t2 = performance.now();
  console.log(`${c.problem.seqlenQ}x${c.problem.seqlenK} d${d} h${h} ${dtype} workers=${workers || 'default'}: forward ${(t1 - t0).toFixed(0)} ms, backward ${(t2 - t1).toFixed(0)} ms, total ${(t2 - t0).toFixed(0)} ms`, JSON.stringify(b.stats()));
}
await b.dispose();
