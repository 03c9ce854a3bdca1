/**
 * Everything the GPU machine runs for this package, in one process (bundle with esbuild, platform node, external
 * webgpu): conformance sweep over the flash-attn grid against the float64 oracle (computed in worker threads),
 * tile variants, and the forward / forward+backward benchmark. Writes JSON lines to $OUT (or stdout).
 * Usage: node device-run.js [conformance] [tiles] [bwdtiles] [bench] [savedstats]
 * KERNELS=1: bench and bwdtiles time each kernel (a compute pass each) and report the medians per kernel.
 * BWD_STATS=recompute: the backward gets a view of the LSE without the forward's saved row statistics.
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  caseLabel, checkBackend, computeOracle, forwardFlops, fromFloat, generateCase, makeProblem, tensorSizes, type CaseSpec, type DType, type OracleAnswers,
} from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createWebGPUBackend, type TileOverride, type WebGPUBackend } from '../src/index.js';
// Not exported by the package: the forward's timing-only ablations, reachable from this script alone.
import { FORWARD_ABLATIONS, TC_ABLATIONS, setForwardAblation, type ForwardAblation } from '../src/wgsl-forward.js';
import { withF32AccumulatingNaive } from './f32-naive.js';
import type { WebGPUTensor } from '../src/device-tensor.js';
import { savedStatsCheck, withoutRowStats } from './saved-stats-check.js';

const oracleF32Acc = withF32AccumulatingNaive(referenceOracle);


function out(file: string, obj: unknown) {
  const line = JSON.stringify(obj);
  console.log(line);
  const dir = process.env.OUT;
  if (dir) appendFileSync(`${dir}/${file}`, line + '\n');
}

class Pool {
  #workers: Worker[] = [];
  #free: Worker[] = [];
  #queue: (() => void)[] = [];
  #pending = new Map<number, (a: OracleAnswers) => void>();
  #id = 0;
  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL(import.meta.url));
      w.on('message', (m: { id: number; a: OracleAnswers }) => {
        this.#pending.get(m.id)!(m.a);
        this.#pending.delete(m.id);
        this.#free.push(w);
        this.#queue.shift()?.();
      });
      this.#workers.push(w);
      this.#free.push(w);
    }
  }
  run(spec: CaseSpec, f32acc: boolean): Promise<OracleAnswers> {
    return new Promise((resolve) => {
      const go = () => {
        const w = this.#free.pop()!;
        const id = this.#id++;
        this.#pending.set(id, resolve);
        w.postMessage({ id, spec, f32acc });
      };
      if (this.#free.length) go();
      else this.#queue.push(go);
    });
  }
  async close() {
    for (const w of this.#workers) await w.terminate();
  }
}

/**
 * `spread`: the forward with tensor cores on and off on inputs with rows at spread magnitudes (CaseSpec.spread),
 * SPREAD_TRIALS fresh seeds per shape, judged against the float64 oracle with two f32 baselines: `conf`, the
 * conformance's (the reference's f32 naive, one rounding per add), and `naive2`, f32-naive.ts's (products rounded
 * too). On the real tensor cores (truncating accumulation), where the emulation (tc-emulation.ts) rounds once per
 * k-step to nearest.
 */
async function spread(deadline: number) {
  const bTc = createWebGPUBackend({ tensorCores: true }), bSimt = createWebGPUBackend({ tensorCores: false });
  await Promise.all([bTc.probe(), bSimt.probe()]);
  const shapes: CaseSpec[] = [];
  for (const headDim of [64, 128]) {
    shapes.push({ batch: 2, seqlenQ: 70, seqlenK: 90, nheadsQ: 4, nheadsKV: 2, headDim, dtype: 'f32', causal: true });
    shapes.push({ batch: 3, seqlenQ: 300, seqlenK: 517, nheadsQ: 4, nheadsKV: 2, headDim, dtype: 'f32', varlen: true });
    shapes.push({ batch: 1, seqlenQ: 1024, seqlenK: 1024, nheadsQ: 2, nheadsKV: 1, headDim, dtype: 'f32' });
  }
  const trials = Number(process.env.SPREAD_TRIALS ?? 10);
  const specs = shapes.flatMap((s) => Array.from({ length: trials }, (_, i) => ({ ...s, spread: true, seed: 7000 + i * 31 + shapes.indexOf(s) })));
  const pool = new Pool(Math.max(1, availableParallelism() - 2));
  const answers = specs.map((s) => [pool.run(s, false), pool.run(s, true)] as const);
  const worst: Record<string, number> = {};
  for (let i = 0; i < specs.length; i++) {
    if (performance.now() > deadline) { out('spread.jsonl', { note: `stopped at the time limit after ${i} of ${specs.length} cases` }); break; }
    const c = generateCase(specs[i]!);
    const row: Record<string, unknown> = { case: caseLabel(specs[i]!), seed: c.seed };
    for (const [name, b] of [['tc', bTc], ['simt', bSimt]] as const) {
      for (const [base, a] of [['conf', answers[i]![0]], ['naive2', answers[i]![1]]] as const) {
        const r = await checkBackend(c, await a, b);
        const e = r.errors?.out;
        row[`${name}_${base}`] = { status: r.status, ratio: e?.ratio, ofBound: e ? e.err / e.bound : undefined, reason: r.reason };
        const k = `${name}_${base}_d${specs[i]!.headDim}`;
        worst[k] = Math.max(worst[k] ?? 0, e ? e.err / e.bound : Infinity);
      }
    }
    row.tcKernels = (await bTc.engine()).lastKernels.join(',');
    out('spread.jsonl', row);
  }
  out('spread.jsonl', { summary: { worstErrOverBound: worst } });
  await pool.close();
  await Promise.all([bTc.dispose(), bSimt.dispose()]);
}

async function conformance(b: WebGPUBackend, deadline: number) {
  const dims = (process.env.CONF_DIMS ?? '32,64,96,128,160,192,224,256').split(',').map(Number);
  const pairsEnv = process.env.CONF_PAIRS_LIST?.split(',').map((x) => x.split('x').map(Number) as [number, number]);
  const pairs: [number, number][] = pairsEnv ?? [[113, 203], [128, 217], [113, 211], [108, 256], [256, 512], [512, 256], [1024, 1024], [1023, 1024], [1024, 1023], [2048, 2048]].slice(0, Number(process.env.CONF_PAIRS ?? 10)) as [number, number][];
  const specs: CaseSpec[] = [];
  let seed = 1000;
  for (const [sq, sk] of pairs) for (const d of dims) for (const dtype of ['f32', 'f16', 'bf16'] as const) for (const causal of [false, true]) {
    const big = sq * sk * d > 1024 * 1024 * 128;
    if (big && (dtype === 'bf16' || (d !== 64 && d !== 128 && d !== 256))) continue; // oracle time: big pairs on a subset
    specs.push({ batch: big ? 1 : 2, seqlenQ: sq, seqlenK: sk, nheadsQ: big ? 2 : 4, nheadsKV: big ? 1 : 2, headDim: d, dtype, causal, backward: true, seed: seed++ });
  }
  const extra: CaseSpec[] = [
    { batch: 4, seqlenQ: 300, seqlenK: 500, nheadsQ: 6, nheadsKV: 2, headDim: 128, headDimV: 64, dtype: 'bf16', window: [64, 16], softcap: 30, varlen: true, backward: true, seed: 1 },
    { batch: 3, seqlenQ: 513, seqlenK: 257, nheadsQ: 8, nheadsKV: 1, headDim: 80, dtype: 'f16', causal: true, varlen: true, backward: true, seed: 2 },
    { batch: 2, seqlenQ: 1, seqlenK: 4000, nheadsQ: 8, nheadsKV: 8, headDim: 128, dtype: 'f32', window: [256, 0], seed: 3 },
  ];
  if (!process.env.CONF_PAIRS) specs.unshift(...extra);
  const pool = new Pool(Math.max(1, availableParallelism() - 2));
  // Queued in case order (each case's two oracles together) so that results stream from the first case on.
  const answers: Promise<OracleAnswers>[] = [];
  const answersF32: (Promise<OracleAnswers> | undefined)[] = [];
  for (const s of specs) {
    answers.push(pool.run(s, false));
    answersF32.push(s.dtype === 'f32' ? pool.run(s, true) : undefined);
  }
  let pass = 0, fail = 0, pass32acc = 0, done = 0;
  for (let i = 0; i < specs.length; i++) {
    if (performance.now() > deadline) { out('conformance.jsonl', { note: `stopped at the time limit after ${done} of ${specs.length} cases` }); break; }
    const c = generateCase(specs[i]!);
    const r = await checkBackend(c, await answers[i]!, b);
    let r32: Awaited<ReturnType<typeof checkBackend>> | undefined;
    const a32 = answersF32[i];
    if (a32) r32 = await checkBackend(c, await a32, b);
    done++;
    if (r.status === 'pass') pass++; else fail++;
    if (r32?.status === 'pass') pass32acc++;
    out('conformance.jsonl', {
      case: caseLabel(specs[i]!), seed: c.seed, status: r.status, ratio: r.ratio, reason: r.reason, ms: r.ms,
      ...(r32 ? { f32accStatus: r32.status, f32accRatio: r32.ratio, f32accReason: r32.reason } : {}),
      errs: r.errors ? Object.fromEntries(Object.entries(r.errors).map(([k, e]) => [k, [e.err, e.bound]])) : undefined,
    });
  }
  out('conformance.jsonl', { summary: { cases: done, pass, fail, f32CasesPassingF32AccBaseline: pass32acc } });
  await pool.close();
}

/**
 * Untimed calls until WARM_MS (default 1000) have passed: the GPU drops to idle clocks (345 MHz on the H100/H200)
 * after about a second without work (generating a point's inputs is enough) and takes up to a second of load to ramp
 * back to 1980 MHz (clocks.csv of 2026-11-22: 540 -> 930 -> 1980 MHz over 1 s; with 400 ms the first d128 point
 * still ran at half speed).
 */
async function warmUp(call: () => Promise<void>) {
  const t0 = performance.now();
  do await call(); while (performance.now() - t0 < Number(process.env.WARM_MS ?? 1000));
}

/** Median (the upper one of an even count). */
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function timeIt(b: WebGPUBackend, spec: { s: number; d: number; causal: boolean; dtype: 'f32' | 'f16' }, iters: number, withBwd: boolean) {
  const shape = { batch: Math.max(1, 16384 / spec.s), seqlenQ: spec.s, seqlenK: spec.s, nheadsQ: 2048 / spec.d, headDim: spec.d, dtype: spec.dtype, causal: spec.causal };
  const p = makeProblem({ ...shape, returnLse: true }), pInf = makeProblem({ ...shape, returnLse: false });
  const n = tensorSizes(p);
  const rnd = (len: number) => {
    if (spec.dtype === 'f32') { const a = new Float32Array(len); for (let i = 0; i < len; i++) a[i] = Math.random() * 2 - 1; return a; }
    const a = new Uint16Array(len); for (let i = 0; i < len; i++) a[i] = 0x3000 + ((Math.random() * 0x0c00) | 0) | (Math.random() < 0.5 ? 0x8000 : 0); return a;
  };
  const ops = b.device!;
  const e = await b.engine();
  e.profile = process.env.KERNELS === '1' ? 'dispatch' : true;
  // BWD_STATS=recompute: the same LSE buffer without the saved row statistics (the stats pass runs), for comparison.
  const lseFor = (l: WebGPUTensor) => (process.env.BWD_STATS === 'recompute' ? withoutRowStats(l) : l);
  const kf: Record<string, number[]> = {}, kb: Record<string, number[]> = {};
  const addK = (to: Record<string, number[]>) => e.lastKernelMs.forEach((ms, i) => (to[`${i}:${e.lastKernels[i]}`] ??= []).push(ms));
  const q = await ops.upload(rnd(n.q), spec.dtype), k = await ops.upload(rnd(n.k), spec.dtype), v = await ops.upload(rnd(n.v), spec.dtype);
  const dout = withBwd ? await ops.upload(rnd(n.out), spec.dtype) : undefined;
  const fw: number[] = [], bw: number[] = [], wall: number[] = [], fi: number[] = [];
  try {
    await warmUp(async () => {
      const r = await ops.forwardDevice(p, q, k, v);
      if (dout) { const g = await ops.backwardDevice(p, { q, k, v, out: r.out, dout, lse: lseFor(r.lse as WebGPUTensor) }); g.dq.dispose(); g.dk.dispose(); g.dv.dispose(); }
      r.out.dispose(); r.lse?.dispose();
    });
    for (let it = 0; it < iters + 1; it++) {
      const t0 = performance.now();
      const r = await ops.forwardDevice(p, q, k, v);
      const tf = e.lastGpuMs ?? NaN;
      if (it > 0) addK(kf);
      let tb = 0;
      if (dout) {
        const g = await ops.backwardDevice(p, { q, k, v, out: r.out, dout, lse: lseFor(r.lse as WebGPUTensor) });
        tb = e.lastGpuMs ?? NaN;
        if (it > 0) addK(kb);
        g.dq.dispose(); g.dk.dispose(); g.dv.dispose();
      }
      const tw = performance.now() - t0;
      r.out.dispose(); r.lse?.dispose();
      if (it > 0) { fw.push(tf); bw.push(tb); wall.push(tw); }
    }
    // The inference forward (no LSE): under tensor cores' 'auto' it is the one that takes them for f32 inputs. Warmed
    // up on its own: its first call compiles another pipeline, and the clock drops in that gap (run 139: d64 1k 7.5).
    if (withBwd) await warmUp(async () => (await ops.forwardDevice(pInf, q, k, v)).out.dispose());
    for (let it = 0; withBwd && it < iters + 1; it++) {
      const r = await ops.forwardDevice(pInf, q, k, v);
      if (it > 0) fi.push(e.lastGpuMs ?? NaN);
      r.out.dispose();
    }
  } finally {
    for (const t of [q, k, v, dout]) t?.dispose();
    e.profile = false;
  }
  const flops = forwardFlops(p);
  const medK = (x: Record<string, number[]>) => (Object.keys(x).length ? Object.fromEntries(Object.entries(x).map(([n, a]) => [n, med(a)])) : undefined);
  return {
    ...spec, batch: p.batch, heads: p.nheadsQ, fwdKernelMs: medK(kf), bwdKernelMs: medK(kb), bwdStats: dout ? (process.env.BWD_STATS ?? 'saved') : undefined, fwdMs: med(fw), bwdMs: withBwd ? med(bw) : undefined, wallMs: med(wall), fwdAllMs: fw, bwdAllMs: withBwd ? bw : undefined,
    fwdTflops: flops / (med(fw) * 1e9), ...(fi.length ? { fwdNoLseMs: med(fi), fwdNoLseTflops: flops / (med(fi) * 1e9) } : {}), fwdBwdTflops: withBwd ? (3.5 * flops) / ((med(fw) + med(bw)) * 1e9) : undefined,
  };
}

/**
 * [name, tile override, extra environment (e.g. FLASHATTN_WEBGPU_DAWN_FLAGS), {dims (default 64, 128), seqs (default
 * TILE_SEQ), causal, ablate, lse (default true: the LSE returned, and for f32 the row statistics saved with it)}]
 */
type SweepVariant = [string, TileOverride, Record<string, string>?, { dims?: number[]; seqs?: number[]; causal?: boolean; ablate?: ForwardAblation; lse?: boolean; dtype?: DType }?];

/**
 * The `tiles` mode's built-in list (TILE_VARIANTS, the same JSON, replaces it; the lists of 2026-11-22 are in
 * docs/device-runs/2026-11-22/webgpu/variants*.json): the current defaults as baseline, the previous default tiles
 * side by side, the timing-only ablations (one piece removed each, results wrong on purpose: what each piece costs),
 * then causal. Ordered by what matters most, in case the time box ends it.
 */
const SWEEP: SweepVariant[] = [
  ['default', {}],
  ['previous d64: 64x32 4x2 separate', { fwd: [64, 32, 4, 2, true] }, undefined, { dims: [64] }],
  ['previous d128: 64x16 4x1', { fwd: [64, 16, 4, 1, false] }, undefined, { dims: [128] }],
  ...FORWARD_ABLATIONS.map((a): SweepVariant => [`ablate:${a}`, {}, undefined, { ablate: a }]),
  ['default causal', {}, undefined, { dims: [64, 128], causal: true }],
];
/**
 * TILE_VARIANTS=tc: the tensor-core forward (run with FLASHATTN_WEBGPU_TENSOR_CORES=1), d128: its defaults, its code
 * options off one at a time, and its timing-only ablations (TC_ABLATIONS).
 */
const TC_SWEEP: SweepVariant[] = [
  ['tc default', {}],
  ['tc f16', {}, undefined, { dtype: 'f16' }],
  ['tc bf16', {}, undefined, { dtype: 'bf16' }],
  ['tc f16 bm48', { tcBm: [48] }, undefined, { dtype: 'f16', dims: [128] }],
  ['tc pvCols 2', { tcOpts: { pvCols: 2, fold: true } }, undefined, { dims: [128] }],
  ['tc no fold', { tcOpts: { pvCols: 1 } }, undefined, { dims: [128] }],
  ...TC_ABLATIONS.map((a): SweepVariant => [`tc ablate:${a}`, {}, undefined, { dims: [128], ablate: a }]),
  ['tc bm32', { tcBm: [32] }, undefined, { dims: [128] }],
  ['tc default causal', {}, undefined, { causal: true }],
  ['tc f16 causal', {}, undefined, { causal: true, dtype: 'f16' }],
];

/** Pseudo-random values in [-1, 1) (a random block repeated: uploading 100M+ fresh randoms per head dim is slow). */
function randomF32(n: number): Float32Array {
  const a = new Float32Array(n);
  const blk = Math.min(n, 1 << 20);
  for (let i = 0; i < blk; i++) a[i] = Math.random() * 2 - 1;
  for (let i = blk; i < n; i += blk) a.copyWithin(i, 0, Math.min(blk, n - i));
  return a;
}

/**
 * Forward tile/option/ablation sweep, f32, GPU timestamps. One backend (device) for the list: inputs are uploaded once
 * per head dim and kept, and the engine's override is swapped per variant (pipelines are keyed by their tiles and options);
 * variants with extra environment get a backend of their own. Each result is printed when measured.
 */
async function tileSweep(deadline: number) {
  // TILE_SEQ: one seqlen or a comma list (batch = 16384/seqlen keeps the tensors the same size across the list).
  const seqs = (process.env.TILE_SEQ ?? '4096').split(',').map(Number);
  const iters = Number(process.env.TILE_ITERS ?? 3);
  const tv = process.env.TILE_VARIANTS;
  const variants: SweepVariant[] = tv === 'tc' ? TC_SWEEP : tv ? JSON.parse(tv) : SWEEP;
  const shared = createWebGPUBackend();
  await shared.probe();
  const inputs = new Map<WebGPUBackend, Map<string, Awaited<ReturnType<NonNullable<WebGPUBackend['device']>['upload']>>[]>>();
  const problem = (d: number, causal: boolean, seq: number, lse = true, dtype: DType = 'f32') =>
    makeProblem({ batch: Math.max(1, 16384 / seq), seqlenQ: seq, seqlenK: seq, nheadsQ: 2048 / d, headDim: d, dtype, causal, returnLse: lse });
  const tensorsFor = async (bb: WebGPUBackend, d: number, seq: number, dtype: DType = 'f32') => {
    let m = inputs.get(bb);
    if (!m) inputs.set(bb, (m = new Map()));
    const n = tensorSizes(problem(d, false, seq));
    const key = `${d}:${n.q}:${n.k}:${dtype}`;
    let t = m.get(key);
    if (!t) {
      const up = (len: number) => bb.device!.upload(dtype === 'f32' ? randomF32(len) : fromFloat(dtype, randomF32(len)), dtype);
      t = [await up(n.q), await up(n.k), await up(n.v)];
      m.set(key, t);
    }
    return t;
  };
  // List order, head dims inner (inputs of both stay resident: 6 x 128 MiB), so that a time-boxed run keeps pairs.
  for (const [name, ov, env, opt] of variants) for (const d of opt?.dims ?? [64, 128]) for (const seq of opt?.seqs ?? seqs) {
    const causal = !!opt?.causal;
    if (performance.now() > deadline) { out('tiles.jsonl', { variant: name, d, seq, causal, note: 'not run: sweep time limit (TILES_S)' }); continue; }
    const saved = Object.fromEntries(Object.keys(env ?? {}).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env ?? {});
    const bb = env ? createWebGPUBackend() : shared;
    try {
      if (env) await bb.probe();
      const e = await bb.engine();
      (e as { override?: TileOverride }).override = ov;
      setForwardAblation(opt?.ablate);
      const p = problem(d, causal, seq, opt?.lse ?? true, opt?.dtype);
      const [q, k, v] = await tensorsFor(bb, d, seq, opt?.dtype);
      const plan = e.forwardPlan(p);
      e.profile = true;
      const ms: number[] = [];
      await warmUp(async () => { const r = await bb.device!.forwardDevice(p, q!, k!, v!); r.out.dispose(); r.lse?.dispose(); });
      const w0 = performance.now();
      for (let it = 0; it <= iters; it++) {
        const r = await bb.device!.forwardDevice(p, q!, k!, v!);
        if (it > 0) ms.push(e.lastGpuMs ?? NaN);
        r.out.dispose(); r.lse?.dispose();
      }
      e.profile = false;
      const fwdMs = med(ms);
      out('tiles.jsonl', {
        variant: name, d, causal, seq, dtype: p.dtype, ablate: opt?.ablate, lse: p.returnLse, tiles: Array.isArray(plan) ? plan : plan.tiles, subgroups: Array.isArray(plan) ? undefined : plan.subgroups, tc: Array.isArray(plan) ? undefined : plan.tc,
        fwdMs, fwdTflops: forwardFlops(p) / (fwdMs * 1e9), allMs: ms, wallS: (performance.now() - w0) / 1000,
      });
    } catch (err) {
      out('tiles.jsonl', { variant: name, d, causal, error: String(err) });
    } finally {
      setForwardAblation(undefined);
      if (env) { for (const t of inputs.get(bb)?.values() ?? []) for (const x of t) x.dispose(); inputs.delete(bb); await bb.dispose(); }
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
  for (const m of inputs.values()) for (const t of m.values()) for (const x of t) x.dispose();
  await shared.dispose();
}

/**
 * Backward tile variants (`bwdtiles`): forward+backward f32, seqlen 4096 (BWD_SEQ), non-causal, GPU timestamps, into
 * bwdtiles.jsonl. BWD_VARIANTS (JSON object name -> TileOverride, optional "dims": [64] or [128]) replaces the list;
 * "auto" is the built-in choice. One backend per variant, each guarded.
 */
const BWD_SWEEP: Record<string, TileOverride & { dims?: number[] }> = {
  auto: {},
  'd64 no prefetch': { dims: [64], dkv: [32, 32, 4, 2, true, 0, 4], dq: [32, 32, 4, 2, true, 0] },
  'd64 shared K/V in registers': { dims: [64], dkv: [32, 32, 4, 2, false, 2, 4], dq: [32, 32, 4, 2, false, 1] },
  'd64 dkv rk2, dq 64x16': { dims: [64], dkv: [32, 32, 4, 2, true, 1, 2], dq: [64, 16, 4, 2, false, 1] },
  'd128 no prefetch': { dims: [128], dkv: [32, 16, 4, 1, false, 0, 4], dq: [32, 16, 4, 1, false, 0] },
  'd128 K/V in registers': { dims: [128], dkv: [32, 16, 4, 1, false, 2, 4] },
  'd128 16x32 2x2': { dims: [128], dkv: [16, 32, 2, 2, false, 2, 4], dq: [16, 32, 2, 2, false, 1] },
  'd128 dq 2x2': { dims: [128], dq: [32, 16, 2, 2, false, 1] },
};

async function bwdTileSweep(deadline: number) {
  const variants: typeof BWD_SWEEP = process.env.BWD_VARIANTS ? JSON.parse(process.env.BWD_VARIANTS) : BWD_SWEEP;
  for (const [name, { dims, ...ov }] of Object.entries(variants)) for (const d of dims ?? [64, 128]) {
    if (performance.now() > deadline) { out('bwdtiles.jsonl', { variant: name, d, note: 'time limit reached' }); continue; }
    const bb = createWebGPUBackend({ tiles: ov });
    try {
      await bb.probe();
      const r = await timeIt(bb, { s: Number(process.env.BWD_SEQ ?? 4096), d, causal: false, dtype: 'f32' }, Number(process.env.BWD_ITERS ?? 2), true);
      const plan = (await bb.engine()).backwardPlan(makeProblem({ batch: 1, seqlenQ: 4096, seqlenK: 4096, nheadsQ: 1, headDim: d }));
      out('bwdtiles.jsonl', { variant: name, override: ov, ...(Array.isArray(plan) ? { plan } : { dkv: plan.dkv, dq: plan.dq }), ...r });
    } catch (e) {
      out('bwdtiles.jsonl', { variant: name, d, error: String(e) });
    }
    await bb.dispose();
  }
}

/**
 * `savedstats`: f32 backward on the forward's own LSE tensor (saved row statistics, no stats pass) against the same
 * backward with the stats pass (saved-stats-check.ts), over masks, GQA, softcap, varlen and head dims: the gradients
 * should agree bit for bit.
 */
async function savedStats(b: WebGPUBackend) {
  const specs: CaseSpec[] = [
    { batch: 2, seqlenQ: 1000, seqlenK: 1000, nheadsQ: 4, nheadsKV: 4, headDim: 64, dtype: 'f32', backward: true },
    { batch: 1, seqlenQ: 2048, seqlenK: 2048, nheadsQ: 8, nheadsKV: 2, headDim: 128, dtype: 'f32', causal: true, backward: true },
    { batch: 3, seqlenQ: 300, seqlenK: 517, nheadsQ: 6, nheadsKV: 3, headDim: 96, dtype: 'f32', window: [64, 7], softcap: 30, varlen: true, backward: true },
    { batch: 1, seqlenQ: 257, seqlenK: 129, nheadsQ: 2, nheadsKV: 1, headDim: 256, dtype: 'f32', causal: true, backward: true },
    { batch: 2, seqlenQ: 777, seqlenK: 901, nheadsQ: 4, nheadsKV: 1, headDim: 80, headDimV: 48, dtype: 'f32', backward: true },
  ];
  for (const spec of specs) {
    try {
      out('savedstats.jsonl', { case: caseLabel(spec), ...(await savedStatsCheck(b, spec)) });
    } catch (err) {
      out('savedstats.jsonl', { case: caseLabel(spec), error: String(err) });
    }
  }
}

async function main() {
  const modes = process.argv.slice(2);
  const budgetS = Number(process.env.BUDGET_S ?? 400);
  const t0 = performance.now();
  const b = createWebGPUBackend();
  const a = await b.probe();
  out('info.jsonl', { probe: a, date: new Date().toISOString(), node: process.version });
  if (!a.available) return;
  if (modes.includes('tiles')) await tileSweep(t0 + Number(process.env.TILES_S ?? 110) * 1000);
  if (modes.includes('bwdtiles')) await bwdTileSweep(performance.now() + Number(process.env.BWD_S ?? 90) * 1000);
  if (modes.includes('bench')) {
    const seqs = (process.env.BENCH_SEQS ?? '1024,2048,4096,8192,16384').split(',').map(Number);
    const benchEnd = t0 + Number(process.env.BENCH_S ?? 170) * 1000;
    const dims = (process.env.BENCH_DIMS ?? '64,128').split(',').map(Number);
    const masks = process.env.BENCH_CAUSAL === '0' ? [false] : process.env.BENCH_CAUSAL === '1' ? [true] : [false, true];
    for (const d of dims) for (const causal of masks) for (const s of seqs) {
      if (performance.now() > benchEnd) { out('bench.jsonl', { note: 'bench time limit reached', d, s, causal }); continue; }
      try { out('bench.jsonl', await timeIt(b, { s, d, causal, dtype: 'f32' }, 3, process.env.BENCH_BWD !== '0')); } catch (e) { out('bench.jsonl', { d, s, causal, error: String(e) }); }
    }
    if (process.env.BENCH_F16 !== '0') for (const d of [64, 128]) for (const s of seqs.filter((x) => x === 4096 || x === 16384)) {
      if (performance.now() > benchEnd) continue;
      try { out('bench.jsonl', await timeIt(b, { s, d, causal: false, dtype: 'f16' }, 3, true)); } catch (e) { out('bench.jsonl', { d, s, error: String(e) }); }
    }
  }
  if (modes.includes('savedstats')) await savedStats(b);
  if (modes.includes('conformance')) await conformance(b, t0 + budgetS * 1000);
  if (modes.includes('spread')) await spread(performance.now() + Number(process.env.SPREAD_S ?? 120) * 1000);
  await b.dispose();
  process.exit(0);
}

if (!isMainThread) {
  parentPort!.on('message', (m: { id: number; spec: CaseSpec; f32acc: boolean }) => {
    const c = generateCase(m.spec);
    const a = computeOracle(c, m.f32acc ? oracleF32Acc : referenceOracle);
    parentPort!.postMessage({ id: m.id, a });
  });
} else {
  await main();
}
