/**
 * CI smoke test of the FFI layer under the runtime that runs it (node, bun or deno; bundled by ffi-smoke.sh):
 *   1. the runtime's seam calls libc through every argument/result type the driver tables use
 *      (i32, u32, u64, f32, buffer, cstr result, address(), cstringAt());
 *   2. the HIP library (libamdhip64) binds all its symbols; the backend's probe reports the HIP error
 *      (no AMD GPU here: hipErrorNoDevice) without crashing;
 *   3. with FLASHATTN_ROCM_DRIVER=cuda the probe reports why libcuda cannot be used (or the device, on a GPU box).
 * One JSON line per check; exit 1 if a check that must pass failed.
 */
import { runtimeVersion } from '@flashattn/core';
import { loadFfiSeam } from '../src/ffi/load-seam.js';
import { GpuDriver } from '../src/gpu/driver.js';
import { symbolsOf } from '../src/gpu/api-table.js';
import { createRocmBackend } from '../src/backend.js';
import { readEnv } from '../src/env.js';

let failed = 0;
const line = (check: string, ok: boolean, detail: unknown) => {
  if (!ok) failed++;
  console.log(JSON.stringify({ runtime: runtimeVersion(), check, ok, detail }));
};

const seam = await loadFfiSeam();
const libc = seam.open('libc.so.6', {
  abs: { args: ['i32'], result: 'i32' },
  toupper: { args: ['u32'], result: 'i32' },
  memcmp: { args: ['buffer', 'u64', 'u64'], result: 'i32' },
  strerror: { args: ['i32'], result: 'cstr' },
});
const libm = seam.open('libm.so.6', { ilogbf: { args: ['f32'], result: 'i32' } });
const a = new Uint8Array(new ArrayBuffer(8));
a.set([104, 105, 0]);
const b = new Uint8Array(new ArrayBuffer(8));
b.set([104, 105, 0]);
const checks = {
  'i32 abs(-7)': libc.call('abs', -7) === 7,
  'u32 toupper(97)': libc.call('toupper', 97) === 65,
  'buffer+address(u64)+u64 memcmp': libc.call('memcmp', a, libc.address(b), 3n) === 0 && libc.call('memcmp', a, libc.address(b), 3n) === 0,
  'f32 ilogbf(1024)': libm.call('ilogbf', 1024) === 10,
  'cstr strerror(2)': /No such file/.test(String(libc.call('strerror', 2))),
  'cstringAt(address)': libc.cstringAt(libc.address(a)) === 'hi',
};
for (const [k, ok] of Object.entries(checks)) line(`${seam.name}: ${k}`, ok, ok);

const env = readEnv();
try {
  const hip = GpuDriver.open('hip', seam, env);
  line(`HIP library binds ${Object.keys(symbolsOf('hip')).length} symbols`, true, hip.libraryPath);
  try {
    line('hipGetDeviceCount', true, hip.deviceCount());
  } catch (e) {
    line('hipGetDeviceCount -> typed DeviceError', (e as Error).constructor.name === 'DeviceError', (e as Error).message);
  }
} catch (e) {
  line('HIP library binds', env.FLASHATTN_SMOKE_NEED_HIP !== '1', (e as Error).message);
}
const probe = await createRocmBackend().probe();
line(`rocm probe (driver ${env.FLASHATTN_ROCM_DRIVER ?? 'hip'})`, true, probe);
console.log(JSON.stringify({ runtime: runtimeVersion(), smoke: failed ? 'FAILED' : 'ok' }));
if (failed) (globalThis as any).process?.exit?.(1);
