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
  // Grid dimensions y (heads) and z (batch) of the kernels.
  if (p.nheadsQ > 65535) r.push(`nheadsQ ${p.nheadsQ} > 65535 supported by cuda (grid limit)`);
  if (p.batch > 65535) r.push(`batch ${p.batch} > 65535 supported by cuda (grid limit)`);
  return r;
}
