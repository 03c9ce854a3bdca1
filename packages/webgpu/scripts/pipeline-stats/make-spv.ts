/**
 * Forward kernels as WGSL (the repo's own generator) and SPIR-V (naga, through the npm package naga-wasm), for
 * vk-stats. Usage:
 *   node make-spv.mjs OUTDIR [VARIANTS.json | -]      (bundled by build.sh; without a file: the default list below)
 * VARIANTS.json: an array of
 *   { "name": "d128-48x32", "d": 128, "fwd": [bm, bn, tm, tn, separateKV, prefetch?], "opts": { "fexp": true, ... } }
 * fwd: TileOverride['fwd'] (prefetch on unless false); left out: the tile chooseForwardTiles picks for an H100
 * (48 KiB workgroup memory, 256 invocations, subgroups of 32). opts: ForwardOptions (fma, fexp, dbuf, unroll),
 * replacing the defaults {fexp: true, unroll: true} as TileOverride.fwdOpts does. Optional: dv (default d), dtype
 * (default f32), softcap (false), subgroups (true), stats (false: the backward's statistics-only forward), ablate.
 * A variant with "tc": BM is the tensor-core forward instead (src/wgsl-forward-tc.ts forwardTcWGSL with {bm: BM},
 * the shape as the engine builds it: {dtype, d, dv, softcap, subgroups: true}): WGSL only (naga cannot translate
 * subgroup matrices; index.json has no "spv" for it, so it is not in build.sh's list.txt): measure it through the
 * Tint path, `run-tint.sh DIR/NAME.wgsl`.
 * Writes OUTDIR/NAME.wgsl, OUTDIR/NAME.spv and OUTDIR/index.json; exits 1 if any variant failed (after the others).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nagaVersion, NagaError, parseWgsl, validate, writeSpirv } from 'naga-wasm';
import { forwardLayout, forwardOptions, forwardSmem, forwardWGSL, type ForwardAblation, type ForwardOptions, type ForwardShape, type ForwardTiles } from '../../src/wgsl-forward.js';
import { chooseForwardTiles, type TileLimits, type TileOverride } from '../../src/tiles.js';
import { forwardTcWGSL, tcSmem, tcTiles } from '../../src/wgsl-forward-tc.js';

interface Variant {
  name: string;
  d: number;
  dv?: number;
  fwd?: NonNullable<TileOverride['fwd']>;
  opts?: ForwardOptions;
  dtype?: ForwardShape['dtype'];
  softcap?: boolean;
  subgroups?: boolean;
  stats?: boolean;
  ablate?: ForwardAblation;
  /** The tensor-core forward with this bm (WGSL only). */
  tc?: number;
}

export const DEFAULT_VARIANTS: Variant[] = [
  { name: 'd128-48x32-3x2-shared-pf', d: 128, fwd: [48, 32, 3, 2, false, true] },
  { name: 'd128-64x16-4x1-shared-pf', d: 128, fwd: [64, 16, 4, 1, false, true] },
  { name: 'd64-96x32-6x2-shared-pf', d: 64, fwd: [96, 32, 6, 2, false, true] },
  { name: 'd64-64x32-4x2-separate-pf', d: 64, fwd: [64, 32, 4, 2, true, true] },
  { name: 'd128-48x32-3x2-shared-pf-nounroll', d: 128, fwd: [48, 32, 3, 2, false, true], opts: { fexp: true } },
  // Tensor-core forward (WGSL only; Tint path): f32 d128/dv128 non-causal as the engine builds it (bm 48: its choice
  // on an H100, 48 KiB of workgroup memory), bm 32, and d96/dv32 (bm 64: the choice there).
  { name: 'tc-d128-bm48', d: 128, tc: 48 },
  { name: 'tc-d128-bm32', d: 128, tc: 32 },
  { name: 'tc-d96-dv32-bm64', d: 96, dv: 32, tc: 64 },
];

/** What an H100 offers through Dawn (the limits the repo's tile choice sees there). */
const H100: TileLimits = { smem: 49152, invocations: 256, subgroupMinSize: 32 };
const DEFAULT_OPTS: ForwardOptions = { fexp: true, unroll: true };

/** naga writes the SPIR-V version it needs (1.3 for GroupNonUniform*): report it. */
const SPV_1_3 = 0x00010300;
const spvVersion = (w: Uint32Array) => `${((w[1] ?? 0) >> 16) & 0xff}.${((w[1] ?? 0) >> 8) & 0xff}`;

function tilesOf(v: Variant): ForwardTiles {
  const dv = v.dv ?? v.d;
  const opts = v.opts ?? DEFAULT_OPTS;
  let t: ForwardTiles;
  if (v.fwd) {
    const [bm, bn, tm, tn, separateKV, prefetch] = v.fwd;
    t = { bm, bn, tm, tn, separateKV, prefetch: prefetch ?? true, ...forwardOptions(opts) };
  } else {
    const c = chooseForwardTiles(v.d, dv, H100, { fwdOpts: opts });
    if (!c) throw new Error(`no forward tile fits d=${v.d} dv=${dv} on ${JSON.stringify(H100)}`);
    t = c;
  }
  return v.ablate ? { ...t, ablate: v.ablate } : t;
}

function toSpirv(wgsl: string): Uint32Array {
  const module = parseWgsl(wgsl);
  try {
    const info = validate(module);
    try {
      return writeSpirv(module, info);
    } finally {
      info.free();
    }
  } finally {
    module.free();
  }
}

function main(): number {
  const [outDir, listFile] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: make-spv OUTDIR [VARIANTS.json | -]');
    return 2;
  }
  const variants: Variant[] = listFile ? JSON.parse(readFileSync(listFile === '-' ? 0 : listFile, 'utf8')) : DEFAULT_VARIANTS;
  mkdirSync(outDir, { recursive: true });
  const index: object[] = [];
  let failed = 0;
  for (const v of variants) {
    if (!/^[A-Za-z0-9._-]+$/.test(v.name ?? '')) throw new Error(`variant name ${JSON.stringify(v.name)}: letters, digits, . _ - only`);
    const shape: ForwardShape = { dtype: v.dtype ?? 'f32', d: v.d, dv: v.dv ?? v.d, softcap: v.softcap ?? false, subgroups: v.subgroups ?? true };
    const entry: Record<string, unknown> = { name: v.name, shape };
    index.push(entry);
    try {
      if (v.tc !== undefined) {
        // The engine's shape for the tensor-core forward (src/engine.ts forward(): no saveStats with tc).
        const tshape: ForwardShape = { ...shape, subgroups: true };
        const smem = tcSmem(tshape, v.tc);
        const engine = tcTiles(tshape, H100.smem);
        Object.assign(entry, { shape: tshape, tc: { bm: v.tc }, threads: 256, smemBytes: smem, engineTc: engine, wgsl: `${v.name}.wgsl` });
        const warn: string[] = [];
        if (smem > H100.smem) warn.push(`workgroup memory ${smem} B > ${H100.smem} B (Dawn would refuse this tile)`);
        if (typeof engine === 'string') warn.push(`the engine would not use tensor cores here: ${engine}`);
        else if (engine.bm !== v.tc) warn.push(`the engine picks bm ${engine.bm} here`);
        if (warn.length) entry.warnings = warn;
        writeFileSync(join(outDir, `${v.name}.wgsl`), forwardTcWGSL(tshape, { bm: v.tc }));
        console.error(`${v.name}: tensor-core forward bm ${v.tc}, 256 threads, ${smem} B workgroup memory, WGSL only${warn.length ? ` (warning: ${warn.join('; ')})` : ''}`);
        continue;
      }
      const tiles = tilesOf(v);
      const L = forwardLayout(shape, tiles);
      const smem = forwardSmem(shape, tiles);
      Object.assign(entry, { tiles, threads: L.nt, groupLanes: L.g, smemBytes: smem, wgsl: `${v.name}.wgsl` });
      const warn: string[] = [];
      if (smem > H100.smem) warn.push(`workgroup memory ${smem} B > ${H100.smem} B (Dawn would refuse this tile)`);
      if (L.nt > H100.invocations) warn.push(`${L.nt} invocations > ${H100.invocations}`);
      if (shape.subgroups && L.g > H100.subgroupMinSize) warn.push(`group of ${L.g} lanes > subgroup size ${H100.subgroupMinSize}`);
      if (warn.length) entry.warnings = warn;
      const wgsl = forwardWGSL(shape, tiles, !!v.stats);
      writeFileSync(join(outDir, `${v.name}.wgsl`), wgsl);
      // naga 30 knows `enable subgroups;` but refuses it ("not yet supported"); its validator accepts the subgroup
      // builtins without it (all capabilities on), so the line is dropped from naga's input only.
      const words = toSpirv(wgsl.replace(/^enable subgroups;\n/m, ''));
      // naga-wasm has no option for the SPIR-V version and writes 1.0, where the GroupNonUniform* capabilities of
      // subgroupShuffleXor are invalid: they need SPIR-V 1.3 (Vulkan 1.1). The rest of naga's 1.0 output is valid
      // 1.3 (build.sh checks each file with spirv-val --target-env vulkan1.1).
      if ((words[1] ?? 0) < SPV_1_3) words[1] = SPV_1_3;
      writeFileSync(join(outDir, `${v.name}.spv`), new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
      Object.assign(entry, { spv: `${v.name}.spv`, spvVersion: spvVersion(words), spvWords: words.length });
      console.error(`${v.name}: ${L.nt} threads, ${smem} B workgroup memory, SPIR-V ${spvVersion(words)} ${words.length * 4} B${warn.length ? ` (warning: ${warn.join('; ')})` : ''}`);
    } catch (e) {
      failed++;
      const msg = e instanceof NagaError ? `naga ${e.kind} error:\n${e.formatted}` : e instanceof Error ? e.message : String(e);
      entry.error = msg;
      console.error(`${v.name}: FAILED: ${msg}`);
    }
  }
  writeFileSync(join(outDir, 'index.json'), `${JSON.stringify({ generator: 'naga-wasm', nagaVersion, variants: index }, null, 2)}\n`);
  return failed ? 1 : 0;
}

process.exitCode = main();
