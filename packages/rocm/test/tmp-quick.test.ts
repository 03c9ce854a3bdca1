import { it, expect } from 'vitest';
import { caseLabel, checkBackend, computeOracle, generateCase } from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { quickCases } from '../../../apps/cli/src/cases.js';
import { createRocmBackendOn } from '../src/backend.js';
import { EmuDriver, buildEmulator, emuDevice } from './emu-driver.js';
const pick = (process.env.PICK ?? '').split(',').filter(Boolean).map(Number);
it('quick set on emu', async () => {
  buildEmulator();
  const cases = quickCases();
  for (const [i, spec] of cases.entries()) {
    if (pick.length && !pick.includes(i)) continue;
    const driver = new EmuDriver();
    const backend = createRocmBackendOn(async () => emuDevice(driver));
    const c = generateCase({ ...spec, seed: 99 + i });
    const t0 = Date.now();
    const r = await checkBackend(c, computeOracle(c, referenceOracle), backend);
    console.log(i, caseLabel(spec), r.status, r.ratio?.toFixed(3), r.reason ?? '', `${Date.now() - t0}ms`);
  }
}, 3_000_000);
