/**
 * Splits the CLI's full conformance grid (apps/cli/src/cases.ts, `flashattn conformance --full`) into chunk files
 * for parallel workers on the GPU machine: cases sorted by oracle cost, costliest first (so
 * the longest case starts at once instead of being cut by the deadline, as the one f32 d192/256 backward was twice), dealt round-robin to
 * WORKERS workers, each worker's list cut into chunks of CHUNK cases. Seeds are fixed (base + 7919 i, as the CLI's
 * --seed does) so every result can be reproduced here.
 *   usage: node make-cases.mjs OUTDIR WORKERS CHUNK SEED
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fullCases, seeded } from '../../apps/cli/src/cases.js';

const [outDir = 'cases', w = '14', ch = '3', seed = '20261121'] = process.argv.slice(2);
const workers = Number(w);
const chunk = Number(ch);
const cases = seeded(fullCases(), Number(seed), () => 0).map((c, index) => ({ c, index }));
const cost = (c: (typeof cases)[number]['c']) =>
  c.batch * c.nheadsQ * c.seqlenQ * c.seqlenK * (c.headDim + (c.headDimV ?? c.headDim)) * (c.backward ? 2 : 0.6);
cases.sort((a, b) => cost(b.c) - cost(a.c));
mkdirSync(outDir, { recursive: true });
const lists: (typeof cases)[] = Array.from({ length: workers }, () => []);
cases.forEach((x, i) => lists[i % workers]!.push(x));
let files = 0;
lists.forEach((list, wi) => {
  for (let k = 0; k * chunk < list.length; k++) {
    const part = list.slice(k * chunk, (k + 1) * chunk);
    writeFileSync(`${outDir}/w${String(wi).padStart(2, '0')}-${String(k).padStart(3, '0')}.json`, JSON.stringify(part.map((x) => x.c)));
    files++;
  }
});
console.log(`${cases.length} cases (full grid, base seed ${seed}) in ${files} chunks for ${workers} workers`);
