/**
 * What the GPU tests of the tensor-core path's split kernels (k-split, v-split) share: a device with shader-f16 and
 * subgroups through the repository's own seam, and number helpers. Import it first: it sets lavapipe's vector width
 * before Dawn loads (see below).
 */
import { acquireGPU } from '../src/acquire-gpu.js';

// ---- device: the repository's own seam (acquire-gpu: Dawn through the `webgpu` package on Node) ----
// lavapipe's subgroup size is its vector width / 32: 4 under scripts/lib.sh's LP_NATIVE_VECTOR_WIDTH=128, too few for
// this kernel (with 4-lane subgroups the xor-4 shuffle reads nothing: each half of a row gets its own scale). So this
// test's process (vitest's forks pool: one per test file) asks lavapipe for 256-bit vectors (8-lane subgroups) before
// Dawn loads it, and compiles without Mesa's shader disk cache, whose key does not include the vector width (an entry
// compiled at 128 bits is reused at 256 and vice versa). Other drivers ignore LP_NATIVE_VECTOR_WIDTH. Where the
// setting cannot take effect (Mesa already loaded in this process, worker threads), the adapter still reports
// subgroups of 4 and the GPU tests skip, saying so.
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
if (env && !(Number(env.LP_NATIVE_VECTOR_WIDTH ?? 256) >= 256)) env.LP_NATIVE_VECTOR_WIDTH = '256';
if (env && env.MESA_SHADER_CACHE_DISABLE === undefined) env.MESA_SHADER_CACHE_DISABLE = 'true';

export type Gpu = { gpu: GPU; adapter: GPUAdapter; device: GPUDevice; desc: string; sgMin: number; sgMax: number };
export async function openDevice(): Promise<Gpu | { reason: string }> {
  const got = await acquireGPU();
  if ('reason' in got) return got;
  const adapter = await got.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { reason: 'no WebGPU adapter' };
  for (const f of ['shader-f16', 'subgroups']) if (!adapter.features.has(f as GPUFeatureName)) return { reason: `the adapter has no '${f}'` };
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number } }).info;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: ['shader-f16', 'subgroups'] as GPUFeatureName[] });
  } catch (e) {
    return { reason: `requestDevice with shader-f16 and subgroups failed: ${(e as Error)?.message ?? e}` };
  }
  return {
    gpu: got.gpu, adapter, device, desc: `${info?.vendor ?? ''} ${info?.description ?? info?.device ?? ''}`.trim(),
    sgMin: info?.subgroupMinSize ?? 0, sgMax: info?.subgroupMaxSize ?? 0,
  };
}


// ---- numbers ----
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export const bitsOf = (x: number): number => ((f32[0] = x), u32[0]!);
export const fromBits = (b: number): number => ((u32[0] = b >>> 0), f32[0]!);
/** f16 bits -> number (subnormals, infinities and NaN included). */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/** Seeded PRNG (mulberry32) and standard normals (Box-Muller). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export function normals(n: number, seed: number): Float32Array<ArrayBuffer> {
  const r = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

