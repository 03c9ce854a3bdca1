/**
 * What Dawn offers for tensor cores on this adapter (`chromium-experimental-subgroup-matrix`: its configurations) and
 * the throughput of one configuration's multiply-accumulate with operands held in registers (an upper bound for any
 * kernel built on it: no loads, no stores in the loop). Groundwork for an exact-f32 path from int8 slices (Ozaki).
 * Run on the GPU machine (Node + the `webgpu` package): node probe.js  ->  JSON lines on stdout.
 */
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const out = (o: unknown) => console.log(JSON.stringify(o));
// DAWN_TOGGLES: more Dawn toggles beside allow_unsafe_apis, e.g. vulkan_enable_f16_on_nvidia (Dawn keeps shader-f16
// off on NVIDIA's Vulkan driver unless told: crbug.com/tint/2164), which also brings the f16 matrix configurations.
const gpu = create([`enable-dawn-features=${['allow_unsafe_apis', ...(process.env.DAWN_TOGGLES ?? '').split(',').filter((t) => t)].join(',')}`]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { out({ error: 'no adapter' }); process.exit(1); }
const feats = [...adapter.features].sort();
const info = adapter.info as unknown as Record<string, unknown>;
type Config = { componentType: string; resultComponentType: string; M: number; N: number; K: number };
// Dawn's config objects expose their fields as getters: copied into plain objects for JSON.
const configs = ((info.subgroupMatrixConfigs ?? []) as Config[]).map((c): Config => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
out({ adapter: `${info.vendor} ${info.architecture} ${info.device} ${info.description}`, toggles: process.env.DAWN_TOGGLES ?? '', shaderF16: feats.includes('shader-f16'), subgroupMatrix: feats.includes('chromium-experimental-subgroup-matrix'), infoKeys: Object.keys(info), configs });
if (!feats.includes('chromium-experimental-subgroup-matrix')) process.exit(0);

const device = await adapter.requestDevice({ requiredFeatures: ['chromium-experimental-subgroup-matrix', 'subgroups', 'timestamp-query', ...(feats.includes('shader-f16') ? ['shader-f16'] : [])] as GPUFeatureName[] });
(globalThis as Record<string, unknown>).__keepDawn = [gpu, adapter]; // Dawn stops delivering events once collected
device.addEventListener('uncapturederror', (e) => out({ uncaptured: String((e as GPUUncapturedErrorEvent).error.message) }));
const WGSL_T: Record<string, string> = { i8: 'i8', u8: 'u8', f16: 'f16', f32: 'f32', i32: 'i32', u32: 'u32' };
const STORE_T: Record<string, string> = { i32: 'i32', u32: 'u32', f32: 'f32', f16: 'f16' };
/** Storage element type of an operand buffer (8-bit values are packed four to a 32-bit word). */
const SRC_T: Record<string, string> = { i8: 'i32', u8: 'u32', f16: 'f16', f32: 'f32' };

for (const c of configs) {
  const a = WGSL_T[c.componentType]!, r = WGSL_T[c.resultComponentType]!;
  if (!a || !r || !STORE_T[r] || !SRC_T[a]) { out({ config: c, skipped: 'type not handled' }); continue; }
  const ITER = 2048, WG = 128, SGS = 32, groups = 132 * 32;
  const enables = `enable chromium_experimental_subgroup_matrix;${a === 'f16' || r === 'f16' ? '\nenable f16;' : ''}`;
  const code = `${enables}
@group(0) @binding(0) var<storage, read_write> dst: array<${r}>;
@group(0) @binding(1) var<storage, read> src: array<${SRC_T[a]}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  // Two independent accumulators, operands loaded once from a buffer (no loads in the loop; not constants, so that
  // the compiler cannot fold the products away).
  let l = subgroupMatrixLoad<subgroup_matrix_left<${a}, ${c.K}, ${c.M}>>(&src, 0u, false, ${c.K}u);
  let rr = subgroupMatrixLoad<subgroup_matrix_right<${a}, ${c.N}, ${c.K}>>(&src, 0u, false, ${c.N}u);
  var acc0 = subgroup_matrix_result<${r}, ${c.N}, ${c.M}>();
  var acc1 = subgroup_matrix_result<${r}, ${c.N}, ${c.M}>();
  for (var i = 0u; i < ${ITER}u; i++) {
    acc0 = subgroupMatrixMultiplyAccumulate(l, rr, acc0);
    acc1 = subgroupMatrixMultiplyAccumulate(l, rr, acc1);
  }
  // The offset must be uniform: every subgroup of a workgroup stores the same values to the same place.
  subgroupMatrixStore(&dst, wid.x * ${2 * c.M * c.N}u, acc0, false, ${c.N}u);
  subgroupMatrixStore(&dst, wid.x * ${2 * c.M * c.N}u + ${c.M * c.N}u, acc1, false, ${c.N}u);
}`;
  try {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code });
    const ci = await module.getCompilationInfo();
    const errs = ci.messages.filter((m) => m.type === 'error').map((m) => m.message);
    if (errs.length) { await device.popErrorScope(); out({ config: c, compileErrors: errs }); continue; }
    // Synchronous: Dawn 0.6.2's async creation aborted the process on larger subgroup-matrix kernels.
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const subgroups = (groups * WG) / SGS;
    const bytes = groups * 2 * c.M * c.N * 4;
    const buf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE });
    const src = device.createBuffer({ size: 4 * 64 * 64, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(src, 0, new Uint32Array(64 * 64).fill(0x01010101));
    const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: src } }] });
    const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
    const res = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const rd = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const err = await device.popErrorScope();
    if (err) { out({ config: c, error: err.message }); continue; }
    const times: number[] = [];
    const t0 = performance.now();
    for (let rep = 0; rep < 12 || performance.now() - t0 < 1500; rep++) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      pass.setPipeline(pipeline); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(groups); pass.end();
      enc.resolveQuerySet(qs, 0, 2, res, 0); enc.copyBufferToBuffer(res, 0, rd, 0, 16);
      device.queue.submit([enc.finish()]);
      await rd.mapAsync(GPUMapMode.READ);
      const ts = new BigUint64Array(rd.getMappedRange().slice(0));
      rd.unmap();
      times.push(Number(ts[1]! - ts[0]!) / 1e6);
      if (rep > 200) break;
    }
    const ms = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
    const ops = 2 * c.M * c.N * c.K * 2 * ITER * subgroups;
    out({ config: c, ms, runs: times.length, teraOpsPerS: ops / (ms * 1e9) });
    buf.destroy(); src.destroy(); res.destroy(); rd.destroy(); qs.destroy();
  } catch (e) {
    out({ config: c, error: String(e) });
  }
}
device.destroy();
process.exit(0);
