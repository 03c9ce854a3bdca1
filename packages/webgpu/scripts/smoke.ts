/**
 * A few conformance cases through core's crossCheck against the reference oracle, on whatever runtime runs it.
 * Bundle: npx esbuild packages/webgpu/scripts/smoke.ts --bundle --platform=neutral --format=esm --external:webgpu
 *         --main-fields=module,main --outfile=packages/webgpu/build/smoke.js
 * Run:    node|bun|deno run -A packages/webgpu/build/smoke.js
 */
import { caseLabel, crossCheck, generateCase, runtimeVersion, type CaseSpec } from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createWebGPUBackend } from '../src/index.js';
import { withF32AccumulatingNaive } from './f32-naive.js';
import { savedStatsCheck } from './saved-stats-check.js';

const CASES: CaseSpec[] = [
  { batch: 2, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 1, headDim: 64, dtype: 'f32', backward: true },
  { batch: 1, seqlenQ: 64, seqlenK: 64, nheadsQ: 2, nheadsKV: 2, headDim: 128, dtype: 'f16', causal: true, backward: true },
  { batch: 3, seqlenQ: 33, seqlenK: 40, nheadsQ: 4, nheadsKV: 2, headDim: 40, headDimV: 24, dtype: 'bf16', window: [8, 3], softcap: 20, varlen: true, backward: true },
  { batch: 1, seqlenQ: 20, seqlenK: 10, nheadsQ: 1, nheadsKV: 1, headDim: 256, dtype: 'f32', causal: true, backward: true },
];

const backend = createWebGPUBackend();
const avail = await backend.probe();
console.log(`${runtimeVersion()}: ${avail.available ? `adapter ${avail.device}` : `unavailable: ${avail.reason}`}`);
let failed = 0;
if (avail.available) {
  for (const spec of CASES) {
    const c = generateCase(spec);
    const [r] = await crossCheck(c, [backend], withF32AccumulatingNaive(referenceOracle));
    if (r!.status !== 'pass') failed++;
    console.log(`${r!.status.padEnd(5)} ${caseLabel(spec)} seed ${c.seed} ratio ${r!.ratio?.toFixed(3)} ${r!.ms?.toFixed(0)} ms${r!.reason ? ` — ${r!.reason}` : ''}`);
  }
}
// The device path: an f32 backward on the forward's own LSE (saved row statistics, no stats pass) must give the same
// gradients, bit for bit, as with the stats pass.
if (avail.available) {
  const r = await savedStatsCheck(backend, CASES[0]!);
  const same = [r.dq, r.dk, r.dv].every((x) => x.differing === 0) && !r.saved.includes('stats') && r.recompute.includes('stats');
  if (!same) failed++;
  console.log(`${same ? 'pass ' : 'FAIL '} backward on the forward's own LSE (saved row statistics) equals the stats-pass path bit for bit`);
}
await backend.dispose();
console.log(failed ? `${failed} failed` : 'all passed');
const g = globalThis as { process?: { exit(c: number): void }; Deno?: { exit(c: number): void } };
(g.Deno?.exit ?? g.process?.exit)?.(failed ? 1 : 0);
