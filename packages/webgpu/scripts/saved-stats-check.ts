/**
 * The saved-row-statistics path of the backward against the stats-pass path, on one problem: an f32 forward on the
 * device, then its backward twice, on the forward's own LSE tensor (statistics saved with it, no stats pass) and on a
 * view of the same LSE buffer without them (the stats pass runs). Used by the vitest file, smoke.ts (three runtimes)
 * and device-run.ts `savedstats` (the GPU machine); the gradients should agree bit for bit.
 */
import { generateCase, makeProblem, type CaseSpec } from '@flashattn/core';
import { WebGPUTensor } from '../src/device-tensor.js';
import type { WebGPUBackend } from '../src/index.js';

/** The same LSE buffer, without the forward's saved statistics (and not releasing the buffer on dispose). */
export const withoutRowStats = (lse: WebGPUTensor): WebGPUTensor => new WebGPUTensor(lse.buffer, 'f32', lse.length, () => undefined);

export interface GradDiff { differing: number; maxAbs: number; nonFinite: number; of: number }

export async function savedStatsCheck(b: WebGPUBackend, spec: CaseSpec): Promise<{ saved: string[]; recompute: string[]; dq: GradDiff; dk: GradDiff; dv: GradDiff }> {
  const ops = b.device!;
  const e = await b.engine();
  const c = generateCase(spec);
  const p = makeProblem({ ...spec, returnLse: true, cuSeqlensQ: c.problem.cuSeqlensQ, cuSeqlensK: c.problem.cuSeqlensK });
  const up = (x: unknown) => ops.upload(x as Float32Array, 'f32');
  const [q, k, v, dout] = [await up(c.q), await up(c.k), await up(c.v), await up(c.dout)];
  const r = await ops.forwardDevice(p, q, k, v);
  try {
    const run = async (lse: WebGPUTensor) => {
      const g = await ops.backwardDevice(p, { q, k, v, out: r.out, dout, lse });
      const kernels = e.lastKernels;
      const h = [await ops.download(g.dq), await ops.download(g.dk), await ops.download(g.dv)] as Float32Array[];
      for (const x of [g.dq, g.dk, g.dv]) x.dispose();
      return { kernels, h };
    };
    const l = r.lse as WebGPUTensor;
    const a = await run(l);
    const z = await run(withoutRowStats(l));
    const [dq, dk, dv] = a.h.map((x, i): GradDiff => {
      let n = 0, mx = 0, nan = 0;
      for (let j = 0; j < x.length; j++) {
        const y = z.h[i]![j]!;
        if (!Number.isFinite(x[j]!)) nan++;
        if (!Object.is(x[j], y)) { n++; mx = Math.max(mx, Math.abs(x[j]! - y)); }
      }
      return { differing: n, maxAbs: mx, nonFinite: nan, of: x.length };
    }) as [GradDiff, GradDiff, GradDiff];
    return { saved: a.kernels, recompute: z.kernels, dq, dk, dv };
  } finally {
    for (const t of [q, k, v, dout, r.out, r.lse!]) t.dispose();
  }
}
