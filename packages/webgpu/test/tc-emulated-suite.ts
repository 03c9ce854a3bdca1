// First: sets lavapipe's vector width to 256 bits (8-lane subgroups) before Dawn loads (see split-test-gpu.ts).
import './split-test-gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { caseLabel, crossCheck, generateCase, makeProblem, type CaseSpec } from '@flashattn/core';
import { referenceOracle } from '@flashattn/reference';
import { createWebGPUBackend } from '../src/index.js';
import type { GpuContext } from '../src/gpu-context.js';
import { emulateSubgroupMatrices } from './tc-emulation.js';

/**
 * The tensor-core forward (wgsl-forward-tcpv.ts) on this adapter with its subgroup
 * matrices emulated (tc-emulation.ts): its logic against the float64 oracle under the conformance criterion, in CI,
 * where no adapter has subgroup matrices. lavapipe's 32 KiB of workgroup memory take its 32-row tiles at d64 and at
 * d128 with headDimV 64 (64 rows with 16-bit inputs and headDimV 32, d64 or d96); the H100 runs 64-row ones at d128
 * (the same generator). headDimV 128 does not fit. Five kernels (f32 d64 and d128; f16 d64 with softcap and d96; bf16
 * with headDimV 32) and a backward's four, compiled cold in several minutes under CI's settings (8-lane subgroups
 * asked for, as split-test-gpu.ts does). One case runs the backward too (the SIMT kernels, after the tensor-core
 * forward: they cannot take its row statistics and recompute them).
 */
// The oracle and baseline of `flashattn conformance` (f32: the naive accumulating in f32 with one rounding per add).
const oracle = referenceOracle;
const backend = createWebGPUBackend();
const avail = await backend.probe();
const globalEngine = avail.available ? await backend.engine() : undefined;
// Chunked cases: bindings capped at 16 KiB for the call, so that a problem splits by whole sequences, each chunk
// bound at an aligned offset with an element shift (the f16 kernel reads K and V at that shift itself,
// TcTiles.direct). The same engine, so a case of another one's kernel shape compiles nothing new.
const CHUNK_BYTES = 16384;
const skipWhy = !avail.available ? avail.reason
  : globalEngine!.ctx.subgroupMinSize < 8 ? `subgroups of ${globalEngine!.ctx.subgroupMinSize} (the kernel's shuffles need 8 lanes)` : undefined;
if (skipWhy) console.warn(`tensor-core emulation tests skipped: ${skipWhy}`);
if (globalEngine && !skipWhy) {
  const e = globalEngine;
  // The tensor-core forward on (its 32-lane needs emulated); every other kernel keeps the adapter's real subgroups.
  // Mode 'on' (not the default 'auto', which leaves f32 forwards that return the LSE to the SIMT kernel).
  Object.assign(e.ctx as GpuContext & { tensorCores: boolean; tensorCoresAuto: boolean }, { tensorCores: true, tensorCoresAuto: false });
  e.tcSubgroups = () => true;
  e.wgslTransform = emulateSubgroupMatrices;
}
const T = 600_000;

/** One case: planned on the tensor-core forward (in chunks where asked), run, and judged against the oracle. */
async function checkCase(spec: CaseSpec, chunk: boolean): Promise<void> {
  const engine = globalEngine!;
  const plan = engine.forwardPlan(makeProblem({ ...spec, returnLse: true }));
  expect(Array.isArray(plan) ? plan : plan.tc, 'the tensor-core forward with P·V on the tensor cores').toMatchObject({ pv: 'mma', ...(spec.dtype === 'f16' ? { direct: true } : {}) });
  if (chunk) expect(Array.isArray(plan) ? 0 : plan.chunks.length, 'chunks').toBeGreaterThan(1);
  // FLASHATTN_TC_EMU_TRIALS=n: n fresh draws per case, each ratio logged (the cold compiles dominate, not the draws)
  for (let trial = 0; trial < Number(process.env.FLASHATTN_TC_EMU_TRIALS ?? 1); trial++) {
    const c = generateCase(spec); // spread: core's rows at spread magnitudes (CaseSpec.spread)
    const [r] = await crossCheck(c, [backend], oracle);
    // After a tensor-core forward the backward recomputes the row statistics (its own pass, `stats`).
    expect(engine.lastKernels.join(','), 'the kernels run').toMatch(spec.backward ? /(^|,)stats,(.*,)?dkv(,|$)/ : /fwdtc/);
    if (process.env.FLASHATTN_TC_EMU_TRIALS) console.log(`tc-emu ${caseLabel(spec)} seed ${c.seed}: ${JSON.stringify(Object.fromEntries(Object.entries(r!.errors ?? {}).map(([k, e]) => [k, `${e.ratio.toFixed(2)} (of the bound ${(e.err / e.bound).toFixed(2)})`])))}`);
    expect(r!.status, `${caseLabel(spec)} seed ${c.seed}: ${r!.reason ?? ''}`).toBe('pass');
  }
}

/**
 * The suite over `spread` (drawn with core's CaseSpec.spread: V's rows at magnitudes 1, 8, 64 or 512 in runs of 16,
 * so V's 32-row scale blocks differ and a tile that mixes two blocks shows, and Q's by 1, 4 or 16 in runs of 8:
 * peaked softmax rows beside flat ones, where S's error shows) and `cases` (plain randn). Session 11, 12 fresh draws of every
 * case: at most 0.62 of the bound (with 16 FMA roundings per k-step in the emulated MMA instead of one, and the
 * looser f32-naive.ts baseline, 2 of 36 spread draws had failed). `chunked` cases run with the bindings capped at
 * CHUNK_BYTES. Two test files share the cases so that vitest's two workers share the compiling.
 */
export function tcEmulatedSuite(spread: CaseSpec[], cases: CaseSpec[], chunked: CaseSpec[] = []): void {
  afterAll(async () => {
    await backend.dispose();
  });
  describe.skipIf(skipWhy !== undefined)('the tensor-core forward, subgroup matrices emulated, against the float64 oracle', () => {
    const all = [...spread.map((s) => ({ spec: { ...s, spread: true }, chunk: false })), ...cases.map((spec) => ({ spec, chunk: false })), ...chunked.map((spec) => ({ spec, chunk: true }))];
    for (const { spec, chunk } of all) {
      it(`${caseLabel(spec)}${chunk ? ' chunked' : ''}`, async () => {
        const limits = globalEngine!.ctx.limits, full = limits.maxStorageBufferBindingSize;
        if (chunk) limits.maxStorageBufferBindingSize = CHUNK_BYTES;
        try {
          await checkCase(spec, chunk);
        } finally {
          limits.maxStorageBufferBindingSize = full;
        }
      }, T);
    }
  });
}
