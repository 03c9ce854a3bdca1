/** `bench --peer torch`: runs apps/cli/peers/torch_sdpa.py (PyTorch SDPA, flash and cuDNN) on the same shapes. */
import type { DType } from '@flashattn/core';
import { env, fileExists, runProgram, shippedFile } from './host.js';

export interface TorchRequest {
  dtype: DType;
  causal: boolean;
  repeats: number;
  warmup: number;
  /** Keep warming up until this many milliseconds have passed. */
  warmupMs: number;
  modes: ('fwd' | 'fwd+bwd')[];
  shapes: { batch: number; seqlen: number; heads: number; headDim: number }[];
}

export interface TorchRow {
  backend: string;
  batch: number;
  seqlen: number;
  heads: number;
  headDim: number;
  mode: 'fwd' | 'fwd+bwd';
  ms?: number;
  peakBytes?: number;
  unsupported?: string;
}

export type TorchAnswer =
  | { available: true; device: string; torch: string; results: TorchRow[] }
  | { available: false; reason: string };

export async function runTorchPeer(req: TorchRequest): Promise<TorchAnswer> {
  const script = shippedFile('peers/torch_sdpa.py');
  if (!fileExists(script)) return { available: false, reason: `peer script not found at ${script}` };
  const python = env('FLASHATTN_PYTHON') ?? 'python3';
  const r = await runProgram(python, [script], JSON.stringify(req));
  if (r.spawnError) return { available: false, reason: `cannot start ${python}: ${r.spawnError}` };
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as TorchAnswer;
  } catch {
    const why = r.stderr.trim().split('\n').pop() || `exit code ${r.code}`;
    return { available: false, reason: `${python} ${script} failed: ${why}` };
  }
}
