import { writeFileSync, mkdirSync } from 'node:fs';
import { dkvWGSL } from '../../packages/webgpu/src/wgsl-backward.js';
const dir = process.argv[2]!; mkdirSync(dir, { recursive: true });
const shape = { dtype: 'f32' as const, d: 128, dv: 128, softcap: false, fmaScores: false };
for (const [n, pf, rk] of [['pf2', 2, 4], ['pf1', 1, 4], ['pf0', 0, 4], ['pf1-rk2', 1, 2], ['pf1-rk8', 1, 8]] as const)
  writeFileSync(`${dir}/dkv-d128-${n}.wgsl`, dkvWGSL(shape, { bm: 16, bn: 32, tm: 2, tn: 2, separateKV: false, prefetch: pf, rk }));
