import { DeviceError, DeviceOutOfMemoryError, lseLayout, tensorSizes, type DType, type HostArray, type Problem } from '@flashattn/core';
import { bindRange, bufferBytes, planChunks, wordChunks, type Chunk, type RowTensor } from './binding-split.js';
import { WebGPUTensor, type RowStats } from './device-tensor.js';
import { BufferPool } from './buffer-pool.js';
import { BACKEND, queueDone, scoped, type GpuContext } from './gpu-context.js';
import { Recorder, USAGE, type Binding } from './recorder.js';
import { chooseDkvTiles, chooseDqTiles, chooseForwardTiles, type TileLimits, type TileOverride } from './tiles.js';
import { encodeParams, type ParamName } from './wgsl-common.js';
import { dkvWGSL, dqWGSL, rowStatsWGSL, type BackwardTiles } from './wgsl-backward.js';
import { forwardAblation, forwardLayout, forwardWGSL, type ForwardTiles, type TcAblation } from './wgsl-forward.js';
import { forwardTcWGSL, kSplitWGSL, tcDefaults, tcTiles, type TcTiles } from './wgsl-forward-tc.js';
import { forwardTcPvWGSL, tcPvLayout } from './wgsl-forward-tcpv.js';
import { vSplitWGSL } from './wgsl-v-split.js';
import { LINEAR_WG, fillWGSL, packWGSL } from './wgsl-util.js';


const POISON: Record<DType, number> = { f32: 0x7fc00000, f16: 0x7e007e00, bf16: 0x7fc07fc0 };
const bpe = (dt: DType | 'f32') => (dt === 'f32' ? 4 : 2);

type BoundRange = { buffer: GPUBuffer; offset: number; size: number; shift: number };

/** tc: the tensor-core forward's tile where it takes the problem (GpuContext.tensorCores), else the SIMT forward's. */
interface ForwardPlan { tiles: ForwardTiles; subgroups: boolean; chunks: Chunk[]; tc?: TcTiles }
interface BackwardPlan { dkv: BackwardTiles; dq: BackwardTiles; stats: ForwardPlan; chunks: Chunk[] }

/**
 * What a forward's saved row statistics depend on: the stats kernel (tiles, options, subgroups) and every problem
 * field that changes a row's scores or which keys it sees. The backward takes them only under an equal key.
 */
function statsKey(p: Problem, plan: ForwardPlan): string {
  const { headDim, headDimV, nheadsQ, nheadsKV, scale, window, softcap, batch } = p;
  return JSON.stringify([plan.tiles, plan.subgroups, headDim, headDimV, nheadsQ, nheadsKV, scale, window, softcap, batch, [...p.cuSeqlensQ], [...p.cuSeqlensK]]);
}

/** Kernels, pipelines and the recording of forward/backward on one device. */
export class Engine {
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  /** GPU time of the last call's attention kernels (timestamp queries), when profiling. */
  lastGpuMs: number | undefined;
  /** The attention kernels the last call dispatched, by pipeline name (e.g. ['rowstats', 'dkv', 'dq']). */
  lastKernels: string[] = [];
  /** GPU ms of each of `lastKernels`, when profiling per dispatch (`profile = 'dispatch'`). */
  lastKernelMs: number[] = [];
  profile: boolean | 'dispatch' = false;
  /** Test seam: every kernel's WGSL passes through it before compiling (test/tc-emulation.ts runs the tensor-core
   * forward on adapters without subgroup matrices that way). */
  wgslTransform: ((code: string) => string) | undefined;
  /** Whether the tensor-core forward's 32-lane subgroups are there. Test seam: the emulation (test/tc-emulation.ts)
   * replaces what needs them, so the test turns this on while the other kernels keep the adapter's real size. */
  tcSubgroups = (): boolean => this.ctx.subgroupMinSize === 32;
  #serial: Promise<unknown> = Promise.resolve();
  /** Buffers of finished calls and disposed tensors, kept for reuse (the backend's poolMB; 0 bytes = off). */
  readonly pool: BufferPool;

  constructor(readonly ctx: GpuContext, readonly override?: TileOverride, poolBytes = 0) {
    this.pool = new BufferPool(ctx.device, poolBytes);
  }

  /** Return a buffer for reuse. */
  readonly release = (b: GPUBuffer): void => this.pool.release(b);

  /** Error scopes are a device-wide stack: one operation at a time. Out of memory empties the pool for a retry. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.#serial.then(fn, fn).catch((e: unknown) => {
      if (e instanceof DeviceOutOfMemoryError) this.pool.trim();
      throw e;
    });
    this.#serial = r.catch(() => undefined);
    return r;
  }

  tileLimits(): TileLimits {
    const l = this.ctx.limits;
    return { smem: l.maxComputeWorkgroupStorageSize, invocations: Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX), subgroupMinSize: this.ctx.subgroupMinSize, cpu: /llvmpipe|lavapipe|swiftshader/i.test(this.ctx.description) };
  }

  #rowTensors(p: Problem, names: string[]): RowTensor[] {
    const out16 = p.dtype === 'f32' ? 4 : 4; // outputs are written as f32 (directly or into scratch)
    const all: Record<string, RowTensor> = {
      q: { name: 'q', cu: p.cuSeqlensQ, rowElems: p.nheadsQ * p.headDim, bytesPerElem: bpe(p.dtype) },
      k: { name: 'k', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDim, bytesPerElem: bpe(p.dtype) },
      v: { name: 'v', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDimV, bytesPerElem: bpe(p.dtype) },
      o: { name: 'out', cu: p.cuSeqlensQ, rowElems: p.nheadsQ * p.headDimV, bytesPerElem: bpe(p.dtype) },
      do: { name: 'dout', cu: p.cuSeqlensQ, rowElems: p.nheadsQ * p.headDimV, bytesPerElem: bpe(p.dtype) },
      oacc: { name: 'out (f32 result)', cu: p.cuSeqlensQ, rowElems: p.nheadsQ * p.headDimV, bytesPerElem: out16 },
      dq: { name: 'dq (f32 result)', cu: p.cuSeqlensQ, rowElems: p.nheadsQ * p.headDim, bytesPerElem: 4 },
      dk: { name: 'dk (f32 result)', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDim, bytesPerElem: 4 },
      dv: { name: 'dv (f32 result)', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDimV, bytesPerElem: 4 },
    };
    return names.map((n) => all[n]!);
  }

  #common(p: Problem): string[] {
    const l = this.ctx.limits;
    const r: string[] = [];
    const n = tensorSizes(p);
    const big = Math.max(n.q, n.k, n.v, n.out) * 4;
    if (big > l.maxBufferSize) r.push(`a tensor of ${big} bytes (as f32) > maxBufferSize ${l.maxBufferSize} of this adapter`);
    if (n.lse * 16 > l.maxStorageBufferBindingSize) r.push(`nheadsQ * totalQ = ${n.lse} row statistics exceed maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}`);
    const maxDim = l.maxComputeWorkgroupsPerDimension;
    if (p.nheadsQ > maxDim) r.push(`nheadsQ ${p.nheadsQ} > ${maxDim} workgroups per dimension`);
    return r;
  }

  forwardPlan(p: Problem): ForwardPlan | string[] {
    const r = this.#common(p);
    const tiles = chooseForwardTiles(p.headDim, p.headDimV, this.tileLimits(), this.override);
    if (!tiles) return [...r, `no forward tile fits headDim ${p.headDim}/${p.headDimV} in ${this.ctx.limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`];
    const l = this.ctx.limits;
    if (Math.ceil(p.seqlenQ / tiles.bm) > l.maxComputeWorkgroupsPerDimension) r.push(`seqlenQ ${p.seqlenQ} needs more than ${l.maxComputeWorkgroupsPerDimension} query tiles`);
    const chunks = planChunks(p.batch, this.#rowTensors(p, ['q', 'k', 'v', 'o', 'oacc']), l.maxStorageBufferBindingSize, l.minStorageBufferOffsetAlignment, l.maxComputeWorkgroupsPerDimension);
    if (typeof chunks === 'string') r.push(chunks);
    if (r.length || typeof chunks === 'string') return r;
    const g = forwardLayout({ d: p.headDim, dv: p.headDimV }, tiles).g;
    const base = { tiles, subgroups: this.ctx.subgroupMinSize >= g, chunks };
    if (!this.ctx.tensorCores) return base;
    // 'auto': the forward before an f32 backward stays SIMT, so that its saved row statistics spare the backward's
    // stats pass (a tensor-core forward's S is rounded unlike the backward's; see tensorCoresMode).
    if (this.ctx.tensorCoresAuto && p.dtype === 'f32' && p.returnLse) return base;
    const ablate = forwardAblation(); // timing only (scripts/device-run.ts); unset in any other use
    const ab = ablate?.startsWith('tc') ? { ablate: ablate as TcAblation } : {};
    const fits = (bm: number) => Math.ceil(p.seqlenQ / bm) <= l.maxComputeWorkgroupsPerDimension;
    const shape = { d: p.headDim, dv: p.headDimV, subgroups: this.tcSubgroups() };
    const opts = this.override?.tcOpts ?? tcDefaults(p.headDimV, this.ctx.description);
    const direct = p.dtype === 'f16' && !opts.f16Split; // f16 inputs read as they are (TcTiles.direct)
    const tc = tcTiles({ ...shape, half: p.dtype !== 'f32', direct }, l.maxComputeWorkgroupStorageSize, this.override?.tcBm, opts);
    if (typeof tc !== 'object' || !fits(tc.bm)) return base;
    if (tc.pv !== 'mma' || tc.direct) return { ...base, tc: { ...tc, ...ab } };
    // P·V on the tensor cores reads K and V split per call into f16 planes (K: 2 per element, V: VP): the chunks
    // must bind those too, and the split kernels take 32 key rows per workgroup.
    const vp = tcPvLayout({ d: p.headDim, dv: p.headDimV, half: p.dtype !== 'f32' }, tc.bm).VP;
    const planes: RowTensor[] = [
      { name: 'k planes', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDim, bytesPerElem: 4 },
      { name: 'v planes', cu: p.cuSeqlensK, rowElems: p.nheadsKV * p.headDimV, bytesPerElem: 2 * vp },
    ];
    const pchunks = planChunks(p.batch, [...this.#rowTensors(p, ['q', 'k', 'v', 'o', 'oacc']), ...planes], l.maxStorageBufferBindingSize, l.minStorageBufferOffsetAlignment, l.maxComputeWorkgroupsPerDimension);
    const rows = (cu: Int32Array | Uint32Array | readonly number[], c: Chunk) => Math.ceil((cu[c.b1]! - cu[c.b0]!) / 32);
    if (typeof pchunks === 'string' || pchunks.some((c) => rows(p.cuSeqlensK, c) > l.maxComputeWorkgroupsPerDimension)) return base;
    return { ...base, chunks: pchunks, tc: { ...tc, ...ab } };
  }

  backwardPlan(p: Problem): BackwardPlan | string[] {
    const r = this.#common(p);
    const lim = this.tileLimits();
    const dkv = chooseDkvTiles(p.headDim, p.headDimV, lim, this.override);
    const dq = chooseDqTiles(p.headDim, p.headDimV, lim, this.override);
    if (!dkv || !dq) return [...r, `no backward tile fits headDim ${p.headDim}/${p.headDimV} in ${lim.smem} bytes of workgroup memory`];
    const l = this.ctx.limits;
    if (Math.ceil(p.seqlenK / dkv.bn) > l.maxComputeWorkgroupsPerDimension || Math.ceil(p.seqlenQ / dq.bm) > l.maxComputeWorkgroupsPerDimension)
      r.push(`sequence too long for ${l.maxComputeWorkgroupsPerDimension} tiles per dimension`);
    const chunks = planChunks(p.batch, this.#rowTensors(p, ['q', 'k', 'v', 'o', 'do', 'dq', 'dk', 'dv']), l.maxStorageBufferBindingSize, l.minStorageBufferOffsetAlignment, l.maxComputeWorkgroupsPerDimension);
    if (typeof chunks === 'string') r.push(chunks);
    const stats = this.forwardPlan(p);
    if (Array.isArray(stats)) r.push(...stats);
    if (r.length || typeof chunks === 'string' || Array.isArray(stats)) return r;
    return { dkv, dq, stats, chunks };
  }

  #pipeline(key: string, code: () => string): GPUComputePipeline {
    let pl = this.#pipelines.get(key);
    if (!pl) {
      const src = code();
      const module = this.ctx.device.createShaderModule({ code: this.wgslTransform ? this.wgslTransform(src) : src, label: key });
      pl = this.ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.#pipelines.set(key, pl);
    }
    return pl;
  }

  /** Allocate a storage buffer (error scopes turn OOM into DeviceOutOfMemoryError at the end of the call). */
  #buffer(bytes: number, label: string, track: GPUBuffer[]): GPUBuffer {
    const b = this.pool.acquire(bytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label);
    track.push(b);
    return b;
  }

  #fill(rec: Recorder, buf: GPUBuffer, pattern: number): void {
    const pl = this.#pipeline('fill', fillWGSL);
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    for (const c of wordChunks(buf.size / 4, this.ctx.limits.maxStorageBufferBindingSize / 4)) {
      const [gx, gy, rowsX] = linearGrid(c.n, maxDim);
      rec.add('pre', pl, encodeParams({ count: c.n, pattern, rowsX }), [{ binding: 1, buffer: buf, offset: c.w0 * 4, size: c.n * 4 }], [gx, gy, 1]);
    }
  }

  /**
   * K and V of one chunk split into f16 planes for P·V on the tensor cores (kSplitWGSL over K, vSplitWGSL over V, in
   * the main pass before the forward, which splits Q itself): the forward's bindings 4 (K planes), 5 (V planes) and 8
   * (K's inverse row scales, then from word `count` the largest |v| of each block of 32 rows and KV head).
   */
  #splitKV(rec: Recorder, p: Problem, tc: TcTiles, c: Chunk, k: BoundRange, v: BoundRange, track: GPUBuffer[]) {
    const rows = p.cuSeqlensK[c.b1]! - p.cuSeqlensK[c.b0]!, hkv = p.nheadsKV, d = p.headDim, dv = p.headDimV;
    const vp = tcPvLayout({ d, dv, half: tc.half }, tc.bm).VP;
    const align = this.ctx.limits.minStorageBufferOffsetAlignment;
    const kiOff = Math.ceil((4 * rows * hkv) / align) * align, vmWords = Math.ceil(rows / 32) * hkv;
    const kp = this.#buffer(bufferBytes(rows * hkv * d, 4), 'k planes', track);
    const vpb = this.#buffer(bufferBytes((rows * hkv * dv * vp) / 2, 4), 'v planes', track);
    const ki = this.#buffer(kiOff + bufferBytes(vmWords, 4), 'k scales, v block maxima', track);
    const groups: [number, number, number] = [Math.ceil(rows / 32), hkv, 1];
    const params = encodeParams({ count: rows, hkv, kShift: k.shift, vShift: v.shift });
    const ksplit = this.#pipeline(`ksplit|${p.dtype}|${d}`, () => kSplitWGSL({ dtype: p.dtype, d }));
    rec.add('main', ksplit, params, [{ binding: 4, buffer: k.buffer, offset: k.offset, size: k.size }, { binding: 8, buffer: kp, size: bufferBytes(rows * hkv * d, 4) }, { binding: 9, buffer: ki, size: 4 * rows * hkv }], groups);
    rec.add('main', this.#pipeline(`vsplit|${p.dtype}|${dv}|${vp}`, () => vSplitWGSL({ dtype: p.dtype, dv, vp: vp as 1 | 2 | 3 })), params, [
      { binding: 5, buffer: v.buffer, offset: v.offset, size: v.size }, { binding: 10, buffer: ki, offset: kiOff, size: 4 * vmWords },
      { binding: 11, buffer: vpb, size: bufferBytes((rows * hkv * dv * vp) / 2, 4) },
    ], groups);
    return {
      k: { binding: 4, buffer: kp, size: bufferBytes(rows * hkv * d, 4) }, v: { binding: 5, buffer: vpb, size: bufferBytes((rows * hkv * dv * vp) / 2, 4) },
      extra: [{ binding: 8, buffer: ki }], count: kiOff / 4,
    };
  }

  #pack(rec: Recorder, dtype: 'f16' | 'bf16', src: GPUBuffer, dst: GPUBuffer, elems: number): void {
    const pl = this.#pipeline(`pack|${dtype}`, () => packWGSL(dtype));
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    for (const c of wordChunks(Math.ceil(elems / 2), this.ctx.limits.maxStorageBufferBindingSize / 8)) {
      const [gx, gy, rowsX] = linearGrid(c.n, maxDim);
      rec.add('post', pl, encodeParams({ count: c.n, rowsX }), [
        { binding: 1, buffer: src, offset: c.w0 * 8, size: c.n * 8 },
        { binding: 2, buffer: dst, offset: c.w0 * 4, size: c.n * 4 },
      ], [gx, gy, 1]);
    }
  }

  #cuBuffer(p: Problem, track: GPUBuffer[]): GPUBuffer {
    const cu = new Uint32Array(2 * (p.batch + 1));
    cu.set(p.cuSeqlensQ, 0);
    cu.set(p.cuSeqlensK, p.batch + 1);
    const b = this.#buffer(bufferBytes(cu.length, 4), 'cu', track);
    this.ctx.device.queue.writeBuffer(b, 0, cu);
    return b;
  }

  #baseParams(p: Problem, c: Chunk): Partial<Record<ParamName, number>> {
    const ll = lseLayout(p);
    return {
      scale: p.scale, scaleLog2: p.scale * Math.LOG2E, softcap: p.softcap, ninfBits: 0xff800000,
      hq: p.nheadsQ, hkv: p.nheadsKV, group: p.nheadsQ / p.nheadsKV, winLeft: p.window[0], winRight: p.window[1],
      batch0: c.b0, qRow0: p.cuSeqlensQ[c.b0]!, kRow0: p.cuSeqlensK[c.b0]!,
      lseBatchStride: ll.batchStride, lseHeadStride: ll.headStride, lseVarlen: ll.varlenRows ? 1 : 0, cuKOff: p.batch + 1,
    };
  }

  upload(data: HostArray, dtype: DType | 'f32'): Promise<WebGPUTensor> {
    const track: GPUBuffer[] = [];
    let done = false;
    return this.serial(() => scoped(this.ctx, 'upload', async () => {
      const bytes = bufferBytes(data.length, bpe(dtype));
      if (bytes > this.ctx.limits.maxBufferSize) throw new DeviceError(BACKEND, 'too-large', `tensor of ${bytes} bytes > maxBufferSize ${this.ctx.limits.maxBufferSize}`);
      const buf = this.#buffer(bytes, `tensor ${dtype}`, track);
      let src: ArrayBufferView = data;
      if (data.byteLength % 4 !== 0) {
        const padded = new Uint16Array(data.length + 1);
        padded.set(data as Uint16Array);
        src = padded;
      }
      if (src.byteLength > 0) this.ctx.device.queue.writeBuffer(buf, 0, src.buffer, src.byteOffset, src.byteLength);
      await queueDone(this.ctx);
      return buf;
    }).then((buf) => {
      done = true;
      return new WebGPUTensor(buf, dtype, data.length, this.release);
    }, (e: unknown) => {
      if (!done) for (const b of track) b.destroy();
      throw e;
    }));
  }

  download(t: WebGPUTensor): Promise<HostArray> {
    return this.serial(() => scoped(this.ctx, 'download', async () => {
      const d = this.ctx.device;
      const src = t.buffer;
      const staging = this.pool.acquire(src.size, USAGE.MAP_READ | USAGE.COPY_DST, 'staging');
      let ok = false;
      try {
        const enc = d.createCommandEncoder();
        enc.copyBufferToBuffer(src, 0, staging, 0, src.size);
        d.queue.submit([enc.finish()]);
        await Promise.race([staging.mapAsync(1), d.lost.then((li) => { throw new DeviceError(BACKEND, 'device-lost', li.message); })]);
        const bytes = staging.getMappedRange().slice(0, t.length * bpe(t.dtype));
        staging.unmap();
        ok = true;
        return t.dtype === 'f32' ? new Float32Array(bytes) : new Uint16Array(bytes);
      } finally {
        if (ok) this.pool.release(staging);
        else staging.destroy();
      }
    }));
  }

  forward(p: Problem, plan: ForwardPlan, q: WebGPUTensor, k: WebGPUTensor, v: WebGPUTensor): Promise<{ out: WebGPUTensor; lse: WebGPUTensor }> {
    return this.serial(() => {
      const track: GPUBuffer[] = [];
      const keep = new Set<GPUBuffer>();
      let ok = false;
      return scoped(this.ctx, 'forward', async () => {
        const n = tensorSizes(p);
        const dt = p.dtype;
        const out = this.#buffer(bufferBytes(n.out, bpe(dt)), 'out', track);
        // f32 with the LSE returned: each row's (max, 1/sum) kept for a backward (RowStats), 8 bytes per row after the
        // LSE in its buffer. (A binding of their own cost the d64 forward 6.5% on the H100, run 53.)
        // (Not from the tensor-core forward: its S is rounded unlike the backward's SIMT recomputation.)
        const saveStats = dt === 'f32' && p.returnLse && !plan.tc;
        const statsOff = saveStats ? Math.ceil((4 * n.lse) / 256) * 256 : 0;
        const lse = this.#buffer(saveStats ? statsOff + 8 * n.lse : bufferBytes(n.lse, 4), 'lse', track);
        const acc = dt === 'f32' ? out : this.#buffer(bufferBytes(2 * Math.ceil(n.out / 2), 4), 'out f32', track);
        const cu = this.#cuBuffer(p, track);
        const rec = new Recorder(this.ctx);
        this.#fill(rec, out, POISON[dt]);
        this.#fill(rec, lse, POISON.f32);
        if (acc !== out) this.#fill(rec, acc, POISON.f32);
        const { tiles, subgroups } = plan;
        const shape = { dtype: dt, d: p.headDim, dv: p.headDimV, softcap: p.softcap > 0, subgroups, ...(saveStats ? { saveStats } : {}) };
        const tc = plan.tc;
        const key = tc ? `fwdtc|${JSON.stringify(shape)}|${JSON.stringify(tc)}` : `fwd|${JSON.stringify(shape)}|${JSON.stringify(tiles)}`;
        const pl = this.#pipeline(key, () => (tc ? (tc.pv === 'mma' ? forwardTcPvWGSL(shape, tc) : forwardTcWGSL(shape, tc)) : forwardWGSL(shape, tiles)));
        const [tq, tk, tv, to] = this.#rowTensors(p, ['q', 'k', 'v', dt === 'f32' ? 'o' : 'oacc']) as [RowTensor, RowTensor, RowTensor, RowTensor];
        const align = this.ctx.limits.minStorageBufferOffsetAlignment;
        for (const c of plan.chunks) {
          const rq = bindRange(tq, c, align, q.buffer.size);
          const rk = bindRange(tk, c, align, k.buffer.size);
          const rv = bindRange(tv, c, align, v.buffer.size);
          const ro = bindRange(to, c, align, acc.size);
          const params = { ...this.#baseParams(p, c), qShift: rq.shift, kShift: rk.shift, vShift: rv.shift, oShift: ro.shift, statsBase: statsOff / 4 };
          const kv = tc?.pv === 'mma' && !tc.direct
            ? this.#splitKV(rec, p, tc, c, { buffer: k.buffer, ...rk }, { buffer: v.buffer, ...rv }, track)
            : { k: { binding: 4, buffer: k.buffer, offset: rk.offset, size: rk.size }, v: { binding: 5, buffer: v.buffer, offset: rv.offset, size: rv.size }, extra: [], count: 0 };
          rec.add('main', pl, encodeParams({ ...params, count: kv.count }), [
            { binding: 1, buffer: cu },
            { binding: 3, buffer: q.buffer, offset: rq.offset, size: rq.size }, kv.k, kv.v,
            { binding: 6, buffer: acc, offset: ro.offset, size: ro.size },
            { binding: 7, buffer: lse },
            ...kv.extra,
          ], [Math.ceil(p.seqlenQ / (tc ?? tiles).bm), p.nheadsQ, c.b1 - c.b0]);
        }
        if (dt !== 'f32') this.#pack(rec, dt, acc, out, n.out);
        this.lastGpuMs = await rec.run(this.profile);
        this.lastKernelMs = rec.kernelMs;
        this.lastKernels = rec.kernels;
        keep.add(out).add(lse);
        return { out, lse, rowStats: saveStats ? { offset: statsOff, key: statsKey(p, plan) } : undefined };
      }).then(({ out, lse, rowStats }: { out: GPUBuffer; lse: GPUBuffer; rowStats?: RowStats }) => {
        ok = true;
        return { out: new WebGPUTensor(out, p.dtype, tensorSizes(p).out, this.release), lse: new WebGPUTensor(lse, 'f32', tensorSizes(p).lse, this.release, rowStats) };
      }).finally(() => {
        // A failed call's buffers may be invalid (e.g. out of memory): destroyed, never pooled.
        for (const b of track) if (!ok) b.destroy(); else if (!keep.has(b)) this.pool.release(b);
      });
    });
  }

  backward(
    p: Problem, plan: BackwardPlan,
    t: { q: WebGPUTensor; k: WebGPUTensor; v: WebGPUTensor; out: WebGPUTensor; dout: WebGPUTensor; lse: WebGPUTensor },
  ): Promise<{ dq: WebGPUTensor; dk: WebGPUTensor; dv: WebGPUTensor }> {
    return this.serial(() => {
      const track: GPUBuffer[] = [];
      const keep = new Set<GPUBuffer>();
      let ok = false;
      return scoped(this.ctx, 'backward', async () => {
        const n = tensorSizes(p);
        const dt = p.dtype;
        const rec = new Recorder(this.ctx);
        const mk = (elems: number, name: string) => {
          const fin = this.#buffer(bufferBytes(elems, bpe(dt)), name, track);
          const acc = dt === 'f32' ? fin : this.#buffer(bufferBytes(2 * Math.ceil(elems / 2), 4), `${name} f32`, track);
          this.#fill(rec, fin, POISON[dt]);
          if (acc !== fin) this.#fill(rec, acc, POISON.f32);
          return { fin, acc, elems };
        };
        const dq = mk(n.q, 'dq');
        const dk = mk(n.k, 'dk');
        const dv = mk(n.v, 'dv');
        const rs = this.#buffer(bufferBytes(4 * n.lse, 4), 'row stats', track);
        this.#fill(rec, rs, POISON.f32);
        const cu = this.#cuBuffer(p, track);
        // fmaScores: the backward recomputes S exactly as the forward (and its stats pass) computed it.
        const shape = { dtype: dt, d: p.headDim, dv: p.headDimV, softcap: p.softcap > 0, fmaScores: !!plan.stats.tiles.fma };
        // f32: the LSE tensor of a forward with these very stats kernel and problem carries the rows' (max, 1/sum):
        // the stats pass below would recompute them bit for bit, so it is skipped.
        const saved = dt === 'f32' && t.lse.rowStats?.key === statsKey(p, plan.stats) ? t.lse.rowStats : undefined;
        const rsShape = saved ? { ...shape, savedStats: true } : shape;
        const plRs = this.#pipeline(`rowstats|${JSON.stringify(rsShape)}`, () => rowStatsWGSL(rsShape));
        const plKv = this.#pipeline(`dkv|${JSON.stringify(shape)}|${JSON.stringify(plan.dkv)}`, () => dkvWGSL(shape, plan.dkv));
        // f32: recompute each row's max and sum (a forward without V) rather than trust the f32-rounded LSE, whose
        // rounding alone would exceed the criterion's bound, which a naive f32 computation makes tight.
        const recompute = dt === 'f32' && !saved;
        const sshape = { ...shape, subgroups: plan.stats.subgroups };
        const plSt = recompute ? this.#pipeline(`stats|${JSON.stringify(sshape)}|${JSON.stringify(plan.stats.tiles)}`, () => forwardWGSL(sshape, plan.stats.tiles, true)) : undefined;
        const plQ = this.#pipeline(`dq|${JSON.stringify(shape)}|${JSON.stringify(plan.dq)}`, () => dqWGSL(shape, plan.dq));
        const [tq, tk, tv, to, tdo, tdq, tdk, tdv] = this.#rowTensors(p, ['q', 'k', 'v', 'o', 'do', 'dq', 'dk', 'dv']) as RowTensor[] as [RowTensor, RowTensor, RowTensor, RowTensor, RowTensor, RowTensor, RowTensor, RowTensor];
        const align = this.ctx.limits.minStorageBufferOffsetAlignment;
        for (const c of plan.chunks) {
          const r = (rt: RowTensor, buf: GPUBuffer) => bindRange(rt, c, align, buf.size);
          const rq = r(tq, t.q.buffer), rk = r(tk, t.k.buffer), rv = r(tv, t.v.buffer), ro = r(to, t.out.buffer), rdo = r(tdo, t.dout.buffer);
          const rdq = r(tdq, dq.acc), rdk = r(tdk, dk.acc), rdv = r(tdv, dv.acc);
          const prm = encodeParams({
            ...this.#baseParams(p, c), qShift: rq.shift, kShift: rk.shift, vShift: rv.shift, oShift: ro.shift, doShift: rdo.shift,
            dqShift: rdq.shift, dkShift: rdk.shift, dvShift: rdv.shift,
          });
          const nb = c.b1 - c.b0;
          const bq: Binding = { binding: 3, buffer: t.q.buffer, offset: rq.offset, size: rq.size };
          const bk: Binding = { binding: 4, buffer: t.k.buffer, offset: rk.offset, size: rk.size };
          const bv: Binding = { binding: 5, buffer: t.v.buffer, offset: rv.offset, size: rv.size };
          const bdo: Binding = { binding: 6, buffer: t.dout.buffer, offset: rdo.offset, size: rdo.size };
          rec.add('main', plRs, prm, [
            { binding: 1, buffer: cu },
            { binding: 3, buffer: t.out.buffer, offset: ro.offset, size: ro.size },
            { binding: 4, buffer: t.dout.buffer, offset: rdo.offset, size: rdo.size },
            saved ? { binding: 7, buffer: t.lse.buffer, offset: saved.offset, size: 8 * n.lse } : { binding: 5, buffer: t.lse.buffer },
            { binding: 6, buffer: rs },
          ], [Math.ceil(p.seqlenQ / 64), p.nheadsQ, nb]);
          if (plSt) rec.add('main', plSt, prm, [{ binding: 1, buffer: cu }, bq, bk, { binding: 7, buffer: rs }], [Math.ceil(p.seqlenQ / plan.stats.tiles.bm), p.nheadsQ, nb]);
          rec.add('main', plKv, prm, [
            { binding: 1, buffer: cu }, bq, bk, bv, bdo, { binding: 7, buffer: rs },
            { binding: 8, buffer: dk.acc, offset: rdk.offset, size: rdk.size },
            { binding: 9, buffer: dv.acc, offset: rdv.offset, size: rdv.size },
          ], [Math.ceil(p.seqlenK / plan.dkv.bn), p.nheadsKV, nb]);
          rec.add('main', plQ, prm, [
            { binding: 1, buffer: cu }, bq, bk, bv, bdo, { binding: 7, buffer: rs },
            { binding: 8, buffer: dq.acc, offset: rdq.offset, size: rdq.size },
          ], [Math.ceil(p.seqlenQ / plan.dq.bm), p.nheadsQ, nb]);
        }
        if (dt !== 'f32') for (const x of [dq, dk, dv]) this.#pack(rec, dt, x.acc, x.fin, x.elems);
        this.lastGpuMs = await rec.run(this.profile);
        this.lastKernelMs = rec.kernelMs;
        this.lastKernels = rec.kernels;
        keep.add(dq.fin).add(dk.fin).add(dv.fin);
        return { dq: dq.fin, dk: dk.fin, dv: dv.fin };
      }).then((g) => {
        ok = true;
        const n = tensorSizes(p);
        return { dq: new WebGPUTensor(g.dq, p.dtype, n.q, this.release), dk: new WebGPUTensor(g.dk, p.dtype, n.k, this.release), dv: new WebGPUTensor(g.dv, p.dtype, n.v, this.release) };
      }).finally(() => {
        for (const b of track) if (!ok) b.destroy(); else if (!keep.has(b)) this.pool.release(b);
      });
    });
  }
}

/** Workgroups for `words` threads: x up to the per-dimension limit, then y; rowsX = threads per y step. */
function linearGrid(words: number, maxDim: number): [number, number, number] {
  const groups = Math.ceil(words / LINEAR_WG);
  const gx = Math.min(groups, maxDim);
  return [gx, Math.ceil(groups / gx), gx * LINEAR_WG];
}
