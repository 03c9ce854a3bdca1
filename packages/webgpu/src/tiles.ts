import { forwardLayout, forwardSmem, type ForwardTiles } from './wgsl-forward.js';
import { dkvLayout, dkvSmem, dqLayout, dqSmem, type BackwardTiles } from './wgsl-backward.js';

/** What tile choice depends on: head dims and the adapter's workgroup limits. */
export interface TileLimits {
  readonly smem: number;
  readonly invocations: number;
  /** Subgroup size guaranteed by the adapter (0 = no subgroups). */
  readonly subgroupMinSize: number;
}

export interface TileOverride {
  /** [bm, bn, tm, tn, separateKV, prefetch (default: on)] */
  fwd?: [number, number, number, number, boolean, boolean?];
  dkv?: [number, number, number, number, boolean];
  dq?: [number, number, number, number, boolean];
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
 * Forward shapes measured on the H200 through Dawn (f32, seqlen 4096, 2026-11-21; README "Benchmark"), by head dim:
 * tried in order where they fit the adapter, before the scored search. 4x2 scores per thread won at both head dims;
 * at d64, 32x32 with K/V sharing one array (15.8 TFLOP/s) is the shape the full grid ran with; 64x32 with separate
 * K/V arrays measured 16.5 in a later sweep and is the next candidate once it has been through the grid.
 */
const PREFERRED_FWD: readonly { maxD: number; tiles: readonly [number, number, number, number, boolean][] }[] = [
  { maxD: 64, tiles: [[32, 32, 4, 2, false]] },
  { maxD: 128, tiles: [[64, 16, 4, 2, false], [32, 32, 4, 2, false]] },
];

export function chooseForwardTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): ForwardTiles | null {
  let t: ForwardTiles | null = null;
  if (!ov?.fwd) {
    const pref = PREFERRED_FWD.find((x) => Math.max(d, dv) <= x.maxD);
    for (const cand of pref?.tiles ?? []) if (!t) t = pickForward(d, dv, lim, { fwd: cand }, true);
  }
  t ??= pickForward(d, dv, lim, ov);
  // Prefetch (the next K/V tile in registers during the current one's math) unless the override turns it off.
  return t && { ...t, prefetch: ov?.fwd?.[5] ?? true };
}

function pickForward(d: number, dv: number, lim: TileLimits, ov?: TileOverride, onlyOverride = false): ForwardTiles | null {
  return pick<ForwardTiles>(lim, (t) => {
    const L = forwardLayout({ d, dv }, t);
    if (!isPow2(L.g) || L.g > 32) return null;
    const subgroups = lim.subgroupMinSize >= L.g;
    return { smem: forwardSmem({ d, dv, subgroups }, t), nt: L.nt, regs: t.tm * L.oc * 4, micro: t.tm * t.tn };
  }, ov?.fwd, onlyOverride);
}

export function chooseDkvTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): BackwardTiles | null {
  return pick<BackwardTiles>(lim, (t) => {
    const L = dkvLayout({ d, dv }, t);
    if (!isPow2(L.g) || L.g > 32) return null;
    return { smem: dkvSmem({ d, dv }, t), nt: L.nt, regs: t.tn * (L.ock + L.ocv) * 4, micro: t.tm * t.tn };
  }, ov?.dkv);
}

export function chooseDqTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): BackwardTiles | null {
  return pick<BackwardTiles>(lim, (t) => {
    const L = dqLayout({ d, dv }, t);
    if (!isPow2(L.g) || L.g > 32) return null;
    return { smem: dqSmem({ d, dv }, t), nt: L.nt, regs: t.tm * L.ock * 4, micro: t.tm * t.tn };
  }, ov?.dq);
}
