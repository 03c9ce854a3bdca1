/**
 * Where the per-call wall time beyond the GPU time goes (GPU machine, Dawn): times the pieces one backend call is made
 * of, each alone, median of N. Bundle with esbuild (platform node, external webgpu); writes JSON lines to stdout.
 *   idle-wait        await queue.onSubmittedWorkDone() with nothing queued (the completion round trip)
 *   error-scopes     push 3 error scopes, pop 3 (what `scoped()` adds to every call)
 *   alloc-N          createBuffer(N MiB) + a 4-byte write + submit + wait + destroy (a fresh output buffer per call)
 *   reuse-N          the same 4-byte write + submit + wait on one buffer kept across iterations
 *   clear-N          clearBuffer of a kept N MiB buffer + wait (what lazy zero-init of a new buffer costs on the GPU)
 */
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('no adapter');
const device = await adapter.requestDevice({
  requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
});
const N = Number(process.env.PROBE_N ?? 30);
const STORAGE = 0x80, COPY_DST = 0x08, COPY_SRC = 0x04;

async function time(name: string, fn: () => Promise<void>) {
  for (let i = 0; i < 3; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  console.log(JSON.stringify({ probe: name, medianMs: +t[t.length >> 1]!.toFixed(3), p10: +t[Math.floor(t.length * 0.1)]!.toFixed(3), p90: +t[Math.floor(t.length * 0.9)]!.toFixed(3), n: N }));
}

const word = new Uint32Array([1]);
await time('idle-wait', () => device.queue.onSubmittedWorkDone());
await time('error-scopes', async () => {
  device.pushErrorScope('out-of-memory'); device.pushErrorScope('validation'); device.pushErrorScope('internal');
  await device.popErrorScope(); await device.popErrorScope(); await device.popErrorScope();
});
for (const mib of [1, 32, 128, 512]) {
  const bytes = mib * 1024 * 1024;
  await time(`alloc-${mib}MiB`, async () => {
    const b = device.createBuffer({ size: bytes, usage: STORAGE | COPY_DST | COPY_SRC });
    device.queue.writeBuffer(b, 0, word);
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
    b.destroy();
  });
  const kept = device.createBuffer({ size: bytes, usage: STORAGE | COPY_DST | COPY_SRC });
  await time(`reuse-${mib}MiB`, async () => {
    device.queue.writeBuffer(kept, 0, word);
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
  });
  await time(`clear-${mib}MiB`, async () => {
    const enc = device.createCommandEncoder();
    enc.clearBuffer(kept);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  });
  kept.destroy();
}
device.destroy();
process.exit(0);
