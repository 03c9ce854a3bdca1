import { tensorSizes, type DeviceTensor, type Problem } from '@flashattn/core';
import { MODE_NO_POISON, type AddonBuffer, type CudaAddon } from './addon-types.js';
import { mapped } from './cuda-errors.js';
import { liveTensor } from './device-tensor.js';
import { launchParams } from './launch-params.js';

export interface TimingOptions {
  /** Launches timed back to back (default 10). */
  readonly iters?: number;
  /** Untimed launches first (default 2). */
  readonly warmup?: number;
  readonly deterministic?: boolean;
}

/**
 * Kernel time measured on the GPU with CUDA events around `iters` back-to-back launches on the addon stream: what
 * `flashattn bench` reports as TFLOP/s. Outputs are not NaN-poisoned here (the memset would be timed too);
 * correctness runs always poison.
 */
export class CudaTiming {
  constructor(private readonly addon: CudaAddon) {}

  /** GPU milliseconds of everything `queue` enqueues (queue must only enqueue, not await). */
  async time(queue: () => void): Promise<number> {
    const timer = new this.addon.Timer();
    return mapped(async () => {
      timer.start();
      queue();
      timer.stop();
      return timer.elapsed();
    });
  }

  /** Mean milliseconds per forward launch. */
  async forwardMs(p: Problem, q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, o: TimingOptions = {}): Promise<number> {
    const n = tensorSizes(p);
    const tq = liveTensor('q', q, p.dtype, n.q).buffer;
    const tk = liveTensor('k', k, p.dtype, n.k).buffer;
    const tv = liveTensor('v', v, p.dtype, n.v).buffer;
    const a = this.addon;
    const bytes = p.dtype === 'f32' ? 4 : 2;
    const out = await mapped(() => new a.DeviceBuffer(n.out * bytes));
    const lse = await mapped(() => new a.DeviceBuffer(n.lse * 4));
    try {
      const lp = launchParams(p);
      const launch = () => a.forward(lp, tq, tk, tv, out, lse, MODE_NO_POISON);
      return await this.#loop(launch, o);
    } finally {
      out.dispose();
      lse.dispose();
    }
  }

  /** Mean milliseconds per backward launch (lse and out as the forward produced them). */
  async backwardMs(
    p: Problem,
    t: { q: DeviceTensor; k: DeviceTensor; v: DeviceTensor; out: DeviceTensor; dout: DeviceTensor; lse: DeviceTensor },
    o: TimingOptions = {},
  ): Promise<number> {
    const n = tensorSizes(p);
    const b = (name: string, x: DeviceTensor, dtype: typeof p.dtype | 'f32', len: number) => liveTensor(name, x, dtype, len).buffer;
    const q = b('q', t.q, p.dtype, n.q), k = b('k', t.k, p.dtype, n.k), v = b('v', t.v, p.dtype, n.v);
    const out = b('out', t.out, p.dtype, n.out), dout = b('dout', t.dout, p.dtype, n.out), lse = b('lse', t.lse, 'f32', n.lse);
    const a = this.addon;
    const bytes = p.dtype === 'f32' ? 4 : 2;
    const grads: AddonBuffer[] = [];
    try {
      for (const len of [n.q, n.k, n.v]) grads.push(await mapped(() => new a.DeviceBuffer(len * bytes)));
      const lp = launchParams(p);
      const det = o.deterministic === true;
      const launch = () => a.backward(lp, q, k, v, out, dout, lse, grads[0]!, grads[1]!, grads[2]!, det, MODE_NO_POISON);
      return await this.#loop(launch, o);
    } finally {
      for (const g of grads) g.dispose();
    }
  }

  async #loop(launch: () => void, o: TimingOptions): Promise<number> {
    const iters = Math.max(1, o.iters ?? 10);
    await mapped(async () => {
      for (let i = 0; i < (o.warmup ?? 2); i++) launch();
      await this.addon.synchronize();
    });
    const ms = await this.time(() => {
      for (let i = 0; i < iters; i++) launch();
    });
    return ms / iters;
  }
}
