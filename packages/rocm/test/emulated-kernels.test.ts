// The portable kernels' logic, judged by flash-attn's criterion against the float64 oracle, with no GPU: the
// backend's own launch code (tiles, grids, packed arguments) drives the kernels compiled for the CPU
// (emu/flash_emu.cpp). Small shapes: the emulation runs 256 threads per block one block at a time.
import { describe, expect, it, beforeAll } from 'vitest';
import { caseLabel, checkBackend, computeOracle, generateCase, type CaseSpec } from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createRocmBackendOn } from '../src/backend.js';
import { EmuDriver, buildEmulator, emuDevice } from './emu-driver.js';

const CASES: CaseSpec[] = [
  { batch: 2, seqlenQ: 19, seqlenK: 37, nheadsQ: 2, nheadsKV: 2, headDim: 32, dtype: 'f32', backward: true },
  { batch: 1, seqlenQ: 40, seqlenK: 23, nheadsQ: 4, nheadsKV: 2, headDim: 40, dtype: 'f16', causal: true, backward: true },
  { batch: 2, seqlenQ: 21, seqlenK: 70, nheadsQ: 3, nheadsKV: 1, headDim: 59, dtype: 'bf16', window: [9, 4], backward: true },
  { batch: 1, seqlenQ: 17, seqlenK: 33, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'f32', softcap: 1.5, backward: true },
  { batch: 3, seqlenQ: 25, seqlenK: 31, nheadsQ: 4, nheadsKV: 2, headDim: 48, dtype: 'f16', varlen: true, backward: true },
  { batch: 1, seqlenQ: 24, seqlenK: 20, nheadsQ: 2, nheadsKV: 1, headDim: 256, headDimV: 128, dtype: 'bf16', causal: true, backward: true },
  { batch: 1, seqlenQ: 30, seqlenK: 10, nheadsQ: 2, nheadsKV: 2, headDim: 32, dtype: 'f32', window: [0, 0], backward: true },
  { batch: 2, seqlenQ: 20, seqlenK: 26, nheadsQ: 2, nheadsKV: 2, headDim: 16, headDimV: 96, dtype: 'f16', window: [-1, 3], softcap: 2, varlen: true, backward: true },
];

describe('portable kernels on the CPU emulation', () => {
  beforeAll(() => { buildEmulator(); }, 120_000);

  for (const spec of CASES) {
    it(caseLabel(spec), async () => {
      const driver = new EmuDriver();
      const backend = createRocmBackendOn(async () => emuDevice(driver));
      const c = generateCase({ ...spec, seed: 1234 });
      const r = await checkBackend(c, computeOracle(c, referenceOracle), backend);
      expect(r.reason ?? '').toBe('');
      expect(r.status).toBe('pass');
      expect(driver.live()).toBe(0); // every temporary and result tensor was freed
      expect(driver.launches).toContain(`flash_fwd_${spec.dtype}`);
      expect(driver.launches).toContain(`flash_bwd_dkv_${spec.dtype}`);
    }, 120_000);
  }

  it('a kernel that is wrong is caught (the check can fail)', async () => {
    const driver = new EmuDriver();
    const real = emuDevice(driver);
    // Swap q and k in the forward: a plausible marshalling bug. The oracle must reject it.
    const launch = driver.launch.bind(driver);
    driver.launch = (fn, grid, block, shared, stream, args) => {
      const bytes = args.bytes();
      const swapped = bytes.slice();
      swapped.set(bytes.subarray(8, 16), 0);
      swapped.set(bytes.subarray(0, 8), 8);
      const fake = Object.assign(Object.create(Object.getPrototypeOf(args)), args, { bytes: () => swapped, layout: args.layout });
      launch(fn, grid, block, shared, stream, driver.names.get(fn)!.startsWith('flash_fwd') ? fake : args);
    };
    const backend = createRocmBackendOn(async () => real);
    const c = generateCase({ batch: 1, seqlenQ: 12, seqlenK: 12, nheadsQ: 1, nheadsKV: 1, headDim: 16, dtype: 'f32', seed: 7 });
    const r = await checkBackend(c, computeOracle(c, referenceOracle), backend);
    expect(r.status).toBe('fail');
  }, 120_000);
});
