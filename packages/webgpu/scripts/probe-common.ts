import { create } from 'webgpu';
/** What the tensor-core probes share: random inputs and the accuracy reference their checks use. */

/** n standard-normal f32 values (Box-Muller). */
export function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.random() || 1e-12, v = Math.random();
    const r = Math.sqrt(-2 * Math.log(u));
    a[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) a[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return a;
}

/**
 * Rows 0-31 of one head (q, k, v: N x D each): float64 attention, and the error of naive f32 attention (S, softmax,
 * PV each rounded to f32: the criterion's baseline) against it.
 */
export function attentionReference(q: Float32Array, k: Float32Array, v: Float32Array, N: number, D: number) {
  const f = Math.fround;
  const o64 = new Float64Array(32 * D);
  let errNaive = 0, maxRef = 0;
  for (let r = 0; r < 32; r++) {
    const s64 = new Float64Array(N), s32 = new Float32Array(N);
    for (let c = 0; c < N; c++) {
      let a = 0, b = 0;
      for (let x = 0; x < D; x++) { a += q[r * D + x]! * k[c * D + x]!; b = f(b + f(q[r * D + x]! * k[c * D + x]!)); }
      s64[c] = a / Math.sqrt(D); s32[c] = f(b * f(1 / Math.sqrt(D)));
    }
    let m64 = -Infinity, m32 = -Infinity;
    for (let c = 0; c < N; c++) { m64 = Math.max(m64, s64[c]!); m32 = Math.max(m32, s32[c]!); }
    let l64 = 0, l32 = 0;
    const p64 = s64.map((s) => { const p = Math.exp(s - m64); l64 += p; return p; });
    const p32 = s32.map((s) => { const p = f(Math.exp(f(s - m32))); l32 = f(l32 + p); return p; });
    for (let x = 0; x < D; x++) {
      let a = 0, b = 0;
      for (let c = 0; c < N; c++) { a += p64[c]! * v[c * D + x]!; b = f(b + f(p32[c]! * v[c * D + x]!)); }
      o64[r * D + x] = a / l64;
      errNaive = Math.max(errNaive, Math.abs(f(b / l32) - a / l64));
      maxRef = Math.max(maxRef, Math.abs(a / l64));
    }
  }
  return { o64, errNaive, maxRef };
}

/**
 * Time a forward probe's dispatch (GPU timestamps; at least 6 runs and 1.5 s, at most ~100, or 3 when the first takes
 * over 500 ms) on `groups`, and check it: rows 0-31 of head 0 of `out` (N x D per head, H heads) against `ref`, and
 * the last head for NaN (the output is poisoned before). Returns the figures the probes print.
 */
export async function timeAndCheck(o: {
  device: GPUDevice; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; groups: [number, number]; out: GPUBuffer;
  N: number; D: number; H: number; ref: { o64: Float64Array; errNaive: number; maxRef: number }; log: (m: string) => void;
}) {
  const { device, N, D, H, out, ref } = o;
  const CHECK = 32 * D;
  const qset = device.createQuerySet({ type: 'timestamp', count: 2 });
  const res = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const rd = device.createBuffer({ size: 16 + CHECK * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const rdLast = device.createBuffer({ size: N * D * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  let first: Float32Array | undefined;
  const times: number[] = [];
  const t0 = performance.now();
  for (let it = 0; it < 6 || performance.now() - t0 < 1500; it++) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass({ timestampWrites: { querySet: qset, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    pass.setPipeline(o.pipeline); pass.setBindGroup(0, o.bindGroup); pass.dispatchWorkgroups(o.groups[0], o.groups[1]); pass.end();
    enc.resolveQuerySet(qset, 0, 2, res, 0);
    enc.copyBufferToBuffer(res, 0, rd, 0, 16);
    enc.copyBufferToBuffer(out, 0, rd, 16, CHECK * 4);
    if (it === 0) enc.copyBufferToBuffer(out, (H - 1) * N * D * 4, rdLast, 0, N * D * 4);
    device.queue.submit([enc.finish()]);
    await rd.mapAsync(GPUMapMode.READ);
    const m = rd.getMappedRange();
    const ts = new BigUint64Array(m.slice(0, 16));
    if (!first) first = new Float32Array(m.slice(16));
    rd.unmap();
    times.push(Number(ts[1]! - ts[0]!) / 1e6);
    if (it === 0) o.log(`first run ${times[0]!.toFixed(2)} ms`);
    if (it > 100 || (it >= 2 && times[0]! > 500)) break;
  }
  await rdLast.mapAsync(GPUMapMode.READ);
  const last = new Float32Array(rdLast.getMappedRange().slice(0));
  rdLast.unmap();
  for (const b of [res, rd, rdLast]) b.destroy();
  qset.destroy();
  const unwritten = last.reduce((n, x) => n + (Number.isNaN(x) ? 1 : 0), 0);
  let errGpu = 0;
  for (let i = 0; i < CHECK; i++) errGpu = Math.max(errGpu, Number.isNaN(first![i]!) ? Infinity : Math.abs(first![i]! - ref.o64[i]!));
  const ms = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
  return {
    ms, runs: times.length, tflops: (4 * N * N * D * H) / (ms * 1e9), // forward convention: 4·N²·d per head
    check: { rows: 32, maxErrVsF64: errGpu, maxErrNaiveF32: ref.errNaive, ratio: errGpu / ref.errNaive, maxAbsO: ref.maxRef, unwrittenInLastHead: unwritten },
  };
}

// f32 -> f16 bits, round to nearest even (subnormals included); and back.
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
export function toF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!, sign = (b >>> 16) & 0x8000, e = (b >>> 23) & 0xff, m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const ue = e - 127 + 15;
  if (ue >= 0x1f) return sign | 0x7c00;
  if (ue <= 0) {
    if (ue < -10) return sign;
    const mm = m | 0x800000, shift = 14 - ue;
    let h = mm >>> shift;
    const rem = mm & ((1 << shift) - 1), halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (ue << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
export function fromF16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * What every tensor-core probe's command line shares: JSON lines on stdout (`out`), timed progress on stderr (`log`,
 * tagged `name`), and the d n heads arguments (argv 2-4, defaults 128 4096 64).
 */
export function probeCli(name: string) {
  const T0 = performance.now();
  const out = (o: unknown) => console.log(JSON.stringify(o));
  const log = (m: string) => process.stderr.write(`[${name} ${((performance.now() - T0) / 1000).toFixed(1)}s] ${m}\n`);
  const arg = (i: number, d: number) => Number(process.argv[i] ?? d);
  return { out, log, D: arg(2, 128), N: arg(3, 4096), H: arg(4, 64) };
}

/**
 * The f16 tensor-core probes' device: Dawn with allow_unsafe_apis and vulkan_enable_f16_on_nvidia, f16 subgroup
 * matrices, shader-f16, subgroups, timestamps and the adapter's largest limits; undefined (after printing why as a
 * JSON line) where the adapter has no f16 subgroup matrices.
 */
export async function openF16MatrixDevice(out: (o: unknown) => void, log: (m: string) => void): Promise<GPUDevice | undefined> {
  const gpu = create(['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia']);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter?.features.has('chromium-experimental-subgroup-matrix') || !adapter.features.has('shader-f16')) { out({ error: 'no f16 subgroup matrices here' }); return undefined; }
  const device = await adapter.requestDevice({
    requiredFeatures: ['chromium-experimental-subgroup-matrix', 'shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[],
    requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
  });
  (globalThis as Record<string, unknown>).__keepDawn = [gpu, adapter]; // Dawn stops delivering events once collected
  device.lost.then((i) => log(`device lost: ${i.reason} ${i.message}`));
  return device;
}
