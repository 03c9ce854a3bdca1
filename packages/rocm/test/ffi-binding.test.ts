// CI (no GPU): the FFI binding loads under node (here), bun and deno (ffi-smoke.sh), binds libamdhip64's symbols
// and reports the HIP error as the unavailability reason.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, makeProblem } from '@flashattn/core';
import { createRocmBackend } from '../src/backend.js';
import { loadFfiSeam } from '../src/ffi/load-seam.js';
import { GpuDriver } from '../src/gpu/driver.js';

const hipPresent = ['/usr/lib/x86_64-linux-gnu/libamdhip64.so', '/opt/rocm/lib/libamdhip64.so'].some(existsSync);

describe('FFI binding without a GPU', () => {
  it('node: probe is unavailable with the HIP error (or the missing library) as reason, and never throws', async () => {
    const b = createRocmBackend();
    const a = await b.probe();
    expect(a.available).toBe(false);
    if (!a.available) expect(a.reason).toMatch(hipPresent ? /hipErrorNoDevice/ : /libamdhip64/);
    const p = makeProblem({ batch: 1, seqlenQ: 2, seqlenK: 2, nheadsQ: 1, headDim: 4, dtype: 'f32' });
    const x = new Float32Array(8).fill(1);
    await expect(b.forward(p, { q: x, k: x, v: x })).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it.runIf(hipPresent)('node: libamdhip64 binds every symbol; hipGetDeviceCount raises a typed DeviceError', async () => {
    const d = GpuDriver.open('hip', await loadFfiSeam(), {});
    expect(() => d.deviceCount()).toThrow(/hipErrorNoDevice/);
    expect(d.errorName(2)).toMatch(/hipErrorOutOfMemory|hipErrorMemoryAllocation/);
  });

  it('node, bun and deno: scripts/ffi-smoke.sh passes (every seam type through libc; HIP and CUDA probes)', () => {
    const script = fileURLToPath(new URL('../scripts/ffi-smoke.sh', import.meta.url));
    const out = execFileSync('bash', [script], { encoding: 'utf8', env: { ...process.env, FLASHATTN_SMOKE_NEED_HIP: hipPresent ? '1' : '0' } });
    for (const rt of ['node', 'bun', 'deno']) expect(out).toMatch(new RegExp(`"runtime":"${rt} [^"]*","smoke":"ok"`));
  }, 120_000);
});
