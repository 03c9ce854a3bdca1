/**
 * Tile sizes of the portable kernels: the largest (rows BM, keys BN) whose shared-memory footprint, as laid out in
 * kernels/flash_fwd.h and flash_bwd.h, fits 48 KiB (the limit without opt-in on NVIDIA; AMD LDS has 64 KiB).
 * Tiles hold the accumulation type: 8-byte double for f32 problems, 4-byte float for f16/bf16.
 */
import type { DType } from '@flashattn/core';

export const THREADS = 256;
export const SHARED_LIMIT = 48 * 1024;

export type KernelKind = 'fwd' | 'dq' | 'dkv';

export function accBytes(dtype: DType): number {
  return dtype === 'f32' ? 8 : 4;
}

/** Bytes of dynamic shared memory each portable kernel needs (K/V rows padded by one element). */
export function sharedBytes(kind: KernelKind, d: number, dv: number, BM: number, BN: number, acc: number): number {
  const kd = d + 1;
  const vd = dv + 1;
  let elems: number;
  if (kind === 'fwd') elems = BM * d + BN * kd + BN * vd + BM * dv + BM * BN + 3 * BM + Math.ceil((2 * BM * 4) / acc);
  else if (kind === 'dq') elems = BM * d + BM * dv + BM * d + BN * kd + BN * vd + 2 * BM * BN + 2 * BM;
  else elems = BN * kd + BN * vd + BN * d + BN * dv + BM * d + BM * dv + 2 * BM * BN + 2 * BM;
  return elems * acc;
}

// Preference order: wide key tiles for the forward and dq (rows reuse them), wide query tiles for dkv.
const SIZES = [64, 32, 16, 8, 4, 2, 1];

export function chooseTiles(kind: KernelKind, d: number, dv: number, dtype: DType): { BM: number; BN: number; shared: number } {
  const acc = accBytes(dtype);
  const maxRows = 16;
  const maxKeys = kind === 'dkv' ? 32 : 64;
  // Largest tile area first; ties go to more rows for fwd/dq, more keys for dkv.
  const options: { BM: number; BN: number; shared: number }[] = [];
  for (const BM of SIZES) for (const BN of SIZES) {
    if (BM > maxRows || BN > maxKeys) continue;
    const shared = sharedBytes(kind, d, dv, BM, BN, acc);
    if (shared <= SHARED_LIMIT) options.push({ BM, BN, shared });
  }
  options.sort((a, b) => b.BM * b.BN - a.BM * a.BN || (kind === 'dkv' ? b.BN - a.BN : b.BM - a.BM));
  const best = options[0];
  if (!best) throw new RangeError(`no tile fits ${SHARED_LIMIT} bytes for ${kind} d=${d} dv=${dv} ${dtype}`);
  return best;
}
