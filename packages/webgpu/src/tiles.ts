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
  fwd?: [number, number, number, number, boolean];
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
  override?: [number, number, number, number, boolean],
): T | null {
  if (override) {
    const [bm, bn, tm, tn, separateKV] = override;
    const t = { bm, bn, tm, tn, separateKV } as T;
    const f = fits(t);
    if (f && f.smem <= lim.smem && f.nt <= lim.invocations) return t;
  }
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

export function chooseForwardTiles(d: number, dv: number, lim: TileLimits, ov?: TileOverride): ForwardTiles | null {
  return pick<ForwardTiles>(lim, (t) => {
    const L = forwardLayout({ d, dv }, t);
    if (!isPow2(L.g) || L.g > 32) return null;
    const subgroups = lim.subgroupMinSize >= L.g;
    return { smem: forwardSmem({ d, dv, subgroups }, t), nt: L.nt, regs: t.tm * L.oc * 4, micro: t.tm * t.tn };
  }, ov?.fwd);
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
