/**
 * Verification of the cuda backend on a GPU machine, as one bundled script (no node_modules there):
 *   probe; a cross-check grid against the float64 oracle (fwd + bwd; f16/bf16/f32; causal, window, softcap, GQA,
 *   varlen; head dims 64/128/256); deterministic backward bit-identity; device tensors with a leak check; OOM
 *   (must throw DeviceOutOfMemoryError and leave the process usable); the event loop stays free while a kernel
 *   runs; the small-problem latency of the whole JS call on device tensors.
 * Bundle: node scripts/bundle-device.mjs (-> build/device-verify.mjs). Run: node build/device-verify.mjs [outDir]
 * Exit 0 only if every check passed.
 */
import {
  DeviceOutOfMemoryError, caseLabel, checkBackend, computeOracle, crossCheck, generateCase, makeProblem, tensorSizes,
  fromFloat, toFloat64, type CaseSpec, type DeviceTensor, type OracleAnswers,
} from '@flashattn/core';
import { referenceOracle } from '../../reference/src/oracle.js';
import { createCudaBackend, loadAddon } from '../src/index.js';
import { launchParams } from '../src/launch-params.js';
import { MODE_NO_POISON, type CudaAddon } from '../src/addon-types.js';
import type { CudaTensor } from '../src/device-tensor.js';
import { appendFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

// The float64 oracle is slow in JS: this same bundle, started as worker threads, computes it in parallel from
// the case's seed (generateCase is deterministic given the seed) while the main thread drives the GPU.
if (!isMainThread) {
  parentPort!.on('message', (spec: CaseSpec) => {
    const a = computeOracle(generateCase(spec), referenceOracle);
    parentPort!.postMessage(a);
  });
}

function oraclePool(n: number) {
  const workers = Array.from({ length: n }, () => new Worker(new URL(import.meta.url)));
  const idle = [...workers];
  const waiting: (() => void)[] = [];
  return {
    async answers(spec: CaseSpec): Promise<OracleAnswers> {
      while (!idle.length) await new Promise<void>((r) => waiting.push(r));
      const w = idle.pop()!;
      try {
        return await new Promise<OracleAnswers>((resolve, reject) => {
          const onMessage = (m: OracleAnswers) => { w.off('error', onError); resolve(m); };
          const onError = (e: Error) => { w.off('message', onMessage); reject(e); };
          w.once('message', onMessage);
          w.once('error', onError);
          w.postMessage(spec);
        });
      } finally {
        idle.push(w);
        waiting.shift()?.();
      }
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

const outDir = process.argv[2] ?? process.env.OUT ?? '.';
const quick = process.argv.includes('--quick');
// --oracle-only: time the oracle worker pool on the grid without a GPU (to size the grid).
const oracleOnly = process.argv.includes('--oracle-only');
const lines: string[] = [];
const results: Record<string, unknown> = { date: new Date().toISOString() };
let failures = 0;

// Progress goes to the log file line by line, so a crash still leaves what ran.
function say(s: string) {
  console.log(s);
  lines.push(s);
  if (isMainThread) {
    mkdirSync(outDir, { recursive: true });
    appendFileSync(`${outDir}/cuda-verify.log`, s + '\n');
  }
}
function bad(s: string) {
  failures++;
  say(`FAIL ${s}`);
}

const cuda = createCudaBackend();

function grid(): CaseSpec[] {
  const cs: CaseSpec[] = [];
  const seqs: [number, number][] = quick ? [[128, 128]] : [[128, 128], [113, 203], [256, 97], [1, 64]];
  for (const d of [64, 128, 256]) {
    for (const dtype of ['f16', 'bf16'] as const) {
      for (const [sq, sk] of seqs) {
        const base = { batch: 2, seqlenQ: sq, seqlenK: sk, nheadsQ: 2, nheadsKV: 2, headDim: d, dtype, backward: true };
        cs.push({ ...base });
        cs.push({ ...base, causal: true, nheadsQ: 4, nheadsKV: 1 });
      }
      cs.push({ batch: 2, seqlenQ: 160, seqlenK: 160, nheadsQ: 4, nheadsKV: 1, headDim: d, dtype, window: [32, 16], backward: true });
      cs.push({ batch: 2, seqlenQ: 128, seqlenK: 192, nheadsQ: 4, nheadsKV: 2, headDim: d, dtype, softcap: 30, causal: true, backward: true });
      cs.push({ batch: 3, seqlenQ: 150, seqlenK: 170, nheadsQ: 4, nheadsKV: 2, headDim: d, dtype, varlen: true, causal: true, backward: true });
    }
    cs.push({ batch: 2, seqlenQ: 128, seqlenK: 128, nheadsQ: 4, nheadsKV: 2, headDim: d, dtype: 'f32', causal: true, backward: true });
    cs.push({ batch: 2, seqlenQ: 100, seqlenK: 130, nheadsQ: 2, nheadsKV: 2, headDim: d, dtype: 'f32', varlen: true, window: [20, 5], softcap: 20, backward: true });
  }
  // headDimV != headDim, a window that leaves some rows empty (-inf LSE, zero output), a sequence of length 0.
  cs.push({ batch: 2, seqlenQ: 96, seqlenK: 96, nheadsQ: 4, nheadsKV: 2, headDim: 128, headDimV: 64, dtype: 'f16', backward: true });
  cs.push({ batch: 1, seqlenQ: 128, seqlenK: 40, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'bf16', causal: true, backward: true });
  cs.push({ batch: 3, seqlenQ: 64, seqlenK: 64, nheadsQ: 2, nheadsKV: 1, headDim: 64, dtype: 'f16', varlen: true, window: [8, 0], backward: true });
  return cs;
}

async function crossCheckGrid() {
  const rows: unknown[] = [];
  let pass = 0;
  const t0 = performance.now();
  const pool = oraclePool(Math.max(1, Math.min(15, availableParallelism() - 1)));
  // Fresh seeds, fixed up front so the workers draw the same inputs.
  const specs = grid().map((s) => ({ ...s, seed: (Math.random() * 0x7fffffff) >>> 0 }));
  const answers = specs.map((s) => pool.answers(s));
  answers.forEach((a) => a.catch(() => undefined));
  // Device time is scarce: stop starting cases after this many seconds and report how far we got.
  const budgetS = Number(process.env.FLASHATTN_VERIFY_GRID_SECONDS ?? 75);
  for (const [i, spec] of specs.entries()) {
    if ((performance.now() - t0) / 1000 > budgetS) {
      bad(`cross-check stopped after ${budgetS} s: ${specs.length - i} case(s) not run`);
      break;
    }
    const c = generateCase(spec);
    if (oracleOnly) {
      await answers[i];
      say(`oracle ${caseLabel(spec)} ready at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      continue;
    }
    let r;
    try {
      r = await checkBackend(c, await answers[i]!, cuda);
    } catch (e) {
      r = { status: 'error', reason: `oracle: ${(e as Error)?.message ?? e}`, ratio: undefined, ms: undefined };
    }
    const label = `${caseLabel(spec)} seed ${c.seed}`;
    rows.push({ case: label, status: r!.status, ratio: r!.ratio, reason: r!.reason, ms: r!.ms });
    if (r!.status === 'pass') {
      pass++;
      say(`pass ${label} (worst err/baseline ${r!.ratio?.toFixed(2)})`);
    } else bad(`${r!.status} ${label}: ${r!.reason}`);
  }
  await pool.close();
  say(`cross-check: ${pass}/${rows.length} passed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  results.crossCheck = { passed: pass, total: rows.length, rows };
}

async function deterministic() {
  const c = generateCase({ batch: 2, seqlenQ: 256, seqlenK: 256, nheadsQ: 8, nheadsKV: 2, headDim: 128, dtype: 'bf16', causal: true, backward: true });
  const p = c.problem;
  const f = await cuda.forward(p, c);
  const runs: { dq: ArrayLike<number>; dk: ArrayLike<number>; dv: ArrayLike<number> }[] = [];
  for (let i = 0; i < 3; i++) runs.push(await cuda.backward(p, { ...c, out: f.out, dout: c.dout!, lse: f.lse! }, { deterministic: true }));
  const same = runs.every((r) => (["dq", "dk", "dv"] as const).every((n) => Array.prototype.every.call(r[n], (x: number, j: number) => x === runs[0]![n][j])));
  say(`deterministic backward bit-identical over 3 runs: ${same}`);
  if (!same) bad('deterministic backward differs between runs');
  results.deterministic = same;
}

async function deviceTensorsAndLeaks() {
  const before = cuda.stats();
  const c = generateCase({ batch: 2, seqlenQ: 128, seqlenK: 128, nheadsQ: 4, nheadsKV: 4, headDim: 64, dtype: 'f16', backward: true });
  const p = c.problem;
  const d = cuda.device;
  const q = await d.upload(c.q, 'f16'), k = await d.upload(c.k, 'f16'), v = await d.upload(c.v, 'f16');
  const back = await d.download(q);
  const roundTrip = back.every((x, i) => x === c.q[i]);
  const f = await d.forwardDevice(p, q, k, v);
  const dout = await d.upload(c.dout!, 'f16');
  const g = await d.backwardDevice(p, { q, k, v, out: f.out, dout, lse: f.lse! });
  const host = await d.download(g.dq);
  const finite = toFloat64('f16', host).every(Number.isFinite);
  const during = cuda.stats();
  for (const t of [q, k, v, f.out, f.lse!, dout, g.dq, g.dk, g.dv]) t.dispose();
  let useAfterDispose = false;
  try {
    await d.download(q);
  } catch (e) {
    useAfterDispose = (e as Error).name === 'TensorStateError';
  }
  // Finalizer safety net: tensors dropped without dispose() are freed when collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  let finalized: boolean | string = 'not checked (run node with --expose-gc)';
  if (gc) {
    await (async () => { for (let i = 0; i < 8; i++) await d.upload(new Float32Array(1 << 16), 'f32'); })();
    for (let i = 0; i < 10 && cuda.stats().tensors > 0; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
    finalized = cuda.stats().tensors === 0;
  }
  const after = cuda.stats();
  const ok = roundTrip && finite && useAfterDispose && after.tensorBytes === 0 && after.tensors === 0 && finalized !== false;
  say(`device tensors: round trip ${roundTrip}, finite grads ${finite}, TensorStateError after dispose ${useAfterDispose}, ` +
    `live during ${during.tensors} (${during.tensorBytes} B), after ${after.tensors} (${after.tensorBytes} B), finalizer ${finalized}; ` +
    `reserved ${after.reservedBytes} B (cache), internal ${after.internalBytes} B`);
  if (!ok) bad('device tensor lifecycle / leak check');
  results.deviceTensors = { roundTrip, finite, useAfterDispose, before, during, after, finalized };
}

async function outOfMemory() {
  const r: Record<string, unknown> = {};
  let huge = false;
  try {
    cuda.device.empty('f32', 50e9); // 200 GB
  } catch (e) {
    huge = e instanceof DeviceOutOfMemoryError;
    r.hugeError = `${(e as Error).name}: ${(e as Error).message}`;
  }
  // Fill the device with 4 GB blocks, then 256 MB blocks, until it refuses; then an upload must refuse too.
  const held: DeviceTensor[] = [];
  let filled = false;
  for (const elems of [1 << 30, 1 << 26]) {
    try {
      for (let i = 0; i < 256; i++) held.push(cuda.device.empty('f32', elems));
    } catch (e) {
      filled = e instanceof DeviceOutOfMemoryError;
    }
  }
  r.heldBytes = cuda.stats().tensorBytes;
  let uploadOom = false;
  try {
    const t = await cuda.device.upload(new Float32Array(1 << 28), 'f32'); // 1 GB
    t.dispose();
  } catch (e) {
    uploadOom = e instanceof DeviceOutOfMemoryError;
    r.uploadError = `${(e as Error).name}: ${(e as Error).message}`;
  }
  for (const t of held) t.dispose();
  await cuda.dispose!(); // empty the cache: give the memory back to the driver
  // Still usable: a cross-check passes after the OOMs.
  const c = generateCase({ batch: 2, seqlenQ: 128, seqlenK: 128, nheadsQ: 4, nheadsKV: 2, headDim: 64, dtype: 'f16', causal: true, backward: true });
  const [after] = await crossCheck(c, [cuda], referenceOracle);
  const ok = huge && filled && uploadOom && after!.status === 'pass' && cuda.stats().tensors === 0;
  say(`OOM: 200 GB -> DeviceOutOfMemoryError ${huge}; filled ${((r.heldBytes as number) / 2 ** 30).toFixed(2)} GiB then OOM ${filled}; 1 GB upload on a full device -> ` +
    `DeviceOutOfMemoryError ${uploadOom}; cross-check afterwards: ${after!.status}`);
  if (!ok) bad(`out-of-memory handling ${JSON.stringify(r)} ${after!.reason ?? ''}`);
  results.oom = { ...r, huge, filled, uploadOom, after: after!.status };
}

async function eventLoopFree() {
  const p = makeProblem({ batch: 8, seqlenQ: 4096, seqlenK: 4096, nheadsQ: 16, headDim: 128, dtype: 'f16' });
  const n = tensorSizes(p);
  const x = fromFloat('f16', Float32Array.from({ length: n.q }, () => Math.random() - 0.5)) as Uint16Array;
  const q = await cuda.device.upload(x, 'f16'), k = await cuda.device.upload(x, 'f16'), v = await cuda.device.upload(x, 'f16');
  let ticks = 0;
  let running = true;
  const tick = () => { ticks++; if (running) setImmediate(tick); };
  setImmediate(tick);
  const t0 = performance.now();
  const f = await cuda.device.forwardDevice(p, q, k, v);
  const ms = performance.now() - t0;
  running = false;
  for (const t of [q, k, v, f.out, f.lse]) t?.dispose();
  say(`event loop while a ${ms.toFixed(2)} ms forward ran: ${ticks} setImmediate turns`);
  if (ticks < 2) bad('event loop blocked while awaiting a kernel');
  results.eventLoop = { ms, ticks };
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), min: s[0]! };
}

async function timeCalls(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    us.push((performance.now() - t0) * 1000);
  }
  return us;
}

async function latency() {
  const p = makeProblem({ batch: 1, seqlenQ: 128, seqlenK: 128, nheadsQ: 16, headDim: 64, dtype: 'f16' });
  const n = tensorSizes(p);
  const rnd = (len: number) => fromFloat('f16', Float32Array.from({ length: len }, () => Math.random() * 2 - 1)) as Uint16Array;
  const d = cuda.device;
  const q = await d.upload(rnd(n.q), 'f16'), k = await d.upload(rnd(n.k), 'f16'), v = await d.upload(rnd(n.v), 'f16');
  const call = async () => {
    const r = await d.forwardDevice(p, q, k, v);
    r.out.dispose();
  };
  const addon = (loadAddon() as { addon: CudaAddon }).addon;
  const r: Record<string, unknown> = {};
  for (const mode of ['worker', 'thread'] as const) {
    addon.setCompletion(mode);
    await timeCalls(200, call);
    const s = stats(await timeCalls(1000, call));
    const sync = stats(await timeCalls(1000, () => addon.synchronize()));
    r[mode] = { call: s, idleSynchronize: sync };
    say(`latency b1 h16 128x128 d64 f16, whole JS call (await forwardDevice + dispose), completion=${mode}, 1000 calls: ` +
      `median ${s.median.toFixed(1)} us (p10 ${s.p10.toFixed(1)}, p90 ${s.p90.toFixed(1)}, min ${s.min.toFixed(1)}); ` +
      `await synchronize() on an idle stream: median ${sync.median.toFixed(1)} us`);
  }
  addon.setCompletion('worker');
  // Breakdown: host cost of queueing one forward (params, poison memset, kernel launch), GPU time with and without
  // the poison memset.
  const lp = launchParams(p);
  const bq = (q as CudaTensor).buffer, bk = (k as CudaTensor).buffer, bv = (v as CudaTensor).buffer;
  const out = new addon.DeviceBuffer(n.out * 2);
  const enqueue: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) addon.forward(lp, bq, bk, bv, out, null, 0);
    enqueue.push(((performance.now() - t0) * 1000) / 200);
    await addon.synchronize();
  }
  const timing = cuda.timing();
  const gpuPoisoned = (await timing.time(() => { for (let i = 0; i < 1000; i++) addon.forward(lp, bq, bk, bv, out, null, 0); })) / 1000;
  const gpuBare = (await timing.time(() => { for (let i = 0; i < 1000; i++) addon.forward(lp, bq, bk, bv, out, null, MODE_NO_POISON); })) / 1000;
  out.dispose();
  const kernelMs = await timing.forwardMs(p, q, k, v, { iters: 1000, warmup: 50 });
  for (const t of [q, k, v]) t.dispose();
  const enq = stats(enqueue).median;
  say(`breakdown: host time to queue one forward (poison + kernel) ${enq.toFixed(1)} us; GPU time per forward back to back: ` +
    `${(gpuPoisoned * 1000).toFixed(1)} us with the NaN poison memset, ${(gpuBare * 1000).toFixed(1)} us kernel only ` +
    `(timing().forwardMs: ${(kernelMs * 1000).toFixed(1)} us)`);
  results.latency = { ...r, enqueueUs: enq, gpuPoisonedUs: gpuPoisoned * 1000, gpuKernelUs: gpuBare * 1000, forwardMsUs: kernelMs * 1000 };
}

async function main() {
  const a = await cuda.probe();
  say(`probe: ${a.available ? `available: ${a.device}` : `unavailable: ${a.reason}`}`);
  results.probe = a;
  if (oracleOnly) {
    const t0 = performance.now();
    await crossCheckGrid();
    say(`oracle for ${grid().length} cases: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    process.exit(0);
  }
  if (!a.available) {
    bad('backend unavailable');
  } else {
    const steps: [string, () => Promise<void>][] = [
      ['device tensors', deviceTensorsAndLeaks], ['latency', latency], ['event loop', eventLoopFree],
      ['cross-check', crossCheckGrid], ['deterministic', deterministic], ['oom', outOfMemory],
    ];
    for (const [name, f] of steps) {
      try {
        await f();
      } catch (e) {
        bad(`${name} threw ${(e as Error)?.name}: ${(e as Error)?.message ?? e}`);
      }
    }
    results.memInfo = cuda.memInfo();
    results.stats = cuda.stats();
  }
  results.failures = failures;
  say(failures ? `${failures} check(s) FAILED` : 'all checks passed');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}/cuda-verify.json`, JSON.stringify(results, null, 1));
  writeFileSync(`${outDir}/cuda-verify.txt`, lines.join('\n') + '\n');
  process.exit(failures ? 1 : 0);
}

if (isMainThread) void main();
