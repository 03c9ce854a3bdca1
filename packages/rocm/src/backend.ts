/**
 * The `rocm` backend: HIP kernels (kernels/*.h) driven through FFI. By default it loads libamdhip64 and runs the
 * code object built for the GPU's gfx architecture. With FLASHATTN_ROCM_DRIVER=cuda the very same calls go to
 * libcuda (gpu/api-table.ts maps each hip* symbol to its cu* twin) and run the same kernel source compiled by
 * nvcc: that is how the binding, the launch marshalling and the kernels are exercised on NVIDIA hardware.
 */
import {
  BackendUnavailableError, DTYPES, DeviceError, TensorStateError, ValidationError, bytesPerElement, checkHostArray, lseLayout,
  runtimeName, tensorSizes, validateBackwardInputs, validateInputs,
  type AttentionInputs, type Availability, type Backend, type BackwardInputs, type BackwardResult, type Capabilities,
  type DType, type DeviceBackwardResult, type DeviceForwardResult, type DeviceTensor, type DeviceTensorOps,
  type ForwardResult, type HostArray, type Problem, type RunOptions,
} from '@flashattn/core';
import { loadFfiSeam } from './ffi/load-seam.js';
import { GpuDriver, type KernelDriver } from './gpu/driver.js';
import type { DriverKind } from './gpu/api-table.js';
import { KernelArgs } from './gpu/kernel-args.js';
import { AMD_ARCHS, MFMA_ARCHS, codeObjectPath, findBuildDir, readCodeObject, readManifest } from './code-objects.js';
import { RocmTensor } from './device-tensor.js';
import { THREADS, accBytes, chooseTiles } from './tiles.js';
import { readEnv } from './env.js';

const NAME = 'rocm';
const POISON = 0xff; // every byte 0xff: NaN in f32, f16 and bf16, so an unwritten element shows
const MAX_GRID_YZ = 65535;

type KernelName = 'fwd' | 'dot' | 'dq' | 'dkv';

/** A device with the kernels' module loaded: what the backend runs on (a real GPU, or a test double). */
export interface Ready {
  readonly driver: KernelDriver;
  readonly module: bigint;
  readonly stream: bigint;
  readonly fns: ReadonlyMap<string, bigint>;
  readonly mfma: boolean;
  readonly availability: Availability & { available: true };
}

export interface RocmTiming {
  /** Kernel time of the last forward / backward, from device events (ms). */
  readonly forwardMs?: number;
  readonly backwardMs?: number;
}

export interface RocmBackend extends Backend {
  readonly device: DeviceTensorOps;
  /** Device-event timing of the last calls. */
  timing(): RocmTiming;
}

function kernelSymbol(k: KernelName, dtype: DType): string {
  return k === 'fwd' ? `flash_fwd_${dtype}` : `flash_bwd_${k}_${dtype}`;
}

export function createRocmBackend(): RocmBackend {
  return createRocmBackendOn(openDevice);
}

/** Find the library, the GPU and its code object; load the module and look up every kernel. */
async function openDevice(): Promise<Ready | { reason: string }> {
  const env = readEnv();
  const want = env.FLASHATTN_ROCM_DRIVER ?? 'hip';
  if (want !== 'hip' && want !== 'cuda')
    return { reason: `FLASHATTN_ROCM_DRIVER must be "hip" or "cuda", got ${JSON.stringify(want)}` };
  const kind: DriverKind = want;
  const api = kind === 'hip' ? 'HIP' : 'CUDA driver API';
  let seamName: string = runtimeName();
  let driver: GpuDriver;
  try {
    const seam = await loadFfiSeam();
    seamName = seam.name;
    driver = GpuDriver.open(kind, seam, env);
  } catch (e) {
    const msg = errMsg(e);
    const hint = runtimeName() === 'deno' && /permission|allow-ffi|NotCapable/i.test(msg) ? ' (run deno with --allow-ffi)' : '';
    return { reason: `${api} runtime not loadable under ${runtimeName()}: ${msg}${hint}` };
  }
  try {
    // HIP initializes itself on first use (and hipGetDeviceCount is where the issue's no-device answer comes
    // from); the CUDA driver API needs cuInit first.
    if (kind === 'cuda') driver.init();
    const count = driver.deviceCount();
    if (count < 1) return { reason: `${api}: no ${kind === 'hip' ? 'AMD' : 'NVIDIA'} GPU (device count 0)` };
    const ordinal = Number(env.FLASHATTN_ROCM_DEVICE ?? 0);
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= count)
      return { reason: `FLASHATTN_ROCM_DEVICE=${env.FLASHATTN_ROCM_DEVICE} is not a device ordinal below ${count}` };
    driver.activate(ordinal);
    const name = driver.deviceName(ordinal);
    const arch = driver.archName(ordinal);
    const { dir, tried } = await findBuildDir(env, import.meta.url);
    if (!dir) return { reason: `${name} (${arch}) found, but no kernel build (manifest.json) in ${tried.join(', ')}; run npm run build in packages/rocm or set FLASHATTN_ROCM_DIR` };
    const manifest = await readManifest(dir);
    const co = codeObjectPath(kind, arch, dir, manifest);
    if ('reason' in co) return { reason: `${name}: ${co.reason}` };
    const module = driver.loadModule(await readCodeObject(co.path));
    const fns = new Map<string, bigint>();
    for (const dt of DTYPES) for (const k of ['fwd', 'dot', 'dq', 'dkv'] as const) fns.set(kernelSymbol(k, dt), driver.getFunction(module, kernelSymbol(k, dt)));
    const mfma = kind === 'hip' && MFMA_ARCHS.includes(arch) && env.FLASHATTN_ROCM_MFMA === '1';
    if (mfma) fns.set('flash_fwd_mfma_f16', driver.getFunction(module, 'flash_fwd_mfma_f16'));
    const stream = driver.streamCreate();
    const version = driver.driverVersion();
    const device = kind === 'hip'
      ? `${name} (${arch}) via HIP ${version}, ${seamName}`
      : `${name} via CUDA driver API (HIP-portable kernels, ${arch}, driver ${version}), ${seamName}`;
    return {
      driver, module, stream, fns, mfma,
      availability: {
        available: true, device,
        details: { driver: kind, library: driver.libraryPath, arch, codeObject: co.path, ffi: seamName, driverVersion: version, mfmaForward: mfma, builtAt: manifest.built },
      },
    };
  } catch (e) {
    return { reason: `${api}: ${errMsg(e)}` };
  }
}

/** The backend over any device setup (createRocmBackend uses the real one; tests may pass a CPU emulation). */
export function createRocmBackendOn(open: () => Promise<Ready | { reason: string }>): RocmBackend {
  let state: Promise<Ready | { reason: string }> | undefined;
  let timing: RocmTiming = {};

  const ready = (): Promise<Ready | { reason: string }> => (state ??= open());

  async function need(): Promise<Ready> {
    const s = await ready();
    if ('reason' in s) throw new BackendUnavailableError(NAME, s.reason);
    return s;
  }

  function own(field: string, t: DeviceTensor, dtype: DType | 'f32', length: number): RocmTensor {
    if (!(t instanceof RocmTensor)) throw new TensorStateError(`${field}: a tensor of backend ${(t as DeviceTensor)?.backend}, not rocm`);
    if (t.disposed) throw new TensorStateError(`${field}: used after dispose()`);
    if (t.dtype !== dtype) throw new ValidationError(`${field}.dtype`, dtype, t.dtype);
    if (t.length !== length) throw new ValidationError(`${field}.length`, `${length} elements`, t.length);
    return t;
  }

  function alloc(s: Ready, dtype: DType | 'f32', length: number, poison: boolean): RocmTensor {
    const t = new RocmTensor(s.driver, dtype, length, length * (dtype === 'f32' ? 4 : bytesPerElement(dtype)));
    if (poison && t.bytes) s.driver.memsetD8(t.ptr, POISON, t.bytes);
    return t;
  }

  function uploadInts(s: Ready, a: Int32Array): RocmTensor {
    const t = new RocmTensor(s.driver, 'f32', a.length, a.byteLength);
    s.driver.upload(t.ptr, a);
    return t;
  }

  function launch(s: Ready, fn: string, grid: [number, number, number], block: number, shared: number, args: KernelArgs): void {
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    s.driver.launch(s.fns.get(fn)!, grid, [block, 1, 1], shared, s.stream, args);
  }

  /** Runs `body` between two events on the stream and returns its kernel time. */
  function timed(s: Ready, body: () => void): number {
    const a = s.driver.eventCreate();
    const b = s.driver.eventCreate();
    try {
      s.driver.eventRecord(a, s.stream);
      body();
      s.driver.eventRecord(b, s.stream);
      s.driver.eventSynchronize(b);
      s.driver.streamSynchronize(s.stream);
      return s.driver.eventElapsedMs(a, b);
    } finally {
      s.driver.eventDestroy(a);
      s.driver.eventDestroy(b);
    }
  }

  function check(p: Problem): string[] {
    const r: string[] = [];
    if (p.headDim > 256) r.push(`headDim ${p.headDim} > 256 supported by rocm`);
    if (p.headDimV > 256) r.push(`headDimV ${p.headDimV} > 256 supported by rocm`);
    if (p.nheadsQ > MAX_GRID_YZ) r.push(`nheadsQ ${p.nheadsQ} > ${MAX_GRID_YZ} (grid limit) in rocm`);
    if (p.batch > MAX_GRID_YZ) r.push(`batch ${p.batch} > ${MAX_GRID_YZ} (grid limit) in rocm`);
    const n = tensorSizes(p);
    if (Math.max(n.q, n.k, n.v, n.out) * 4 > 2 ** 53) r.push('tensor too large');
    return r;
  }

  function geometry(a: KernelArgs, p: Problem): KernelArgs {
    const l = lseLayout(p);
    return a.f32(p.scale).f32(p.softcap).i32(p.window[0]).i32(p.window[1])
      .i32(l.batchStride).i32(l.headStride).i32(l.varlenRows ? 1 : 0);
  }

  const device: DeviceTensorOps = {
    async upload(data: HostArray | Float32Array, dtype: DType): Promise<DeviceTensor> {
      if (!DTYPES.includes(dtype)) throw new ValidationError('dtype', `one of ${DTYPES.join(', ')}`, dtype);
      checkHostArray('data', data, dtype, (data as HostArray)?.length ?? 0);
      const s = await need();
      const t = alloc(s, dtype, data.length, false);
      try { s.driver.upload(t.ptr, data); } catch (e) { t.dispose(); throw e; }
      return t;
    },

    async download(t: DeviceTensor): Promise<HostArray> {
      const s = await need();
      const own_ = own('tensor', t, t.dtype, t.length);
      const host: HostArray = t.dtype === 'f32' ? new Float32Array(t.length) : new Uint16Array(t.length);
      s.driver.streamSynchronize(s.stream);
      s.driver.download(host, own_.ptr);
      return host;
    },

    async forwardDevice(p: Problem, q: DeviceTensor, k: DeviceTensor, v: DeviceTensor): Promise<DeviceForwardResult> {
      const s = await need();
      const reasons = check(p);
      if (reasons.length) throw new ValidationError('problem', 'a problem rocm supports', reasons.join('; '));
      const n = tensorSizes(p);
      const tq = own('q', q, p.dtype, n.q);
      const tk = own('k', k, p.dtype, n.k);
      const tv = own('v', v, p.dtype, n.v);
      const out = alloc(s, p.dtype, n.out, true);
      let lse: RocmTensor | undefined;
      const temps: RocmTensor[] = [];
      try {
        lse = alloc(s, 'f32', n.lse, true);
        const cuQ = uploadInts(s, p.cuSeqlensQ);
        temps.push(cuQ);
        const cuK = uploadInts(s, p.cuSeqlensK);
        temps.push(cuK);
        const useMfma = s.mfma && p.dtype === 'f16';
        const tiles = useMfma ? { BM: 32, BN: 32, shared: 0 } : chooseTiles('fwd', p.headDim, p.headDimV, p.dtype);
        const args = new KernelArgs().ptr(tq.ptr).ptr(tk.ptr).ptr(tv.ptr).ptr(out.ptr).ptr(lse.ptr).ptr(cuQ.ptr).ptr(cuK.ptr)
          .i32(p.nheadsQ).i32(p.nheadsKV).i32(p.headDim).i32(p.headDimV);
        geometry(args, p).i32(tiles.BM).i32(tiles.BN);
        const grid: [number, number, number] = [Math.ceil(p.seqlenQ / tiles.BM), p.nheadsQ, p.batch];
        const ms = timed(s, () => launch(s, useMfma ? 'flash_fwd_mfma_f16' : kernelSymbol('fwd', p.dtype), grid, useMfma ? 64 : THREADS, tiles.shared, args));
        timing = { ...timing, forwardMs: ms };
      } catch (e) {
        out.dispose();
        lse?.dispose();
        throw e;
      } finally {
        for (const t of temps) t.dispose();
      }
      return { out, lse };
    },

    async backwardDevice(p, t): Promise<DeviceBackwardResult> {
      const s = await need();
      const reasons = check(p);
      if (reasons.length) throw new ValidationError('problem', 'a problem rocm supports', reasons.join('; '));
      const n = tensorSizes(p);
      const tq = own('q', t.q, p.dtype, n.q);
      const tk = own('k', t.k, p.dtype, n.k);
      const tv = own('v', t.v, p.dtype, n.v);
      const tout = own('out', t.out, p.dtype, n.out);
      const tdout = own('dout', t.dout, p.dtype, n.out);
      const tlse = own('lse', t.lse, 'f32', n.lse);
      const made: RocmTensor[] = [];
      const temps: RocmTensor[] = [];
      try {
        const dq = alloc(s, p.dtype, n.q, true); made.push(dq);
        const dk = alloc(s, p.dtype, n.k, true); made.push(dk);
        const dv = alloc(s, p.dtype, n.v, true); made.push(dv);
        // Row statistics in the kernels' accumulation type (double for f32 problems).
        const rowsHeads = p.totalQ * p.nheadsQ;
        const statBytes = accBytes(p.dtype);
        const dvec = new RocmTensor(s.driver, 'f32', rowsHeads, rowsHeads * statBytes); temps.push(dvec);
        const lseAcc = new RocmTensor(s.driver, 'f32', rowsHeads, rowsHeads * statBytes); temps.push(lseAcc);
        const cuQ = uploadInts(s, p.cuSeqlensQ); temps.push(cuQ);
        const cuK = uploadInts(s, p.cuSeqlensK); temps.push(cuK);
        const tail = (a: KernelArgs, BM: number, BN: number) =>
          a.i32(p.totalQ).i32(p.nheadsQ).i32(p.nheadsKV).i32(p.headDim).i32(p.headDimV)
            .f32(p.scale).f32(p.softcap).i32(p.window[0]).i32(p.window[1]).i32(BM).i32(BN).ptr(cuQ.ptr).ptr(cuK.ptr);
        const common = (a: KernelArgs) => a.ptr(tq.ptr).ptr(tk.ptr).ptr(tv.ptr).ptr(tdout.ptr).ptr(lseAcc.ptr).ptr(dvec.ptr);
        const tdq = chooseTiles('dq', p.headDim, p.headDimV, p.dtype);
        const tdkv = chooseTiles('dkv', p.headDim, p.headDimV, p.dtype);
        const ms = timed(s, () => {
          const dot = new KernelArgs().ptr(tout.ptr).ptr(tdout.ptr).ptr(dvec.ptr).ptr(lseAcc.ptr).ptr(tq.ptr).ptr(tk.ptr).ptr(tlse.ptr)
            .ptr(cuQ.ptr).ptr(cuK.ptr).i32(p.batch).i32(p.totalQ).i32(p.nheadsQ).i32(p.nheadsKV).i32(p.headDim).i32(p.headDimV);
          geometry(dot, p).i32(p.dtype === 'f32' ? 1 : 0);
          launch(s, kernelSymbol('dot', p.dtype), [Math.ceil(rowsHeads / THREADS), 1, 1], THREADS, 0, dot);
          launch(s, kernelSymbol('dq', p.dtype), [Math.ceil(p.seqlenQ / tdq.BM), p.nheadsQ, p.batch], THREADS, tdq.shared,
            tail(common(new KernelArgs().ptr(dq.ptr)), tdq.BM, tdq.BN));
          launch(s, kernelSymbol('dkv', p.dtype), [Math.ceil(p.seqlenK / tdkv.BN), p.nheadsKV, p.batch], THREADS, tdkv.shared,
            tail(common(new KernelArgs().ptr(dk.ptr).ptr(dv.ptr)), tdkv.BM, tdkv.BN));
        });
        timing = { ...timing, backwardMs: ms };
        return { dq, dk, dv };
      } catch (e) {
        for (const m of made) m.dispose();
        throw e;
      } finally {
        for (const x of temps) x.dispose();
      }
    },
  };

  const capabilities: Capabilities = {
    dtypes: DTYPES,
    features: ['causal', 'window', 'softcap', 'gqa', 'varlen', 'lse', 'backward', 'headDimV', 'deviceTensors'],
    maxHeadDim: 256,
    notes: [
      `HIP code objects built for ${AMD_ARCHS.join(', ')} (Debian hipcc 5.2; gfx942/gfx1100 not carried); probe reports the GPU's arch`,
      'FLASHATTN_ROCM_DRIVER=cuda drives libcuda instead (same portable kernels, built by nvcc for sm_80/sm_90)',
      'MFMA forward (f16, gfx908/gfx90a/gfx940) only with FLASHATTN_ROCM_MFMA=1: not verified on AMD silicon',
      'deterministic backward (no atomics)',
    ],
  };

  async function withTensors<T>(list: RocmTensor[], body: () => Promise<T>): Promise<T> {
    try { return await body(); } finally { for (const t of list) t.dispose(); }
  }

  return {
    name: NAME,
    async probe(): Promise<Availability> {
      try {
        const s = await ready();
        return 'reason' in s ? { available: false, reason: s.reason } : s.availability;
      } catch (e) {
        return { available: false, reason: errMsg(e) };
      }
    },
    capabilities: () => capabilities,
    check,
    device,
    timing: () => timing,

    async forward(p: Problem, inputs: AttentionInputs, _opts?: RunOptions): Promise<ForwardResult> {
      validateInputs(p, inputs);
      const held: RocmTensor[] = [];
      return withTensors(held, async () => {
        for (const x of [inputs.q, inputs.k, inputs.v]) held.push((await device.upload(x, p.dtype)) as RocmTensor);
        const r = await device.forwardDevice(p, held[0]!, held[1]!, held[2]!);
        held.push(r.out as RocmTensor);
        if (r.lse) held.push(r.lse as RocmTensor);
        const out = await device.download(r.out);
        const lse = p.returnLse && r.lse ? ((await device.download(r.lse)) as Float32Array) : undefined;
        return lse ? { out, lse } : { out };
      });
    },

    async backward(p: Problem, inputs: BackwardInputs, _opts?: RunOptions): Promise<BackwardResult> {
      validateBackwardInputs(p, inputs);
      const held: RocmTensor[] = [];
      return withTensors(held, async () => {
        for (const x of [inputs.q, inputs.k, inputs.v, inputs.out, inputs.dout]) held.push((await device.upload(x, p.dtype)) as RocmTensor);
        held.push((await device.upload(inputs.lse, 'f32')) as RocmTensor);
        const [q, k, v, out, dout, lse] = held as [RocmTensor, RocmTensor, RocmTensor, RocmTensor, RocmTensor, RocmTensor];
        const g = await device.backwardDevice(p, { q, k, v, out, dout, lse });
        held.push(g.dq as RocmTensor, g.dk as RocmTensor, g.dv as RocmTensor);
        return { dq: await device.download(g.dq), dk: await device.download(g.dk), dv: await device.download(g.dv) };
      });
    },

    async dispose(): Promise<void> {
      const s = state ? await state : undefined;
      state = undefined;
      if (s && !('reason' in s)) {
        try { s.driver.streamDestroy(s.stream); } catch { /* device gone */ }
        try { s.driver.unloadModule(s.module); } catch { /* device gone */ }
      }
    },
  };
}

function errMsg(e: unknown): string {
  if (e instanceof DeviceError) return e.message.replace(/^rocm: /, '');
  return String((e as Error)?.message ?? e);
}
