/**
 * `flashattn bench`: forward and forward+backward over a seqlen sweep, with flash-attn's benchmark shapes
 * (batch = tokens/seqlen, heads = hidden/headDim) and FLOP convention (core's forwardFlops; backward 2.5x,
 * forward+backward 3.5x). Backends with device tensors are timed on them (inputs uploaded once); others on host arrays.
 */
import {
  forwardFlops,
  fromFloat,
  makeProblem,
  Rng,
  runtimeVersion,
  tensorSizes,
  type Backend,
  type DeviceTensor,
  type DType,
  type HostArray,
  type Problem,
} from '@flashattn/core';
import { Flags, UsageError, type FlagSpecs } from './args.js';
import { loadRegistry } from './backends.js';
import { renderChart, type ChartPoint } from './chart.js';
import { pickBackends } from './conformance.js';
import { err, memory, out, writeBytes } from './host.js';
import { runTorchPeer } from './peer-torch.js';
import { Progress, table } from './table.js';

export const BENCH_FLAGS: FlagSpecs = {
  backends: { kind: 'string', value: 'a,b', help: 'backends to time (default: every available one)' },
  headdims: { kind: 'string', value: 'd,d', help: 'head dims (default 64,128)' },
  seqlens: { kind: 'string', value: 'n,n', help: 'sequence lengths (default 512,1024,2048,4096,8192,16384)' },
  causal: { kind: 'bool', help: 'causal mask (FLOPs halved, as flash-attn counts them)' },
  dtype: { kind: 'string', value: 'f32|f16|bf16', help: 'dtype (default f16)' },
  modes: { kind: 'string', value: 'fwd,fwd+bwd', help: 'what to time (default both)' },
  tokens: { kind: 'string', value: 'N', help: 'batch x seqlen (default 16384): batch = N / seqlen' },
  hidden: { kind: 'string', value: 'N', help: 'heads x headDim (default 2048): heads = N / headDim' },
  batch: { kind: 'string', value: 'N', help: 'fixed batch (overrides --tokens)' },
  heads: { kind: 'string', value: 'N', help: 'fixed number of heads (overrides --hidden)' },
  repeats: { kind: 'string', value: 'N', help: 'timed runs per point; the median is reported (default 10)' },
  warmup: { kind: 'string', value: 'N', help: 'untimed runs first (default 2)' },
  'warmup-ms': { kind: 'string', value: 'MS', help: 'keep warming up until this much time has passed too (default 1000): an idle GPU runs at low clocks until it has been busy a while' },
  peer: { kind: 'string', value: 'torch', help: 'also time PyTorch SDPA (flash and cudnn backends) on the same shapes, where python3+torch+CUDA exist' },
  chart: { kind: 'string', value: 'FILE', help: 'write an SVG chart of TFLOP/s vs seqlen per backend' },
  json: { kind: 'bool', help: 'print the results as JSON' },
  help: { kind: 'bool', help: 'show this help' },
};

export type BenchMode = 'fwd' | 'fwd+bwd';

export interface BenchRow {
  backend: string;
  headDim: number;
  seqlen: number;
  batch: number;
  heads: number;
  dtype: DType;
  causal: boolean;
  mode: BenchMode;
  /** Median wall time of one call, milliseconds. */
  ms?: number;
  /** Every timed call's wall time, in order (milliseconds): shows a slow first call or drift that the median hides. */
  allMs?: number[];
  tflops?: number;
  /** Peak extra memory above the inputs during the timed runs, bytes, and how it was measured. */
  peakBytes?: number;
  memoryMethod?: string;
  path?: 'device tensors' | 'host arrays';
  unsupported?: string;
}

const FLOP_FACTOR: Record<BenchMode, number> = { fwd: 1, 'fwd+bwd': 3.5 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function randn(n: number, dtype: DType, rng: Rng): HostArray {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return fromFloat(dtype, a);
}

/** Peak host memory above a baseline, sampled while async work runs (GPU backends, worker pools). */
class MemorySampler {
  readonly #base = memory();
  #peak = 0;
  readonly #timer: ReturnType<typeof setInterval>;
  constructor() {
    this.#timer = setInterval(() => this.sample(), 2);
  }
  sample(): void {
    const m = memory();
    this.#peak = Math.max(this.#peak, m.rss - this.#base.rss, m.external - this.#base.external);
  }
  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return this.#peak;
  }
}

/** Untimed calls: at least `warm` of them, and until `warmMs` have passed (GPU clocks ramp up only under load). */
async function warmUp(once: () => Promise<void>, warm: Warm) {
  const t0 = performance.now();
  for (let i = 0; i < warm.n || performance.now() - t0 < warm.ms; i++) await once();
}

interface Warm {
  readonly n: number;
  readonly ms: number;
}

async function timeHost(b: Backend, p: Problem, x: { q: HostArray; k: HostArray; v: HostArray; dout: HostArray }, mode: BenchMode, reps: number, warm: Warm) {
  const once = async () => {
    const f = await b.forward(p, { q: x.q, k: x.k, v: x.v });
    if (mode === 'fwd+bwd') await b.backward(p, { q: x.q, k: x.k, v: x.v, out: f.out, dout: x.dout, lse: f.lse! });
  };
  await warmUp(once, warm);
  const mem = new MemorySampler();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await once();
    ts.push(performance.now() - t0);
  }
  return { ms: median(ts), allMs: ts, peakBytes: mem.stop(), memoryMethod: 'host process: peak rss/ArrayBuffer growth above the inputs, sampled every 2 ms and after each run' };
}

async function timeDevice(b: Backend, p: Problem, x: { q: HostArray; k: HostArray; v: HostArray; dout: HostArray }, mode: BenchMode, reps: number, warm: Warm) {
  const d = b.device!;
  const held: DeviceTensor[] = [];
  try {
    const q = await d.upload(x.q, p.dtype);
    held.push(q);
    const k = await d.upload(x.k, p.dtype);
    held.push(k);
    const v = await d.upload(x.v, p.dtype);
    held.push(v);
    const dout = await d.upload(x.dout, p.dtype);
    held.push(dout);
    const once = async () => {
      const f = await d.forwardDevice(p, q, k, v);
      try {
        if (mode === 'fwd+bwd') {
          const g = await d.backwardDevice(p, { q, k, v, out: f.out, dout, lse: f.lse! });
          g.dq.dispose();
          g.dk.dispose();
          g.dv.dispose();
        }
      } finally {
        f.out.dispose();
        f.lse?.dispose();
      }
    };
    await warmUp(once, warm);
    const mem = new MemorySampler();
    const ts: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await once();
      ts.push(performance.now() - t0);
    }
    return {
      ms: median(ts), allMs: ts, peakBytes: mem.stop(),
      memoryMethod: 'host process (rss growth, sampled every 2 ms); a GPU backend\'s device memory is not included: the Backend interface has no query for it',
    };
  } finally {
    for (const t of held) t.dispose();
  }
}

function fmtBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export async function bench(f: Flags): Promise<number> {
  const names = f.has('backends') ? pickBackends(f) : undefined;
  const headDims = f.intList('headdims', 1, 256) ?? [64, 128];
  const seqlens = f.intList('seqlens', 1) ?? [512, 1024, 2048, 4096, 8192, 16384];
  const dtype = f.dtype('dtype') ?? 'f16';
  const causal = f.bool('causal');
  const modes = (f.list('modes') ?? ['fwd', 'fwd+bwd']).map((m) => {
    if (m !== 'fwd' && m !== 'fwd+bwd') throw new UsageError(`--modes: expected fwd and/or fwd+bwd, got ${JSON.stringify(m)}`);
    return m as BenchMode;
  });
  const tokens = f.int('tokens', 1) ?? 16384;
  const hidden = f.int('hidden', 1) ?? 2048;
  const fixedBatch = f.int('batch', 1);
  const fixedHeads = f.int('heads', 1);
  const reps = f.int('repeats', 1) ?? 10;
  const warm = f.int('warmup', 0) ?? 2;
  const warmMs = f.int('warmup-ms', 0) ?? 1000;
  const peer = f.str('peer');
  if (peer !== undefined && peer !== 'torch') throw new UsageError(`--peer: expected torch, got ${JSON.stringify(peer)}`);
  const chartFile = f.str('chart');
  for (const d of headDims)
    if (fixedHeads === undefined && hidden % d !== 0) throw new UsageError(`--headdims: ${d} does not divide --hidden ${hidden} (give --heads N)`);

  const shape = (s: number, d: number) => ({ batch: fixedBatch ?? Math.max(1, Math.floor(tokens / s)), heads: fixedHeads ?? hidden / d });
  const { registry } = await loadRegistry(names);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const backends: Backend[] = [];
    for (const { backend } of registry.list()) {
      const a = await registry.probe(backend.name);
      if (a.available) backends.push(backend);
      else notes.push(`${backend.name}: unavailable: ${a.reason}`);
    }
    const progress = new Progress(backends.length * headDims.length * seqlens.length * modes.length);
    const rng = new Rng(1234);
    for (const d of headDims)
      for (const s of seqlens) {
        const { batch, heads } = shape(s, d);
        // fwd times the inference forward (no LSE), fwd+bwd the training step (the forward returns the LSE the
        // backward needs); the torch peer does the same (no_grad for fwd).
        const problem = (mode: BenchMode) => makeProblem({ batch, seqlenQ: s, seqlenK: s, nheadsQ: heads, headDim: d, dtype, causal, returnLse: mode === 'fwd+bwd' });
        const p = problem('fwd+bwd');
        const n = tensorSizes(p);
        let x: { q: HostArray; k: HostArray; v: HostArray; dout: HostArray } | undefined;
        for (const b of backends) {
          const reasons = b.check(p);
          for (const mode of modes) {
            const row: BenchRow = { backend: b.name, headDim: d, seqlen: s, batch, heads, dtype, causal, mode };
            rows.push(row);
            progress.draw(`${b.name} d${d} n${s} ${mode}`);
            const why = [...reasons];
            if (mode === 'fwd+bwd' && !b.capabilities().features.includes('backward')) why.push(`backward not supported by ${b.name}`);
            if (why.length) {
              row.unsupported = why.join('; ');
              progress.tick(`${b.name} d${d} n${s} ${mode}`, `unsupported: ${row.unsupported}`);
              continue;
            }
            x ??= { q: randn(n.q, dtype, rng), k: randn(n.k, dtype, rng), v: randn(n.v, dtype, rng), dout: randn(n.out, dtype, rng) };
            try {
              const pm = problem(mode);
              const r = b.device ? await timeDevice(b, pm, x, mode, reps, { n: warm, ms: warmMs }) : await timeHost(b, pm, x, mode, reps, { n: warm, ms: warmMs });
              Object.assign(row, r, { path: b.device ? 'device tensors' : 'host arrays' });
              row.tflops = (FLOP_FACTOR[mode] * forwardFlops(p)) / (row.ms! * 1e-3) / 1e12;
            } catch (e) {
              row.unsupported = `error: ${(e as Error).message.split('\n')[0]}`;
            }
            progress.tick(`${b.name} d${d} n${s} ${mode}`, row.ms !== undefined ? `${row.ms.toFixed(2)} ms, ${row.tflops!.toPrecision(3)} TFLOP/s` : `${row.unsupported}`);
          }
        }
      }
    progress.end();
  } finally {
    await registry.disposeAll();
  }

  let peerInfo: string | undefined;
  if (peer === 'torch') {
    const shapes = headDims.flatMap((d) => seqlens.map((s) => ({ ...shape(s, d), seqlen: s, headDim: d })));
    const r = await runTorchPeer({ dtype, causal, repeats: reps, warmup: warm, warmupMs: warmMs, modes, shapes });
    if (!r.available) {
      peerInfo = `torch peer: not run: ${r.reason}`;
      notes.push(peerInfo);
    } else {
      peerInfo = `torch peer: ${r.torch} on ${r.device}`;
      for (const t of r.results) {
        const p = makeProblem({ batch: t.batch, seqlenQ: t.seqlen, seqlenK: t.seqlen, nheadsQ: t.heads, headDim: t.headDim, dtype, causal });
        const row: BenchRow = { backend: t.backend, headDim: t.headDim, seqlen: t.seqlen, batch: t.batch, heads: t.heads, dtype, causal, mode: t.mode };
        if (t.unsupported !== undefined) row.unsupported = t.unsupported;
        else {
          row.ms = t.ms;
          row.tflops = (FLOP_FACTOR[t.mode] * forwardFlops(p)) / (t.ms! * 1e-3) / 1e12;
          row.peakBytes = t.peakBytes;
          row.memoryMethod = 'torch.cuda.max_memory_allocated() above the inputs';
          row.path = 'device tensors';
        }
        rows.push(row);
      }
    }
  }

  let chartError: string | undefined;
  if (chartFile !== undefined) {
    const pts: ChartPoint[] = rows.filter((r) => r.tflops !== undefined).map((r) => ({ backend: r.backend, seqlen: r.seqlen, headDim: r.headDim, mode: r.mode, tflops: r.tflops! }));
    if (pts.length === 0) notes.push(`chart: nothing was timed, ${chartFile} not written`);
    else {
      const title = `attention ${dtype}${causal ? ' causal' : ''}, ${fixedBatch ? `batch ${fixedBatch}` : `batch x seqlen = ${tokens}`}, ${fixedHeads ? `${fixedHeads} heads` : `hidden ${hidden}`} (${runtimeVersion()})`;
      // The results are printed whatever happens here: a chart that cannot be drawn (vega not installed, say)
      // must not lose a long benchmark run. The exit status still reports the failure.
      try {
        writeBytes(chartFile, await renderChart(pts, title));
        notes.push(`chart written to ${chartFile}`);
      } catch (e) {
        chartError = `chart not written to ${chartFile}: ${e instanceof Error ? e.message : String(e)}`;
        notes.push(chartError);
      }
    }
  }

  if (f.bool('json')) {
    out(JSON.stringify({ runtime: runtimeVersion(), dtype, causal, flops: "flash-attn's: 4 b h sq sk d (halved causal); bwd 2.5x, fwd+bwd 3.5x", peer: peerInfo, notes, results: rows }, null, 1) + '\n');
  } else {
    const body = rows.map((r) => [
      r.backend, `${r.headDim}`, `${r.seqlen}`, `${r.batch}x${r.heads}`, r.mode,
      r.ms !== undefined ? r.ms.toFixed(r.ms < 10 ? 3 : 1) : '-', r.tflops !== undefined ? (r.tflops < 10 ? r.tflops.toPrecision(3) : r.tflops.toFixed(1)) : '-',
      fmtBytes(r.peakBytes), r.unsupported ?? r.path ?? '',
    ]);
    let s = `flashattn bench: ${dtype}${causal ? ' causal' : ''}, ${runtimeVersion()}; median of ${reps} after ${warm} warm-up calls and at least ${warmMs} ms of them; flash-attn's FLOP count\n\n`;
    s += table(['backend', 'headdim', 'seqlen', 'batch x heads', 'mode', 'ms', 'TFLOP/s', 'peak extra mem', 'note'], body);
    const methods = [...new Set(rows.map((r) => r.memoryMethod).filter(Boolean))];
    if (methods.length) s += `\npeak extra memory: ${methods.join('; ')}\n`;
    for (const n of notes) s += `${n}\n`;
    out(s);
  }
  if (rows.length === 0 || rows.every((r) => r.tflops === undefined)) {
    err('flashattn bench: nothing was timed (no backend available or every point unsupported)\n');
    return 3;
  }
  if (chartError !== undefined) {
    err(`flashattn bench: ${chartError}\n`);
    return 1;
  }
  return 0;
}
