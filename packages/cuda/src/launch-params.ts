import { lseLayout, type DType, type Problem } from '@flashattn/core';
import type { LaunchParams } from './addon-types.js';

const DTYPE_CODE: Record<DType, number> = { f32: 0, f16: 1, bf16: 2 };

function maxLength(cu: Int32Array): number {
  let m = 0;
  for (let b = 0; b + 1 < cu.length; b++) m = Math.max(m, cu[b + 1]! - cu[b]!);
  return m;
}

// Problems are frozen and reused call after call; build their launch parameters once.
const cache = new WeakMap<Problem, LaunchParams>();

/** FlashFwdParams' scalar fields for a problem (pointers are added by the addon). */
export function launchParams(p: Problem): LaunchParams {
  let lp = cache.get(p);
  if (lp) return lp;
  const lse = lseLayout(p);
  const named = {
    batch: p.batch,
    hQ: p.nheadsQ,
    hKV: p.nheadsKV,
    dQK: p.headDim,
    dV: p.headDimV,
    // The real longest sequence (varlen seqlenQ/K are upper bounds): no grid blocks for rows that do not exist.
    maxSeqlenQ: maxLength(p.cuSeqlensQ),
    maxSeqlenK: maxLength(p.cuSeqlensK),
    totalQ: p.totalQ,
    totalK: p.totalK,
    lseBatchStride: lse.batchStride,
    lseHeadStride: lse.headStride,
    lseVarlenRows: lse.varlenRows ? 1 : 0,
    scale: p.scale,
    softcap: p.softcap,
    windowLeft: p.window[0],
    windowRight: p.window[1],
    dtype: DTYPE_CODE[p.dtype],
  };
  // The order of `Packed` in csrc/addon/attention_launch.cc.
  const packed = Float64Array.from([
    named.batch, named.hQ, named.hKV, named.dQK, named.dV, named.maxSeqlenQ, named.maxSeqlenK, named.lseBatchStride,
    named.lseHeadStride, named.lseVarlenRows, named.scale, named.softcap, named.windowLeft, named.windowRight, named.dtype,
  ]);
  lp = Object.freeze({ ...named, packed, cuSeqlensQ: p.cuSeqlensQ, cuSeqlensK: p.cuSeqlensK });
  cache.set(p, lp);
  return lp;
}
