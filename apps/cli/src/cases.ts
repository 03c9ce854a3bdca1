/**
 * The built-in conformance matrix: flash-attn's own test grid (tests/test_flash_attn.py) — head dims, (seqlenQ,
 * seqlenK) pairs, dtypes, causal — with GQA/MQA, sliding window, softcap, varlen, headDimV and backward cycled over it.
 * The quick set is a small slice that still touches every head dim, dtype and feature; --full is the whole grid.
 */
import { DTYPES, parseCase, ValidationError, type CaseSpec, type DType } from '@flashattn/core';

export const HEAD_DIMS = [32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 224, 256] as const;
export const SEQLEN_PAIRS: readonly (readonly [number, number])[] = [
  [113, 203], [128, 217], [113, 211], [108, 256], [256, 512], [512, 256], [1024, 1024], [1023, 1024], [1024, 1023],
];

type Heads = 'mha' | 'gqa' | 'mqa';
const HEADS: Record<Heads, [number, number]> = { mha: [2, 2], gqa: [4, 2], mqa: [3, 1] };

interface Variant {
  heads: Heads;
  window?: 'both' | 'left' | 'right';
  softcap?: boolean;
  varlen?: boolean;
}

function windowFor(kind: 'both' | 'left' | 'right', sk: number): [number, number] {
  if (kind === 'left') return [Math.max(1, sk >> 3), -1];
  if (kind === 'right') return [-1, Math.max(1, sk >> 4)];
  return [Math.max(1, sk >> 2), Math.max(1, sk >> 3)];
}

function build(d: number, [sq, sk]: readonly [number, number], dtype: DType, causal: boolean, v: Variant, backward: boolean, batch: number): CaseSpec {
  const [hq, hk] = HEADS[v.heads];
  const c: CaseSpec = { batch: v.varlen ? Math.max(3, batch) : batch, seqlenQ: sq, seqlenK: sk, nheadsQ: hq, nheadsKV: hk, headDim: d, dtype };
  if (causal) c.causal = true;
  if (v.window) c.window = windowFor(v.window, sk);
  // Scores of randn inputs are ~N(0, 1); a cap of 1.5 makes tanh bend them for real.
  if (v.softcap) c.softcap = 1.5;
  if (v.varlen) c.varlen = true;
  if (backward) c.backward = true;
  return c;
}

/** The quick set: every head dim, dtype and feature at least once, small enough for the CPU reference in a minute or so. */
export function quickCases(): CaseSpec[] {
  const q = (d: number, pair: number, dtype: DType, causal: boolean, v: Variant, backward = true, batch = 2) =>
    build(d, SEQLEN_PAIRS[pair]!, dtype, causal, v, backward, batch);
  const cases: CaseSpec[] = [
    q(32, 0, 'f32', false, { heads: 'mha' }),
    q(40, 1, 'f16', true, { heads: 'gqa' }),
    q(59, 2, 'bf16', false, { heads: 'mqa', window: 'both' }),
    q(64, 3, 'f32', false, { heads: 'mha', softcap: true }),
    q(80, 0, 'f16', false, { heads: 'mha', varlen: true }),
    q(96, 1, 'bf16', true, { heads: 'gqa', softcap: true }, false),
    q(111, 2, 'f32', true, { heads: 'gqa', window: 'left', varlen: true }),
    q(128, 4, 'f16', true, { heads: 'mha' }, true, 1),
    q(160, 5, 'bf16', true, { heads: 'mha' }, false, 1), // seqlenQ > seqlenK: the first rows see no key
    q(192, 3, 'f32', false, { heads: 'mqa', window: 'right' }),
    q(224, 0, 'f16', false, { heads: 'gqa', softcap: true, window: 'both' }),
    q(256, 1, 'bf16', true, { heads: 'mqa', varlen: true }),
    q(64, 7, 'bf16', true, { heads: 'mha' }, false, 1),
    q(128, 8, 'f32', false, { heads: 'gqa', window: 'both', softcap: true }, false, 1),
  ];
  cases.push({ ...q(128, 0, 'f32', true, { heads: 'mha' }), headDimV: 64 });
  cases.push({ ...q(64, 2, 'f16', false, { heads: 'gqa', varlen: true }), headDimV: 128 });
  cases.push({ ...q(32, 3, 'bf16', false, { heads: 'mha' }), scale: 0.5 });
  cases.push({ ...q(64, 5, 'f32', false, { heads: 'mha', window: 'both' }, true, 1), window: [0, 0] }); // rows i < 256 see no key
  // Rows at spread magnitudes (CaseSpec.spread): where S or P·V keeps fewer bits than the dtype, randn can hide it.
  cases.push({ ...q(64, 0, 'f32', true, { heads: 'gqa' }), spread: true });
  cases.push({ ...q(128, 1, 'bf16', false, { heads: 'mha', varlen: true }, false), spread: true });
  return cases;
}

const VARIANTS: readonly Variant[] = [
  { heads: 'mha' },
  { heads: 'gqa' },
  { heads: 'mqa', window: 'both' },
  { heads: 'mha', softcap: true },
  { heads: 'gqa', varlen: true },
  { heads: 'mqa', window: 'left', softcap: true },
  { heads: 'mha', window: 'right', varlen: true },
];

/** flash-attn's grid: 12 head dims x 9 seqlen pairs x 3 dtypes x causal on/off, with the features cycled over it. */
export function fullCases(): CaseSpec[] {
  const out: CaseSpec[] = [];
  let i = 0;
  for (const d of HEAD_DIMS)
    for (const pair of SEQLEN_PAIRS)
      for (const dtype of DTYPES)
        for (const causal of [false, true]) {
          const v = VARIANTS[i % VARIANTS.length]!;
          const big = pair[0] * pair[1] > 256 * 512;
          const c = build(d, pair, dtype, causal, v, i % 3 !== 2, big ? 1 : 2);
          if (i % 11 === 5) c.headDimV = d === 256 ? 128 : Math.min(256, d * 2);
          out.push(c);
          i++;
        }
  return out;
}

/** Parse a --cases file's JSON: an array of CaseSpec, each checked by core's parseCase. */
export function parseCasesJson(text: string, file: string): CaseSpec[] {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(file, 'a JSON array of cases', `invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(x)) throw new ValidationError(file, 'a JSON array of cases', Array.isArray(x) ? 'array' : typeof x);
  if (x.length === 0) throw new ValidationError(file, 'a non-empty JSON array of cases', '[]');
  return x.map((c, i) => parseCase(c, `${file}: cases[${i}]`));
}

/** Give each case a seed: its own, else base + index (reproducible with --seed), else a fresh one. */
export function seeded(cases: readonly CaseSpec[], base: number | undefined, fresh: () => number): CaseSpec[] {
  return cases.map((c, i) => ({ ...c, seed: c.seed ?? (base !== undefined ? (base + i * 7919) >>> 0 : fresh()) }));
}
