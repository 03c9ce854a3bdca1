// The MFMA forward's logic on the CPU, with v_mfma_f32_32x32x8f16 emulated under the operand layout the kernel
// assumes (emu/cpu_runtime.h). What this proves: tiling, masking, online softmax, rescaling of the accumulator
// registers and the write-out, given that layout. What it cannot prove: that the layout is the hardware's.
import { describe, expect, it, beforeAll } from 'vitest';
import { caseLabel, checkBackend, computeOracle, generateCase, type CaseSpec } from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createRocmBackendOn } from '../src/backend.js';
import { CLANG, EMU_MFMA_BIN, EmuDriver, buildEmulator, emuDevice } from './emu-driver.js';

const CASES: CaseSpec[] = [
  { batch: 2, seqlenQ: 45, seqlenK: 70, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'f16' },
  { batch: 1, seqlenQ: 40, seqlenK: 33, nheadsQ: 4, nheadsKV: 2, headDim: 40, dtype: 'f16', causal: true, backward: true },
  { batch: 3, seqlenQ: 37, seqlenK: 50, nheadsQ: 3, nheadsKV: 1, headDim: 59, headDimV: 96, dtype: 'f16', window: [9, 4], softcap: 1.5, varlen: true },
  { batch: 1, seqlenQ: 33, seqlenK: 20, nheadsQ: 2, nheadsKV: 2, headDim: 256, dtype: 'f16', window: [0, 0] },
];

describe.runIf(!!CLANG)('MFMA forward on the CPU emulation (operand layout assumed, not verified)', () => {
  beforeAll(() => { buildEmulator(true); }, 180_000);
  for (const spec of CASES) {
    it(caseLabel(spec), async () => {
      const driver = new EmuDriver(EMU_MFMA_BIN);
      const backend = createRocmBackendOn(async () => emuDevice(driver, { mfma: true }));
      const c = generateCase({ ...spec, seed: 4321 });
      const r = await checkBackend(c, computeOracle(c, referenceOracle), backend);
      expect(driver.launches).toContain('flash_fwd_mfma_f16');
      expect(driver.launches).not.toContain('flash_fwd_f16');
      expect(r.reason ?? '').toBe('');
      expect(r.status).toBe('pass');
    }, 180_000);
  }
});
