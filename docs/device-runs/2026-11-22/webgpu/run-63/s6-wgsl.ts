import { writeFileSync, mkdirSync } from 'node:fs';
import { dkvWGSL, dqWGSL } from '../../packages/webgpu/src/wgsl-backward.js';
import { forwardWGSL } from '../../packages/webgpu/src/wgsl-forward.js';
import { chooseDkvTiles, chooseDqTiles, chooseForwardTiles } from '../../packages/webgpu/src/tiles.js';
const H100 = { smem: 49152, invocations: 1024, subgroupMinSize: 32 };
const dir = process.argv[2]!; mkdirSync(dir, { recursive: true });
for (const d of [64, 128]) {
  const shape = { dtype: 'f32' as const, d, dv: d, softcap: false, fmaScores: false };
  const kv = chooseDkvTiles(d, d, H100)!, q = chooseDqTiles(d, d, H100)!, ft = chooseForwardTiles(d, d, H100)!;
  writeFileSync(`${dir}/s6-dkv-d${d}.wgsl`, dkvWGSL(shape, kv));
  writeFileSync(`${dir}/s6-dq-d${d}.wgsl`, dqWGSL(shape, q));
  writeFileSync(`${dir}/s6-fwd-d${d}-save.wgsl`, forwardWGSL({ ...shape, subgroups: true, saveStats: true }, ft));
  writeFileSync(`${dir}/s6-fwd-d${d}.wgsl`, forwardWGSL({ ...shape, subgroups: true }, ft));
  console.log(d, JSON.stringify(kv), JSON.stringify(q));
}
// the previous d128 dK/dV and dQ defaults, for comparison
const s128 = { dtype: 'f32' as const, d: 128, dv: 128, softcap: false, fmaScores: false };
writeFileSync(`${dir}/s5-dkv-d128.wgsl`, dkvWGSL(s128, chooseDkvTiles(128, 128, H100, { dkv: [16, 32, 2, 2, false, 2, 4] })!));
writeFileSync(`${dir}/s5-dq-d128.wgsl`, dqWGSL(s128, chooseDqTiles(128, 128, H100, { dq: [16, 32, 2, 2, false, 1] })!));
