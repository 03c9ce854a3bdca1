import { writeFileSync, mkdirSync } from 'node:fs';
import { dkvWGSL, dqWGSL, rowStatsWGSL } from '../../packages/webgpu/src/wgsl-backward.js';
import { forwardWGSL } from '../../packages/webgpu/src/wgsl-forward.js';
import { chooseDkvTiles, chooseDqTiles, chooseForwardTiles } from '../../packages/webgpu/src/tiles.js';
const H100 = { smem: 49152, invocations: 256, subgroupMinSize: 32 };
const dir = process.argv[2]!; mkdirSync(dir, { recursive: true });
for (const d of [64, 128]) {
  const shape = { dtype: 'f32' as const, d, dv: d, softcap: false, fmaScores: false };
  const kv = chooseDkvTiles(d, d, H100)!, q = chooseDqTiles(d, d, H100)!, st = chooseForwardTiles(d, d, H100)!;
  writeFileSync(`${dir}/bwd-dkv-d${d}.wgsl`, dkvWGSL(shape, kv));
  writeFileSync(`${dir}/bwd-dq-d${d}.wgsl`, dqWGSL(shape, q));
  writeFileSync(`${dir}/bwd-stats-d${d}.wgsl`, forwardWGSL({ ...shape, subgroups: true }, st, true));
  console.log(d, JSON.stringify(kv), JSON.stringify(q));
}
