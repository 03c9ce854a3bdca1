import { PARAM_BYTES } from './wgsl-common.js';
import { queueDone, type GpuContext } from './gpu-context.js';

export const USAGE = { MAP_READ: 0x01, COPY_SRC: 0x04, COPY_DST: 0x08, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;

export interface Binding {
  readonly binding: number;
  readonly buffer: GPUBuffer;
  readonly offset?: number;
  readonly size?: number;
}

type Phase = 'pre' | 'main' | 'post';

interface Dispatch {
  readonly phase: Phase;
  readonly pipeline: GPUComputePipeline;
  readonly params: ArrayBuffer;
  readonly bindings: readonly Binding[];
  readonly groups: readonly [number, number, number];
}

/**
 * Collects the dispatches of one call (poison fills, attention kernels, packing), then records them into three
 * compute passes with one uniform buffer for all parameter blocks; the 'main' pass can carry timestamps.
 */
export class Recorder {
  readonly #list: Dispatch[] = [];
  constructor(readonly ctx: GpuContext) {}

  add(phase: Phase, pipeline: GPUComputePipeline, params: ArrayBuffer, bindings: readonly Binding[], groups: [number, number, number]): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    this.#list.push({ phase, pipeline, params, bindings, groups });
  }

  /** The pipeline names (each label up to its first '|') of the main dispatches, in order (set by `run`). */
  kernels: string[] = [];
  /** GPU ms of each of `kernels` after a `run('dispatch')`, which runs each in a compute pass of its own between two timestamps. */
  kernelMs: number[] = [];

  /** Submit and wait; with `timestamps`, returns the GPU time of the main pass in ms ('dispatch': the sum over its dispatches). */
  async run(timestamps: boolean | 'dispatch'): Promise<number | undefined> {
    const d = this.ctx.device;
    if (this.#list.length === 0) return undefined;
    const stride = Math.max(PARAM_BYTES, this.ctx.limits.minUniformBufferOffsetAlignment);
    const uniforms = d.createBuffer({ size: stride * this.#list.length, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    const block = new Uint8Array(stride * this.#list.length);
    this.#list.forEach((x, i) => block.set(new Uint8Array(x.params), i * stride));
    d.queue.writeBuffer(uniforms, 0, block);
    let qs: GPUQuerySet | undefined;
    let resolve: GPUBuffer | undefined;
    let readback: GPUBuffer | undefined;
    const useTs = timestamps && this.ctx.timestamps;
    const perDispatch = useTs && timestamps === 'dispatch';
    const mains = this.#list.filter((x) => x.phase === 'main');
    this.kernels = mains.map((x) => x.pipeline.label.split('|')[0]!);
    const nq = perDispatch ? 2 * mains.length : 2;
    if (useTs) {
      qs = d.createQuerySet({ type: 'timestamp', count: nq });
      resolve = d.createBuffer({ size: 8 * nq, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC });
      readback = d.createBuffer({ size: 8 * nq, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    }
    try {
      const enc = d.createCommandEncoder();
      let m = 0;
      for (const phase of ['pre', 'main', 'post'] as const) {
        const items = this.#list.map((x, i) => [x, i] as const).filter(([x]) => x.phase === phase);
        if (items.length === 0) continue;
        const ts = (a: number): GPUComputePassDescriptor => (qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: a, endOfPassWriteIndex: a + 1 } } : {});
        const each = phase === 'main' && perDispatch;
        const whole = each ? undefined : enc.beginComputePass(phase === 'main' ? ts(0) : {});
        for (const [x, i] of items) {
          const pass = whole ?? enc.beginComputePass(ts(2 * m++));
          const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniforms, offset: i * stride, size: PARAM_BYTES } }];
          for (const b of x.bindings) entries.push({ binding: b.binding, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size ?? b.buffer.size - (b.offset ?? 0) } });
          const bg = d.createBindGroup({ layout: x.pipeline.getBindGroupLayout(0), entries });
          pass.setPipeline(x.pipeline);
          pass.setBindGroup(0, bg);
          pass.dispatchWorkgroups(x.groups[0], x.groups[1], x.groups[2]);
          if (!whole) pass.end();
        }
        whole?.end();
      }
      if (qs && resolve && readback) {
        enc.resolveQuerySet(qs, 0, nq, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, readback, 0, 8 * nq);
      }
      d.queue.submit([enc.finish()]);
      await queueDone(this.ctx);
      if (readback) {
        await readback.mapAsync(1);
        const t = new BigUint64Array(readback.getMappedRange().slice(0));
        readback.unmap();
        const ms = (a: number) => Number(t[a + 1]! - t[a]!) / 1e6;
        if (!perDispatch) return ms(0);
        this.kernelMs = this.kernels.map((_, j) => ms(2 * j));
        return this.kernelMs.reduce((a, x) => a + x, 0);
      }
      return undefined;
    } finally {
      uniforms.destroy();
      qs?.destroy();
      resolve?.destroy();
      readback?.destroy();
    }
  }
}
