import { makeProblem, type CaseSpec } from '@flashattn/core';
import { describe, expect, it } from 'vitest';
import { fullCases, HEAD_DIMS, quickCases, SEQLEN_PAIRS, seeded } from '../src/cases.js';

function features(c: CaseSpec): string[] {
  const f: string[] = [c.dtype];
  if (c.causal) f.push('causal');
  if (c.window) f.push('window');
  if (c.softcap) f.push('softcap');
  if (c.varlen) f.push('varlen');
  if (c.backward) f.push('backward');
  if (c.nheadsKV === 1 && c.nheadsQ > 1) f.push('mqa');
  else if (c.nheadsKV < c.nheadsQ) f.push('gqa');
  if (c.headDimV !== undefined && c.headDimV !== c.headDim) f.push('headDimV');
  if (c.scale !== undefined) f.push('scale');
  if (c.spread) f.push('spread');
  return f;
}

const ALL = ['f32', 'f16', 'bf16', 'causal', 'window', 'softcap', 'varlen', 'backward', 'mqa', 'gqa', 'headDimV'];

describe('built-in case matrix', () => {
  it('quick set: every head dim of the grid, every dtype and every feature, all valid problems', () => {
    const q = quickCases();
    expect(new Set(q.map((c) => c.headDim))).toEqual(new Set(HEAD_DIMS));
    const seen = new Set(q.flatMap(features));
    for (const f of [...ALL, 'scale', 'spread']) expect(seen.has(f), f).toBe(true);
    // forward-only cases too, so a backend without backward is still checked
    expect(q.some((c) => !c.backward)).toBe(true);
    // rows that see no key: causal with seqlenQ > seqlenK, and an empty window
    expect(q.some((c) => c.causal && c.seqlenQ > c.seqlenK)).toBe(true);
    for (const c of q) expect(() => makeProblem({ ...c, varlen: undefined, backward: undefined, seed: undefined } as never)).not.toThrow();
  });

  it("full grid: flash-attn's head dims x seqlen pairs x dtypes x causal, with every feature", () => {
    const full = fullCases();
    expect(full).toHaveLength(HEAD_DIMS.length * SEQLEN_PAIRS.length * 3 * 2);
    const keys = new Set(full.map((c) => `${c.headDim} ${c.seqlenQ} ${c.seqlenK} ${c.dtype} ${Boolean(c.causal)}`));
    expect(keys.size).toBe(full.length);
    const seen = new Set(full.flatMap(features));
    for (const f of ALL) expect(seen.has(f), f).toBe(true);
    for (const c of full) expect(() => makeProblem({ ...c, varlen: undefined, backward: undefined, seed: undefined } as never)).not.toThrow();
  });

  it('seeds: a case keeps its own, --seed derives the rest reproducibly, else fresh', () => {
    const cs = [{ ...quickCases()[0]!, seed: 42 }, quickCases()[1]!];
    expect(seeded(cs, 100, () => 7).map((c) => c.seed)).toEqual([42, 100 + 7919]);
    expect(seeded(cs, undefined, () => 7).map((c) => c.seed)).toEqual([42, 7]);
  });
});
