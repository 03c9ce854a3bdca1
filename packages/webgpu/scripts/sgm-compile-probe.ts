/**
 * Which subgroup-matrix constructs Dawn + the driver compile (bisection for fused-mma-probe.ts): one small kernel per
 * case, named on the command line (one node process per case: a crash takes only that case). Prints
 * {case, ok | error} as JSON; the kernel is also run once.
 */
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const out = (o: unknown) => console.log(JSON.stringify(o));
const HEAD = `enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> A: array<i32>;
@group(0) @binding(1) var<storage, read_write> O: array<i32>;
var<workgroup> wb: array<i32, 1024>;
`;
const L = 'subgroup_matrix_left<i8, 32, 16>', R = 'subgroup_matrix_right<i8, 16, 32>', C = 'subgroup_matrix_result<i32, 16, 16>';
const CASES: Record<string, string> = {
  // Accumulator declared outside a loop and carried through it (the fused kernel's O).
  loopCarried: `${HEAD}@compute @workgroup_size(32) fn main() {
  var c = ${C}();
  for (var i = 0u; i < 4u; i++) { let a = subgroupMatrixLoad<${L}>(&A, i * 512u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u); c = subgroupMatrixMultiplyAccumulate(a, b, c); }
  subgroupMatrixStore(&O, 0u, c, false, 16u);
}`,
  // The same inside the loop only (the qk probe's form).
  loopLocal: `${HEAD}@compute @workgroup_size(32) fn main() {
  for (var i = 0u; i < 4u; i++) { var c = ${C}(); let a = subgroupMatrixLoad<${L}>(&A, i * 512u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u); c = subgroupMatrixMultiplyAccumulate(a, b, c); subgroupMatrixStore(&O, i * 256u, c, false, 16u); }
}`,
  // Left operand from workgroup memory.
  leftFromWorkgroup: `${HEAD}@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) t: u32) {
  for (var i = t; i < 1024u; i += 32u) { wb[i] = A[i]; }
  workgroupBarrier();
  let a = subgroupMatrixLoad<${L}>(&wb, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u);
  subgroupMatrixStore(&O, 0u, subgroupMatrixMultiplyAccumulate(a, b, ${C}()), false, 16u);
}`,
  // Right operand row-major (V's layout).
  rightRowMajor: `${HEAD}@compute @workgroup_size(32) fn main() {
  let a = subgroupMatrixLoad<${L}>(&A, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, false, 16u);
  subgroupMatrixStore(&O, 0u, subgroupMatrixMultiplyAccumulate(a, b, ${C}()), false, 16u);
}`,
  // Result stored column-major into workgroup memory.
  storeColMajorWorkgroup: `${HEAD}@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) t: u32) {
  let a = subgroupMatrixLoad<${L}>(&A, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u);
  subgroupMatrixStore(&wb, 0u, subgroupMatrixMultiplyAccumulate(a, b, ${C}()), true, 16u);
  workgroupBarrier();
  for (var i = t; i < 256u; i += 32u) { O[i] = wb[i]; }
}`,
  // Store inside a branch on the subgroup's index.
  storeInBranch: `${HEAD}@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) t: u32) {
  let a = subgroupMatrixLoad<${L}>(&A, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u);
  let c = subgroupMatrixMultiplyAccumulate(a, b, ${C}());
  if (t / 32u == 1u) { subgroupMatrixStore(&O, 0u, c, false, 16u); }
}`,
  // With the subgroups extension enabled beside it, and a shuffle.
  withSubgroups: `enable subgroups;\n${HEAD}@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) t: u32) {
  let a = subgroupMatrixLoad<${L}>(&A, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u);
  subgroupMatrixStore(&O, 0u, subgroupMatrixMultiplyAccumulate(a, b, ${C}()), false, 16u);
  O[512u + t] = subgroupShuffleXor(A[t], 16u);
}`,
  // A helper function beside the matrices.
  helperFn: `${HEAD}fn pk(a: f32) -> i32 { return bitcast<i32>(u32(i32(a)) & 255u); }
@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) t: u32) {
  let a = subgroupMatrixLoad<${L}>(&A, 0u, false, 32u); let b = subgroupMatrixLoad<${R}>(&A, 2048u, true, 32u);
  subgroupMatrixStore(&O, 0u, subgroupMatrixMultiplyAccumulate(a, b, ${C}()), false, 16u);
  O[512u + t] = pk(round(f32(A[t]) * 0.5));
}`,
};

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CASES);
const gpu = create(['enable-dawn-features=allow_unsafe_apis']);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter?.features.has('chromium-experimental-subgroup-matrix')) { out({ error: 'no subgroup matrices here' }); process.exit(0); }
const device = await adapter.requestDevice({ requiredFeatures: ['chromium-experimental-subgroup-matrix', 'subgroups'] as GPUFeatureName[] });
for (const name of names) {
  process.stderr.write(`[sgm] ${name}\n`);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: CASES[name]! });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const A = device.createBuffer({ size: 16384, usage: GPUBufferUsage.STORAGE });
  const O = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: A } }, { binding: 1, resource: { buffer: O } }] }));
  pass.dispatchWorkgroups(1); pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const e = await device.popErrorScope();
  out({ case: name, ...(e ? { error: e.message.slice(0, 300) } : { ok: true }) });
}
process.exit(0);
