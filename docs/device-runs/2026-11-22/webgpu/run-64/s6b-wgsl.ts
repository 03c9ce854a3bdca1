import { writeFileSync, mkdirSync } from 'node:fs';
import { dqWGSL, dkvWGSL } from '../../packages/webgpu/src/wgsl-backward.js';
import { chooseDqTiles, chooseDkvTiles, type TileOverride } from '../../packages/webgpu/src/tiles.js';
const H100 = { smem: 49152, invocations: 1024, subgroupMinSize: 32 };
const dir = process.argv[2]!; mkdirSync(dir, { recursive: true });
const sh = (d: number) => ({ dtype: 'f32' as const, d, dv: d, softcap: false, fmaScores: false });
const dq: [string, number, TileOverride][] = [
  ['dq64-full', 64, {}],
  ['dq64-scores', 64, { bwdOpts: { dqUnroll: 'scores' } }],
  ['dq64-sums', 64, { bwdOpts: { dqUnroll: 'sums' } }],
  ['dq64-loops', 64, { bwdOpts: { dqUnroll: false } }],
  ['dq64-pf0-full', 64, { dq: [64, 16, 4, 1, false, 0], bwdOpts: { dqUnroll: true } }],
  ['dq64-48x32-3x2-full', 64, { dq: [48, 32, 3, 2, false, 1], bwdOpts: { dqUnroll: true } }],
  ['dq128-sums', 128, { bwdOpts: { dqUnroll: 'sums' } }],
  ['dq128-loops', 128, { bwdOpts: { dqUnroll: false } }],
];
for (const [n, d, ov] of dq) { const t = chooseDqTiles(d, d, H100, ov)!; writeFileSync(`${dir}/${n}.wgsl`, dqWGSL(sh(d), t)); console.log(n, JSON.stringify(t)); }
const kv: [string, number, TileOverride][] = [
  ['dkv64-loops', 64, { bwdOpts: { dkvUnroll: false } }],
  ['dkv128-loops', 128, { bwdOpts: { dkvUnroll: false } }],
];
for (const [n, d, ov] of kv) { const t = chooseDkvTiles(d, d, H100, ov)!; writeFileSync(`${dir}/${n}.wgsl`, dkvWGSL(sh(d), t)); console.log(n, JSON.stringify(t)); }
