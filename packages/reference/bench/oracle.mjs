// CPU time of the oracle answers a cross-check computes per case: node bench/oracle.mjs sq sk d dtype
import { generateCase, computeOracle } from '@flashattn/core';
import { referenceOracle } from '../dist/index.js';
const [sq, sk, d] = process.argv.slice(2, 5).map(Number);
const dtype = process.argv[5] ?? 'f32';
const c = generateCase({ batch: 1, seqlenQ: sq, seqlenK: sk, nheadsQ: 2, nheadsKV: 2, headDim: d, dtype, seed: 1, backward: true });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const t = cpu();
computeOracle(c, referenceOracle);
console.log(`oracle+naive fwd+bwd ${sq}x${sk} d${d} h2 ${dtype}: ${(cpu() - t).toFixed(2)} cpu-s`);
