/**
 * `flashattn run`: attention on NumPy .npy tensors. q [batch, seqlenQ, nheadsQ, headDim], k [batch, seqlenK,
 * nheadsKV, headDim], v [batch, seqlenK, nheadsKV, headDimV]; outputs are float32 .npy files.
 */
import { fromFloat, makeProblem, toFloat32, type DType, type Problem } from '@flashattn/core';
import { Flags, UsageError, type FlagSpecs } from './args.js';
import { BACKEND_NAMES, loadRegistry } from './backends.js';
import { err, readBytes, writeBytes } from './host.js';
import { encodeNpyF32, NpyError, parseNpy, type NpyArray } from './npy.js';

export const RUN_FLAGS: FlagSpecs = {
  q: { kind: 'string', value: 'FILE', help: 'queries .npy [batch, seqlenQ, nheadsQ, headDim] (float16/float32/float64)' },
  k: { kind: 'string', value: 'FILE', help: 'keys .npy [batch, seqlenK, nheadsKV, headDim]' },
  v: { kind: 'string', value: 'FILE', help: 'values .npy [batch, seqlenK, nheadsKV, headDimV]' },
  dtype: { kind: 'string', value: 'f32|f16|bf16', help: 'compute dtype (default f16 for float16 files, else f32); inputs are rounded to it' },
  causal: { kind: 'bool', help: 'causal mask, aligned bottom-right as in flash-attn >= 2.1' },
  window: { kind: 'string', value: 'L,R', help: 'sliding window (-1 = unbounded)' },
  softcap: { kind: 'string', value: 'X', help: 'tanh softcapping of scores (0 = off)' },
  scale: { kind: 'string', value: 'S', help: 'softmax scale (default 1/sqrt(headDim))' },
  backend: { kind: 'string', value: 'NAME', help: `use exactly this backend (${BACKEND_NAMES.join(', ')}); default: the best available` },
  out: { kind: 'string', value: 'FILE', help: 'write the output, float32 [batch, seqlenQ, nheadsQ, headDimV]' },
  lse: { kind: 'string', value: 'FILE', help: 'write the log-sum-exp, float32 [batch, nheadsQ, seqlenQ]' },
  dout: { kind: 'string', value: 'FILE', help: 'output gradient .npy (shaped like out): also run the backward pass' },
  dq: { kind: 'string', value: 'FILE', help: 'with --dout: write dq, float32 shaped like q' },
  dk: { kind: 'string', value: 'FILE', help: 'with --dout: write dk, float32 shaped like k' },
  dv: { kind: 'string', value: 'FILE', help: 'with --dout: write dv, float32 shaped like v' },
  help: { kind: 'bool', help: 'show this help' },
};

function load(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readBytes(file);
  } catch (e) {
    throw new NpyError(file, `cannot read: ${(e as Error).message}`);
  }
  return parseNpy(bytes, file);
}

const SHAPE_NAMES = {
  q: '[batch, seqlenQ, nheadsQ, headDim]',
  k: '[batch, seqlenK, nheadsKV, headDim]',
  v: '[batch, seqlenK, nheadsKV, headDimV]',
  dout: '[batch, seqlenQ, nheadsQ, headDimV]',
} as const;

function rank4(file: string, a: NpyArray, role: keyof typeof SHAPE_NAMES): void {
  if (a.shape.length !== 4) throw new NpyError(file, `wrong rank: ${role} must be rank 4 ${SHAPE_NAMES[role]}, got shape (${a.shape.join(', ')})`);
}

function expectShape(file: string, a: NpyArray, role: keyof typeof SHAPE_NAMES, want: number[], why: string): void {
  if (a.shape.some((d, i) => d !== want[i]))
    throw new NpyError(file, `shape (${a.shape.join(', ')}) does not fit: ${role} must be ${SHAPE_NAMES[role]} = (${want.join(', ')}) ${why}`);
}

export async function run(f: Flags): Promise<number> {
  for (const r of ['q', 'k', 'v'] as const) if (!f.has(r)) throw new UsageError(`--${r}: required (a .npy file ${SHAPE_NAMES[r]})`);
  const wantGrads = ['dq', 'dk', 'dv'].filter((n) => f.has(n));
  if (wantGrads.length && !f.has('dout')) throw new UsageError(`--${wantGrads[0]}: needs --dout FILE (the gradient of the output)`);
  if (f.has('dout') && !wantGrads.length) throw new UsageError('--dout: give at least one of --dq, --dk, --dv to write');
  const backendName = f.str('backend');
  if (backendName !== undefined && !BACKEND_NAMES.includes(backendName))
    throw new UsageError(`--backend: unknown backend ${JSON.stringify(backendName)} (known: ${BACKEND_NAMES.join(', ')})`);
  const window = f.window('window');
  const softcap = f.num('softcap', (x) => x >= 0, 'a finite number >= 0 (0 = off)');
  const scale = f.num('scale', (x) => x > 0, 'a finite number > 0');
  let dtype = f.dtype('dtype');

  const files = { q: f.str('q')!, k: f.str('k')!, v: f.str('v')! };
  const q = load(files.q);
  const k = load(files.k);
  const v = load(files.v);
  rank4(files.q, q, 'q');
  rank4(files.k, k, 'k');
  rank4(files.v, v, 'v');
  const [batch, seqlenQ, nheadsQ, headDim] = q.shape as [number, number, number, number];
  const [, seqlenK, nheadsKV] = k.shape as [number, number, number, number];
  expectShape(files.k, k, 'k', [batch, seqlenK, nheadsKV, headDim], `(batch ${batch} and headDim ${headDim} from ${files.q})`);
  const headDimV = v.shape[3]!;
  expectShape(files.v, v, 'v', [batch, seqlenK, nheadsKV, headDimV], `(batch, seqlenK, nheadsKV from ${files.k})`);
  dtype ??= q.descr === '<f2' ? 'f16' : 'f32';

  const p: Problem = makeProblem({
    batch, seqlenQ, seqlenK, nheadsQ, nheadsKV, headDim, headDimV, dtype,
    causal: f.bool('causal'), window, softcap, scale, returnLse: true,
  });
  let dout: NpyArray | undefined;
  if (f.has('dout')) {
    const file = f.str('dout')!;
    dout = load(file);
    rank4(file, dout, 'dout');
    expectShape(file, dout, 'dout', [batch, seqlenQ, nheadsQ, headDimV], `(from ${files.q} and ${files.v})`);
  }

  const { registry } = await loadRegistry();
  try {
    const { backend, skipped } = await registry.select(p, backendName !== undefined ? { require: backendName } : {});
    for (const s of skipped) err(`flashattn run: skipped ${s.name}: ${s.reasons.join('; ')}\n`);
    const enc = (a: NpyArray) => fromFloat(dtype as DType, a.data);
    const inputs = { q: enc(q), k: enc(k), v: enc(v) };
    const t0 = performance.now();
    const fwd = await backend.forward(p, inputs);
    const written: string[] = [];
    const outFile = f.str('out');
    if (outFile !== undefined) {
      writeBytes(outFile, encodeNpyF32([batch, seqlenQ, nheadsQ, headDimV], toFloat32(p.dtype, fwd.out)));
      written.push(`out -> ${outFile}`);
    }
    const lseFile = f.str('lse');
    if (lseFile !== undefined) {
      if (!fwd.lse) throw new Error(`backend ${backend.name} returned no lse though it was requested`);
      writeBytes(lseFile, encodeNpyF32([batch, nheadsQ, seqlenQ], fwd.lse));
      written.push(`lse -> ${lseFile}`);
    }
    if (dout) {
      if (!fwd.lse) throw new Error(`backend ${backend.name} returned no lse though it was requested`);
      const g = await backend.backward(p, { ...inputs, out: fwd.out, lse: fwd.lse, dout: enc(dout) });
      const shapes = { dq: q.shape, dk: k.shape, dv: v.shape };
      for (const n of ['dq', 'dk', 'dv'] as const) {
        const file = f.str(n);
        if (file === undefined) continue;
        writeBytes(file, encodeNpyF32(shapes[n], toFloat32(p.dtype, g[n])));
        written.push(`${n} -> ${file}`);
      }
    }
    const ms = performance.now() - t0;
    err(`flashattn run: ${backend.name}, ${p.dtype}, q (${q.shape.join(', ')}), ${ms.toFixed(1)} ms${written.length ? `; ${written.join(', ')}` : '; nothing written (give --out/--lse)'}\n`);
    return 0;
  } finally {
    await registry.disposeAll();
  }
}
