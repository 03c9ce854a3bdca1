import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, cliBuilt, tempDir } from './helpers.js';

beforeAll(cliBuilt);

/** A usage or input error: exit 2, exactly one line on stderr, no stack trace. */
function expectUsageError(args: string[], message: string | RegExp) {
  const r = cli(args);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
}

describe('argument errors: one line naming the flag, exit 2', () => {
  it('unknown command and unknown flag', () => {
    expectUsageError(['frobnicate'], 'flashattn: "frobnicate": unknown command (commands: backends, conformance, run, bench)');
    expectUsageError(['conformance', '--fast'], /^flashattn: --fast: unknown flag for `flashattn conformance` \(flags: --full, --backends/);
  });

  it('bad values', () => {
    expectUsageError(['conformance', '--seed', 'abc'], 'flashattn: --seed: expected an integer in [0, 4294967295], got "abc"');
    expectUsageError(['conformance', '--seed'], 'flashattn: --seed: expected a value (N), got nothing');
    expectUsageError(['conformance', '--backends', 'reference,tpu'], 'flashattn: --backends: unknown backend "tpu" (known: cuda, rocm, webgpu, reference)');
    expectUsageError(['conformance', '--full', '--cases', 'x.json'], 'flashattn: --full: cannot be combined with --cases FILE');
    expectUsageError(['bench', '--dtype', 'f64'], 'flashattn: --dtype: expected one of f32, f16, bf16, got "f64"');
    expectUsageError(['bench', '--headdims', '64,,128'], 'flashattn: --headdims: expected a comma-separated list with no empty items, got "64,,128"');
    expectUsageError(['bench', '--peer', 'jax'], 'flashattn: --peer: expected torch, got "jax"');
    expectUsageError(['run', '--q', 'q.npy', '--k', 'k.npy'], 'flashattn: --v: required (a .npy file [batch, seqlenK, nheadsKV, headDimV])');
    expectUsageError(['run', '--q', 'a', '--k', 'b', '--v', 'c', '--window', '3'], 'flashattn: --window: expected L,R (two integers >= -1, -1 = unbounded), got "3"');
    expectUsageError(['run', '--q', 'a', '--k', 'b', '--v', 'c', '--window', '3,-2'], 'flashattn: --window: expected L,R with integers >= -1, got "-2"');
    expectUsageError(['run', '--q', 'a', '--k', 'b', '--v', 'c', '--softcap', '-1'], 'flashattn: --softcap: expected a finite number >= 0 (0 = off), got "-1"');
    expectUsageError(['run', '--q', 'a', '--k', 'b', '--v', 'c', '--scale', 'nan'], 'flashattn: --scale: expected a finite number > 0, got "nan"');
    expectUsageError(['run', '--q', 'a', '--k', 'b', '--v', 'c', '--dq', 'dq.npy'], 'flashattn: --dq: needs --dout FILE (the gradient of the output)');
    expectUsageError(['run', '--q', 'missing.npy', '--k', 'b', '--v', 'c'], /^flashattn: missing\.npy: cannot read: /);
  });

  it('--cases file errors name the file, the case and the field', () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"batch": 1}');
    expectUsageError(['conformance', '--cases', bad], new RegExp(`^flashattn: ${bad}: expected a JSON array of cases, got "invalid JSON`));
    writeFileSync(bad, JSON.stringify([{ batch: 1, seqlenQ: 8, seqlenK: 8, nheadsQ: 2, nheadsKV: 2, headDim: 0, dtype: 'f32' }]));
    expectUsageError(['conformance', '--cases', bad], `flashattn: ${bad}: cases[0].headDim: expected an integer in [1, 256], got 0`);
    writeFileSync(bad, JSON.stringify([{ batch: 1, seqlenQ: 8, seqlenK: 8, nheadsQ: 2, nheadsKV: 2, headDim: 8, dtype: 'f32', mask: 1 }]));
    expectUsageError(['conformance', '--cases', bad], new RegExp(`^flashattn: ${bad}: cases\\[0\\]\\.mask: expected no such field`));
  });
});

describe('flashattn backends', () => {
  it('lists every registered backend by priority; the reference is available', () => {
    const r = cli(['backends', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { backends: { name: string; priority: number; available: boolean; reason?: string; dtypes: string[] }[] };
    expect(j.backends.map((b) => [b.name, b.priority])).toEqual([['cuda', 100], ['rocm', 90], ['webgpu', 50], ['reference', 10]]);
    const ref = j.backends.find((b) => b.name === 'reference')!;
    expect(ref.available).toBe(true);
    expect(ref.dtypes).toEqual(expect.arrayContaining(['f32', 'f16', 'bf16']));
    for (const b of j.backends) if (!b.available) expect(b.reason, b.name).toMatch(/\S/);
  });
});

describe('flashattn conformance --cases', () => {
  it('runs a JSON case file on the reference and reports each result in the documented JSON shape', () => {
    const dir = tempDir();
    const file = join(dir, 'cases.json');
    const cases = [
      { batch: 2, seqlenQ: 33, seqlenK: 47, nheadsQ: 4, nheadsKV: 2, headDim: 40, dtype: 'f16', causal: true, backward: true, seed: 5 },
      { batch: 3, seqlenQ: 20, seqlenK: 31, nheadsQ: 3, nheadsKV: 1, headDim: 24, headDimV: 16, dtype: 'bf16', window: [4, 2], softcap: 2, varlen: true },
      { batch: 1, seqlenQ: 40, seqlenK: 16, nheadsQ: 2, nheadsKV: 2, headDim: 8, dtype: 'f32', causal: true, scale: 0.3, backward: true },
    ];
    writeFileSync(file, JSON.stringify(cases));
    const report = join(dir, 'report.json');
    const r = cli(['conformance', '--cases', file, '--backends', 'reference', '--seed', '11', '--json', '--report', report]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { results: Record<string, unknown>[]; summary: Record<string, Record<string, number>> };
    expect(JSON.parse(readFileSync(report, 'utf8'))).toEqual(j);
    expect(j.results).toHaveLength(3);
    j.results.forEach((res, i) => {
      expect(res.backend).toBe('reference');
      expect(res.status, String(res.reason)).toBe('pass');
      expect(typeof res.ratio).toBe('number');
      // The case is echoed with the seed that drew its inputs (its own, else derived from --seed).
      const { seed, ...rest } = res.case as Record<string, unknown>;
      expect(rest).toEqual(Object.fromEntries(Object.entries(cases[i]!).filter(([k]) => k !== 'seed')));
      expect(seed).toBe(i === 0 ? 5 : (11 + i * 7919) >>> 0);
    });
    expect(j.summary.reference).toEqual({ pass: 3, fail: 0, error: 0, unsupported: 0 });
  });

  it('prints the matrix and exits 3 when no backend could verify anything', () => {
    const dir = tempDir();
    const file = join(dir, 'cases.json');
    writeFileSync(file, JSON.stringify([{ batch: 1, seqlenQ: 8, seqlenK: 8, nheadsQ: 1, nheadsKV: 1, headDim: 8, dtype: 'f32' }]));
    // rocm has no AMD GPU on any machine this runs on; its cells must say unavailable with a reason.
    const r = cli(['conformance', '--cases', file, '--backends', 'rocm']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/rocm: \S/);
    expect(r.stdout).toContain('unavailable');
  });
});

describe('flashattn bench', () => {
  it('times the reference, reports TFLOP/s, says torch is absent, and writes an SVG chart', () => {
    const dir = tempDir();
    const chart = join(dir, 'chart.svg');
    const r = cli(['bench', '--backends', 'reference', '--headdims', '32', '--seqlens', '64,128', '--batch', '1', '--heads', '2',
      '--repeats', '2', '--warmup', '0', '--warmup-ms', '0', '--dtype', 'f32', '--peer', 'torch', '--chart', chart, '--json'], 300_000);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { results: { backend: string; seqlen: number; mode: string; ms: number; allMs: number[]; tflops: number; memoryMethod: string }[]; notes: string[] };
    const ours = j.results.filter((x) => x.backend === 'reference');
    expect(ours.map((x) => `${x.seqlen} ${x.mode}`)).toEqual(['64 fwd', '64 fwd+bwd', '128 fwd', '128 fwd+bwd']);
    for (const x of ours) {
      expect(x.ms).toBeGreaterThan(0);
      expect(x.allMs).toHaveLength(2);
      expect(x.allMs).toContain(x.ms); // the median of two is the larger one, one of the timed calls
      // flash-attn's count: 4 b h s^2 d forward, 3.5x that for forward+backward.
      const flops = 4 * 1 * 2 * x.seqlen * x.seqlen * 32 * (x.mode === 'fwd' ? 1 : 3.5);
      expect(x.tflops).toBeCloseTo(flops / (x.ms * 1e-3) / 1e12, 12);
      expect(x.memoryMethod).toMatch(/host process/);
    }
    const torchRows = j.results.filter((x) => x.backend.startsWith('torch'));
    if (torchRows.length === 0) expect(j.notes.join('\n')).toMatch(/torch peer: not run: /);
    const svg = readFileSync(chart, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('reference');
    expect(svg).toContain('TFLOP/s');
    expect(existsSync(chart)).toBe(true);
  }, 300_000);
});
