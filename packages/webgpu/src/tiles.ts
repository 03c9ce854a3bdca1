import { ValidationError } from '@flashattn/core';
import { FORWARD_BOOL_OPTIONS, forwardAblation, forwardLayout, forwardOptions, forwardSmem, type ForwardOptions, type ForwardTiles } from './wgsl-forward.js';
import type { TcOptions } from './wgsl-forward-tc.js';
import { dkvDefaultRk, dkvLayout, dkvSmem, dqLayout, dqSmem, type BackwardTiles } from './wgsl-backward.js';

/** What tile choice depends on: head dims and the adapter's workgroup limits. */
export interface TileLimits {
  readonly smem: number;
  readonly invocations: number;
  /** Subgroup size guaranteed by the adapter (0 = no subgroups). */
  readonly subgroupMinSize: number;
  /** A CPU implementation (lavapipe, SwiftShader): unrolled kernels compile for minutes there and gain nothing. */
  readonly cpu?: boolean;
}

export interface TileOverride {
  /** [bm, bn, tm, tn, separateKV, prefetch (default: on)] */
  fwd?: [number, number, number, number, boolean, boolean?];
  /** Forward code options, applied to whichever forward tile is chosen: fma, unroll, fexp, dbuf (replaces the defaults). */
  fwdOpts?: ForwardOptions;
  /** [bm, bn, tm, tn, separateKV, prefetch (0/false off, 1/true next Q/dO tile, 2 also K/V in registers when shared; default 1), keys per thread in the dK/dV sums] */
  dkv?: [number, number, number, number, boolean, (boolean | number)?, number?];
  /** [bm, bn, tm, tn, separateKV, prefetch of the next K/V tile (default: on)] */
  dq?: [number, number, number, number, boolean, (boolean | number)?];
  /** The tensor-core forward's query rows per workgroup, tried in order (default 64, 48, 32: the first that fits). */
  tcBm?: number[];
  /** The tensor-core forward's code options (TcOptions: pvCols, fold), replacing its defaults (tcDefaults). */
  tcOpts?: TcOptions;
  /** Backward code options, applied to whichever tiles are chosen: loop unrolling of the dK/dV and of the dQ kernel. */
  bwdOpts?: { dkvUnroll?: BackwardUnroll; dqUnroll?: BackwardUnroll };
}
type BackwardUnroll = boolean | number | 'scores' | 'sums';

const isSteps = (u: unknown) => typeof u === 'number' && Number.isInteger(u) && u > 1 && u <= 64;
const unrollOpt = (u: unknown): { unroll?: BackwardUnroll } => (u === true || u === 'scores' || u === 'sums' || isSteps(u) ? { unroll: u as BackwardUnroll } : {});

/**
 * The code-option blocks of an override (`fwdOpts`, `bwdOpts`), checked key by key: a misspelt option or value is a
 * ValidationError naming it (`<source>.bwdOpts.dqUnroll`) instead of a silently different kernel.
 */
export function checkTileOptions(ov: TileOverride, source: string): void {
  const check = (block: 'fwdOpts' | 'bwdOpts' | 'tcOpts', ok: Record<string, [(v: unknown) => boolean, string]>) => {
    const o: unknown = ov[block];
    if (o === undefined) return;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ValidationError(`${source}.${block}`, 'an object of options', o);
    for (const [k, v] of Object.entries(o)) {
      const rule = ok[k];
      if (!rule) throw new ValidationError(`${source}.${block}.${k}`, `one of the options ${Object.keys(ok).join(', ')}`, k);
      if (!rule[0](v)) throw new ValidationError(`${source}.${block}.${k}`, rule[1], v);
    }
  };
  const bool: [(v: unknown) => boolean, string] = [(v) => typeof v === 'boolean', 'true or false'];
  const steps: [(v: unknown) => boolean, string] = [(v) => typeof v === 'boolean' || isSteps(v), 'true, false or an integer of steps in 2..64'];
  check('fwdOpts', { ...Object.fromEntries(FORWARD_BOOL_OPTIONS.map((k) => [k, bool])), unroll: steps });
  const bwd: [(v: unknown) => boolean, string] = [(v) => steps[0](v) || v === 'scores' || v === 'sums', `${steps[1]}, 'scores' or 'sums'`];
  check('bwdOpts', { dkvUnroll: bwd, dqUnroll: bwd });
  check('tcOpts', { fold: bool, pvCols: [(v) => v === 1 || v === 2, '1 or 2'], pv: [(v) => v === 'fma' || v === 'mma', "'fma' or 'mma'"], exp2: [(v) => v === 'poly' || v === 'builtin', "'poly' or 'builtin'"], f16Split: bool });
  const bms = ov.tcBm;
  if (bms !== undefined && !(Array.isArray(bms) && bms.length > 0 && bms.every((b) => b === 16 || b === 32 || b === 48 || b === 64)))
    throw new ValidationError(`${source}.tcBm`, 'a non-empty list of 16, 32, 48 or 64', bms);
}

const SIZES = [64, 32, 16, 8];
const MICRO = [8, 4, 2, 1];

/**
 * Candidate tiles scored by work per tile (fewer K/V re-reads), threads per workgroup, register blocking and one
 * K/V load phase instead of two; `regs` is the accumulator size per thread (floats) that must stay in registers.
 */
function pick<T extends { bm: number; bn: number; tm: number; tn: number; separateKV: boolean }>(
  lim: TileLimits,
  fits: (t: T) => { smem: number; nt: number; regs: number; micro: number } | null,
  override?: readonly [number, number, number, number, boolean, boolean?],
  onlyOverride = false,
): T | null {
  if (override) {
    const [bm, bn, tm, tn, separateKV] = override;
    const t = { bm, bn, tm, tn, separateKV } as T;
    const f = fits(t);
    if (f && f.smem <= lim.smem && f.nt <= lim.invocations) return t;
  }
  if (onlyOverride) return null;
  let best: T | null = null;
  let bestScore = -Infinity;
  for (const bm of SIZES) for (const bn of SIZES) for (const tm of MICRO) for (const tn of MICRO) for (const separateKV of [true, false]) {
    if (bm % tm || bn % tn) continue;
    const t = { bm, bn, tm, tn, separateKV } as T;
    const f = fits(t);
    if (!f || f.smem > lim.smem || f.nt > Math.min(256, lim.invocations) || f.nt < 16) continue;
    if (f.regs > 128 || f.micro > 16) continue;
    const score =
      4 * Math.log2(bm * bn) + (separateKV ? 1 : 0) + (f.nt >= 128 ? 2 : f.nt >= 64 ? 1 : 0) + (f.micro >= 8 ? 1.5 : f.micro >= 4 ? 0.5 : 0) - (f.regs > 64 ? 1 : 0);
    if (score > bestScore) {
      bestScore = score;
      best = t;
    }
  }
  return best;
}

const isPow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;

/**
 * Forward shapes measured on the H100/H200 through Dawn (f32, seqlen 4096, GPU timestamps after at least 1 s of
 * warm-up, 2026-11-22; README "Benchmark"), by head dim: tried in order where they fit the adapter, before the scored
 * search. d64: 96x32 with 6x2 scores per thread, K/V sharing one array, 23.2 TFLOP/s (needs 46.0 KiB), else 64x32 4x2
 * with separate K/V arrays 21.9, else 32x32 shared 20.7. d128: 48x32 3x2 22.7 (needs 47.3 KiB: a 48-row Q tile is what
 * leaves room for 32 keys), else 64x16 4x1 19.2, 64x16 4x2 and 32x32 4x2. Three score rows per thread at 256 threads
 * beat 2, 4 and 6 rows (18.3, 19.6, 17.4 at 48x32) and every 64-row tile.
 */
const PREFERRED_FWD: readonly { maxD: number; tiles: readonly NonNullable<TileOverride['fwd']>[] }[] = [
  { maxD: 64, tiles: [[96, 32, 6, 2, false], [64, 32, 4, 2, true], [32, 32, 4, 2, false]] },
  { maxD: 128, tiles: [[48, 32, 3, 2, false], [64, 16, 4, 1, false], [64, 16, 4, 2, false], [32, 32, 4, 2, false]] },
];

/**
 * Forward code options on by default: fexp (2^n from exponent bits in the f32 exp2 polynomial, the same values: +18%
 * at d128 alone in the H100 sweep) and, on GPUs, full unrolling of the QK^T and PV loops (the same operations in the
 * same order). Not fma: its sequential chains over d round f32 scores differently from `s += dot(a, b)`, and with it
 * on, three f32 cases of the H100 grid (d80/d96) exceeded the criterion (1.05-1.28x the bound; 2026-11-21 23:44 UTC),
 * for +2-11% of speed. A vec4 accumulator per score (four fma chains of d/4) and skipping the rescale where the row
 * max did not grow were tried on 2026-11-22 and gained nothing (within 1% either way), so neither is in the code.
 * stagger + imask + addr + pvfma (session 5, H100, f32, 1k/4k/16k): d128 20.8/22.7/22.0 -> 23.3/24.5/24.6, d64
 * 20.6/23.1/23.6 -> 25.6/27.2/27.4 TFLOP/s; pvfma alone +4-11% (the driver did not contract `o += p * w`). Each of
 * stagger and imask alone was slower at d128 than neither (register allocation: 162 registers per thread before,
 * 153 with all four, Tint's SPIR-V; one 256-thread workgroup per SM either way); with all on, turning one off costs
 * 0.7-16%. An explicit `fwdOpts` override replaces these defaults.
 */
export function defaultForwardOptions(lim: TileLimits): ForwardOptions {
  const base: ForwardOptions = { fexp: true, stagger: true, imask: true, addr: true, pvfma: true };
  return lim.cpu ? base : { ...base, unroll: true };
}

export function chooseForwardTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): ForwardTiles | null {
  let t: ForwardTiles | null = null;
  let from: TileOverride['fwd'];
  const pref = ov?.fwd ? [] : (PREFERRED_FWD.find((x) => Math.max(d, dv) <= x.maxD)?.tiles ?? []);
  for (const cand of pref) if (!t && (t = pickForward(d, dv, lim, { fwd: cand }, true))) from = cand;
  if (!t && (t = pickForward(d, dv, lim, ov))) from = ov?.fwd;
  if (!t) return null;
  // Prefetch (the next K/V tile in registers during the current one's math) unless the chosen tuple turns it off.
  t = { ...t, prefetch: from?.[5] ?? true };
  // Code options do not change the tile; dbuf (twice the K/V workgroup memory) is dropped where it does not fit.
  const opts = { ...forwardOptions(ov?.fwdOpts ?? defaultForwardOptions(lim)) };
  if (opts.dbuf && forwardSmem({ d, dv, subgroups: lim.subgroupMinSize >= forwardLayout({ d, dv }, t).g }, { ...t, dbuf: true }) > lim.smem) delete opts.dbuf;
  const ablate = forwardAblation(); // timing only (scripts/device-run.ts); unset in any other use
  return { ...t, ...opts, ...(ablate ? { ablate } : {}) };
}

function pickForward(d: number, dv: number, lim: TileLimits, ov?: TileOverride, onlyOverride = false): ForwardTiles | null {
  return pick<ForwardTiles>(lim, (t) => {
    const L = forwardLayout({ d, dv }, t);
    if (!isPow2(L.g) || L.g > 32) return null;
    const subgroups = lim.subgroupMinSize >= L.g;
    return { smem: forwardSmem({ d, dv, subgroups }, t), nt: L.nt, regs: t.tm * L.oc * 4, micro: t.tm * t.tn };
  }, ov?.fwd, onlyOverride);
}

/**
 * Backward shapes by head dim, tried in order where they fit, before the scored search (full override tuples).
 * Measured on the H100 (f32, seqlen 4096, forward+backward, 2026-11-21 23:20 UTC): d64 32x32 4x2 with separate K/V
 * arrays (loaded once per workgroup) 10.9 TFLOP/s, best of four; d128 16x32 2x2 with the shared K/V tile kept in
 * registers (prefetch 2) 10.0, against 8.8 for 32x16 4x1 and 9.8 for 32x16 4x1 with prefetch 2.
 * Session 6 (2026-11-22, per-kernel GPU time at 4k, runs 48-49, bwd5/bwd6.json): dK/dV d64 16x64 1x4 with K/V in
 * registers 57.2 ms against 58.8; dQ d64 64x16 4x1 unrolled 41.6 against 44.5, d128 32x16 2x2 unrolled 49.8 against
 * 57.6 (32 query rows per workgroup: half the K/V tile reloads). Unrolling the dK/dV kernel was slower everywhere
 * (d128 64.0 -> 76.2 ms, d64 58.8 -> 64.4), and so was partial unrolling of dQ (2, 4, 8 steps per iteration).
 */
const PREFERRED_DKV: readonly { maxD: number; tiles: readonly NonNullable<TileOverride['dkv']>[]; unroll?: BackwardUnroll }[] = [
  { maxD: 64, tiles: [[16, 64, 1, 4, false, 2, 4], [32, 32, 4, 2, true, 1, 4]], unroll: 'scores' },
  { maxD: 128, tiles: [[16, 32, 1, 2, false, 2, 4], [16, 32, 2, 2, false, 2, 4], [32, 16, 4, 1, false, 1, 4], [16, 16, 2, 2, false, 1, 4]], unroll: 'scores' },
];
/**
 * dQ tiles. `unroll` (both tables): how an entry's first (measured) tile is generated on GPUs (not on CPU adapters,
 * where unrolled kernels compile for minutes). Run 52 (bwd7.json), per kernel at 4k: dK/dV d64 with its S and dP loops
 * unrolled 54.1 ms against 57.2 (its sums unrolled too: 64.4; d128 either way slower); dQ d128 S and dP unrolled 48.5
 * against 50.2 fully unrolled, d64 the same either way (41.7 / 41.6). Runs 57-58 (bwd8/bwd9.json): dK/dV d128 16x32
 * with 1x2 scores per thread (256 threads) and its S/dP loops unrolled 62.2 ms against 63.9 for 2x2 in loops (1x2 in
 * loops measured level with 2x2 in run 41; 32x16 shapes, RK 2 / 8, prefetch 1, 4-step unrolling: 64-91 ms).
 */
const PREFERRED_DQ: readonly { maxD: number; tiles: readonly NonNullable<TileOverride['dq']>[]; unroll?: BackwardUnroll }[] = [
  { maxD: 64, tiles: [[64, 16, 4, 1, false, 1], [32, 32, 4, 2, true, 1]], unroll: true },
  { maxD: 128, tiles: [[32, 16, 2, 2, false, 1], [16, 32, 2, 2, false, 1], [16, 16, 2, 2, false, 1]], unroll: 'scores' },
];

/** The unroll setting: an explicit bwdOpts one, else (on a GPU) the table's, given only where its first (measured) tile was chosen. */
const backwardUnroll = (key: 'dkvUnroll' | 'dqUnroll', lim: TileLimits, ov: TileOverride | undefined) => (preferred: BackwardUnroll | undefined) =>
  unrollOpt(ov?.bwdOpts && key in ov.bwdOpts ? ov.bwdOpts[key] : lim.cpu ? undefined : preferred);

/** The override tuple if it fits, else the first preferred tile that fits, else the scored search; with its unroll setting. */
function chooseBackward<O>(
  override: O | undefined,
  table: readonly { maxD: number; tiles: readonly O[]; unroll?: BackwardUnroll }[],
  maxD: number,
  one: (o: O | undefined, onlyOverride: boolean) => BackwardTiles | null,
  unroll: (preferred: BackwardUnroll | undefined) => { unroll?: BackwardUnroll },
): BackwardTiles | null {
  let t = override ? one(override, true) : null;
  const pref = t ? undefined : table.find((x) => maxD <= x.maxD);
  let first = false;
  for (const [i, cand] of (pref?.tiles ?? []).entries()) if (!t && (t = one(cand, true))) first = i === 0;
  t ??= one(undefined, false);
  return t && { ...t, ...unroll(first ? pref?.unroll : undefined) };
}

const pfLevel = (x: boolean | number | undefined) => (x === undefined ? 1 : Number(x));

export function chooseDkvTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): BackwardTiles | null {
  const one = (o: NonNullable<TileOverride['dkv']> | undefined, onlyOverride: boolean) => {
    const rk = o?.[6];
    const with_ = (t: BackwardTiles): BackwardTiles => ({ ...t, prefetch: pfLevel(o?.[5]), rk: rk ?? dkvDefaultRk({ d, dv }, t) });
    const t = pick<BackwardTiles>(lim, (t0) => {
      const L = dkvLayout({ d, dv }, with_(t0));
      if (!isPow2(L.g) || L.g > 32 || !L.valid) return null;
      return { smem: dkvSmem({ d, dv }, with_(t0)), nt: L.nt, regs: L.rk * (L.ock + L.ocv) * 4, micro: t0.tm * t0.tn };
    }, o && [o[0], o[1], o[2], o[3], o[4]], onlyOverride);
    return t && with_(t);
  };
  return chooseBackward(ov?.dkv, PREFERRED_DKV, Math.max(d, dv), one, backwardUnroll('dkvUnroll', lim, ov));
}

export function chooseDqTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): BackwardTiles | null {
  const one = (o: NonNullable<TileOverride['dq']> | undefined, onlyOverride: boolean) => {
    const t = pick<BackwardTiles>(lim, (t0) => {
      const L = dqLayout({ d, dv }, t0);
      if (!isPow2(L.g) || L.g > 32 || !L.valid) return null;
      return { smem: dqSmem({ d, dv }, t0), nt: L.nt, regs: t0.tm * L.ock * 4, micro: t0.tm * t0.tn };
    }, o && [o[0], o[1], o[2], o[3], o[4]], onlyOverride);
    return t && { ...t, prefetch: pfLevel(o?.[5]) };
  };
  return chooseBackward(ov?.dq, PREFERRED_DQ, Math.max(d, dv), one, backwardUnroll('dqUnroll', lim, ov));
}
