import type { Problem } from '@flashattn/core';

export const CUDA_MAX_HEAD_DIM = 256;

/** Reasons (PyTorch-SDPA style) the cuda kernels cannot run a problem; empty = accepted. */
export function cudaReasons(p: Problem): string[] {
  const r: string[] = [];
  if (p.headDim % 8 !== 0) r.push(`headDim ${p.headDim} is not a multiple of 8 (cuda)`);
  if (p.headDimV % 8 !== 0) r.push(`headDimV ${p.headDimV} is not a multiple of 8 (cuda)`);
  if (p.headDim > CUDA_MAX_HEAD_DIM) r.push(`headDim ${p.headDim} > ${CUDA_MAX_HEAD_DIM} supported by cuda`);
  if (p.headDimV > CUDA_MAX_HEAD_DIM) r.push(`headDimV ${p.headDimV} > ${CUDA_MAX_HEAD_DIM} supported by cuda`);
  if (p.dtype !== 'f16' && p.dtype !== 'bf16' && p.dtype !== 'f32') r.push(`dtype ${p.dtype} is not supported by cuda (f16, bf16, f32)`);
  // Row offsets, LSE indices and element offsets are 32/64-bit in the kernels; the addon passes int32 offsets.
  if (p.totalQ * p.nheadsQ > 0x7fffffff) r.push(`totalQ * nheadsQ = ${p.totalQ * p.nheadsQ} rows > 2^31 - 1 supported by cuda`);
  return r;
}
