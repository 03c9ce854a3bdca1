// Throughput per CPU-second of the inline path (robust on a loaded machine): node bench/cpu.mjs sq sk causal d
import { generateCase, forwardFlops } from '@flashattn/core';
import { createReferenceBackend } from '../dist/index.js';
const [sq, sk, causal, d] = process.argv.slice(2).map(Number);
const c = generateCase({ batch: 1, seqlenQ: sq, seqlenK: sk, nheadsQ: 2, nheadsKV: 2, headDim: d, causal: !!causal, dtype: 'f32', seed: 1, backward: true });
const b = createReferenceBackend({ workers: 0 });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
for (let r = 0; r < 3; r++) {
  const t = cpu();
  const f = await b.forward(c.problem, { q: c.q, k: c.k, v: c.v });
  const t1 = cpu();
  await b.backward(c.problem, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
  const t2 = cpu();
  if (r === 2) console.log(sq, sk, causal, d, `fwd ${(t1 - t).toFixed(2)} cpu-s ${(forwardFlops(c.problem) / (t1 - t) / 1e9).toFixed(2)} GF/s; bwd ${(t2 - t1).toFixed(2)} cpu-s ${(2.5 * forwardFlops(c.problem) / (t2 - t1) / 1e9).toFixed(2)} GF/s`);
}
