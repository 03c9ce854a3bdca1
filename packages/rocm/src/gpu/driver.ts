/**
 * The HIP module API (or, with FLASHATTN_ROCM_DRIVER=cuda, its CUDA driver API twin) behind one class. Every
 * non-zero return becomes a DeviceError carrying the library's own error name; out-of-memory becomes
 * DeviceOutOfMemoryError. All calls are synchronous FFI calls on the calling thread.
 */
import { DeviceError, DeviceOutOfMemoryError } from '@flashattn/core';
import type { FfiSeam, NativeLibrary } from '../ffi/native-library.js';
import type { KernelArgs } from './kernel-args.js';
import { API_TABLE, ATTR, LAUNCH_PARAM, symbolOf, symbolsOf, type ApiName, type DriverKind } from './api-table.js';

const BACKEND = 'rocm';
const OOM_NAMES = new Set(['hipErrorOutOfMemory', 'hipErrorMemoryAllocation', 'CUDA_ERROR_OUT_OF_MEMORY']);

/** Library file names tried in order (an env override first). */
export function libraryCandidates(kind: DriverKind, env: Record<string, string | undefined>): string[] {
  if (kind === 'cuda')
    return [
      env.FLASHATTN_CUDA_LIBRARY, 'libcuda.so.1', 'libcuda.so', '/usr/lib/x86_64-linux-gnu/libcuda.so.1',
      '/usr/local/nvidia/lib64/libcuda.so.1', '/usr/lib64/libcuda.so.1',
    ].filter((x): x is string => !!x);
  return [
    env.FLASHATTN_HIP_LIBRARY, 'libamdhip64.so', 'libamdhip64.so.6', 'libamdhip64.so.5',
    '/opt/rocm/lib/libamdhip64.so',
  ].filter((x): x is string => !!x);
}

/** A plain ArrayBuffer-backed view: off-heap storage whose address stays put during a call. */
function pinned<T extends ArrayBufferView>(ctor: new (b: ArrayBuffer) => T, bytes: number): T {
  return new ctor(new ArrayBuffer(bytes));
}

/** What the backend needs from a device once a module is loaded: memory, launches, streams, events. */
export interface KernelDriver {
  malloc(bytes: number): bigint;
  free(ptr: bigint): void;
  upload(dst: bigint, src: ArrayBufferView): void;
  download(dst: ArrayBufferView, src: bigint): void;
  memsetD8(ptr: bigint, value: number, bytes: number): void;
  launch(fn: bigint, grid: readonly [number, number, number], block: readonly [number, number, number], sharedBytes: number, stream: bigint, args: KernelArgs): void;
  streamSynchronize(stream: bigint): void;
  streamDestroy(stream: bigint): void;
  unloadModule(module: bigint): void;
  eventCreate(): bigint;
  eventRecord(event: bigint, stream: bigint): void;
  eventSynchronize(event: bigint): void;
  eventElapsedMs(start: bigint, stop: bigint): number;
  eventDestroy(event: bigint): void;
}

export class GpuDriver implements KernelDriver {
  private constructor(
    readonly kind: DriverKind,
    readonly seamName: string,
    private readonly lib: NativeLibrary,
    private readonly optional: NativeLibrary | undefined,
  ) {}

  /** Open the library with every symbol bound; throws an Error listing each file tried and why it failed. */
  static open(kind: DriverKind, seam: FfiSeam, env: Record<string, string | undefined>): GpuDriver {
    const tried: string[] = [];
    for (const path of libraryCandidates(kind, env)) {
      let lib: NativeLibrary;
      try {
        lib = seam.open(path, symbolsOf(kind));
      } catch (e) {
        tried.push(`${path}: ${firstLine(e)}`);
        // A permission refusal (Deno without --allow-ffi) is the same for every candidate: stop at the first.
        if (/NotCapable|--allow-ffi|PermissionDenied/.test(String((e as Error)?.message ?? e) + (e as Error)?.name)) break;
        continue;
      }
      let optional: NativeLibrary | undefined;
      const opt = symbolsOf(kind, true);
      if (Object.keys(opt).length) {
        try { optional = seam.open(path, opt); } catch { optional = undefined; }
      }
      return new GpuDriver(kind, seam.name, lib, optional);
    }
    throw new Error(`cannot load the ${kind === 'hip' ? 'HIP runtime (libamdhip64)' : 'CUDA driver (libcuda)'} with ${seam.name}: ${tried.join('; ')}`);
  }

  get libraryPath(): string {
    return this.lib.path;
  }

  private raw(api: ApiName, ...args: (number | bigint | ArrayBufferView)[]): number {
    const sym = symbolOf(this.kind, api);
    if (!sym) throw new Error(`${api} has no ${this.kind} symbol`);
    const lib = API_TABLE[api][this.kind]?.optional ? this.optional : this.lib;
    if (!lib) throw new DeviceError(BACKEND, 'symbolMissing', `${sym} is not exported by ${this.lib.path}`);
    return lib.call(sym, ...args) as number;
  }

  /** The library's name for an error code (hipGetErrorName / cuGetErrorName). */
  errorName(code: number): string {
    try {
      if (this.kind === 'hip') return String(this.lib.call('hipGetErrorName', code));
      const p = pinned(BigUint64Array, 8);
      if (this.lib.call('cuGetErrorName', code, p) !== 0 || p[0] === 0n) return `CUresult ${code}`;
      return this.lib.cstringAt(p[0]!);
    } catch {
      return `error ${code}`;
    }
  }

  /** Call and throw a typed error on failure. */
  private call(api: ApiName, ...args: (number | bigint | ArrayBufferView)[]): void {
    const rc = this.raw(api, ...args);
    if (rc !== 0) {
      const name = this.errorName(rc);
      const detail = `${symbolOf(this.kind, api)} returned ${rc}`;
      throw OOM_NAMES.has(name) ? new DeviceOutOfMemoryError(BACKEND, name, detail) : new DeviceError(BACKEND, name, detail);
    }
  }

  init(): void {
    this.call('init', 0);
  }

  driverVersion(): number {
    const v = pinned(Int32Array, 4);
    this.call('driverGetVersion', v);
    return v[0]!;
  }

  deviceCount(): number {
    const n = pinned(Int32Array, 4);
    this.call('getDeviceCount', n);
    return n[0]!;
  }

  deviceName(ordinal: number): string {
    const dev = this.device(ordinal);
    const buf = pinned(Uint8Array, 256);
    this.call('deviceGetName', buf, buf.length, dev);
    return cString(buf);
  }

  /** "gfx90a" (HIP: gcnArchName without feature flags) or "sm_90" (CUDA compute capability). */
  archName(ordinal: number): string {
    if (this.kind === 'cuda') {
      const dev = this.device(ordinal);
      const v = pinned(Int32Array, 4);
      this.call('deviceGetAttribute', v, ATTR.cuda.computeCapabilityMajor, dev);
      const major = v[0]!;
      this.call('deviceGetAttribute', v, ATTR.cuda.computeCapabilityMinor, dev);
      return `sm_${major}${v[0]!}`;
    }
    // hipDeviceProp_t's layout changed across HIP versions; gcnArchName is the one "gfx..." string in it, so
    // find it instead of hard-coding an offset. The buffer is larger than any version of the struct.
    const props = pinned(Uint8Array, 16384);
    this.call('getDeviceProperties', props, ordinal);
    let text = '';
    for (let i = 0; i < props.length; i++) text += String.fromCharCode(props[i]! >= 32 && props[i]! < 127 ? props[i]! : 32);
    const m = /gfx[0-9a-f]{3,4}/.exec(text.slice(256)); // skip `name` (first 256 bytes)
    if (!m) throw new DeviceError(BACKEND, 'noArchName', 'hipGetDeviceProperties returned no gcnArchName');
    return m[0];
  }

  private device(ordinal: number): number {
    const d = pinned(Int32Array, 4);
    this.call('deviceGet', d, ordinal);
    return d[0]!;
  }

  /** Make `ordinal` current: hipSetDevice, or the primary context of the CUDA device made current. */
  activate(ordinal: number): void {
    if (this.kind === 'hip') {
      this.call('setDevice', ordinal);
      return;
    }
    const ctx = pinned(BigUint64Array, 8);
    this.call('ctxRetain', ctx, this.device(ordinal));
    this.call('ctxSetCurrent', ctx[0]!);
  }

  memInfo(): { free: number; total: number } {
    const f = pinned(BigUint64Array, 8);
    const t = pinned(BigUint64Array, 8);
    this.call('memGetInfo', f, t);
    return { free: Number(f[0]!), total: Number(t[0]!) };
  }

  loadModule(image: Uint8Array): bigint {
    // The image must outlive the call only; copy into pinned storage so its address is stable.
    const img = pinned(Uint8Array, image.byteLength + 1);
    img.set(image);
    const m = pinned(BigUint64Array, 8);
    this.call('moduleLoadData', m, img);
    return m[0]!;
  }

  getFunction(module: bigint, name: string): bigint {
    const f = pinned(BigUint64Array, 8);
    const enc = new TextEncoder().encode(name);
    const cname = pinned(Uint8Array, enc.length + 1);
    cname.set(enc);
    this.call('moduleGetFunction', f, module, cname);
    return f[0]!;
  }

  unloadModule(module: bigint): void {
    this.call('moduleUnload', module);
  }

  malloc(bytes: number): bigint {
    const p = pinned(BigUint64Array, 8);
    this.call('malloc', p, BigInt(bytes));
    return p[0]!;
  }

  free(ptr: bigint): void {
    this.call('free', ptr);
  }

  upload(dst: bigint, src: ArrayBufferView): void {
    if (src.byteLength) this.call('memcpyHtoD', dst, src, BigInt(src.byteLength));
  }

  download(dst: ArrayBufferView, src: bigint): void {
    if (dst.byteLength) this.call('memcpyDtoH', dst, src, BigInt(dst.byteLength));
  }

  memsetD8(ptr: bigint, value: number, bytes: number): void {
    if (bytes) this.call('memsetD8', ptr, value, BigInt(bytes));
  }

  streamCreate(): bigint {
    const s = pinned(BigUint64Array, 8);
    if (this.kind === 'cuda') this.call('streamCreate', s, 0);
    else this.call('streamCreate', s);
    return s[0]!;
  }

  streamSynchronize(stream: bigint): void {
    this.call('streamSynchronize', stream);
  }

  streamDestroy(stream: bigint): void {
    this.call('streamDestroy', stream);
  }

  eventCreate(): bigint {
    const e = pinned(BigUint64Array, 8);
    if (this.kind === 'cuda') this.call('eventCreate', e, 0);
    else this.call('eventCreate', e);
    return e[0]!;
  }

  eventRecord(event: bigint, stream: bigint): void {
    this.call('eventRecord', event, stream);
  }

  eventSynchronize(event: bigint): void {
    this.call('eventSynchronize', event);
  }

  eventElapsedMs(start: bigint, stop: bigint): number {
    const ms = pinned(Float32Array, 4);
    this.call('eventElapsedTime', ms, start, stop);
    return ms[0]!;
  }

  eventDestroy(event: bigint): void {
    this.call('eventDestroy', event);
  }

  /**
   * Launch with packed arguments: `args` is the kernel's parameter block laid out as the compiler lays it out
   * (see kernel-args.ts), handed over through `extra` = {BUFFER_POINTER, &args, BUFFER_SIZE, &size, END}.
   */
  launch(fn: bigint, grid: readonly [number, number, number], block: readonly [number, number, number], sharedBytes: number, stream: bigint, kernelArgs: KernelArgs): void {
    const marks = LAUNCH_PARAM[this.kind];
    const args = kernelArgs.bytes();
    const argBuf = pinned(Uint8Array, Math.max(8, args.byteLength));
    argBuf.set(args);
    const size = pinned(BigUint64Array, 8);
    size[0] = BigInt(args.byteLength);
    const extra = pinned(BigUint64Array, 40);
    extra.set([marks.bufferPointer, this.lib.address(argBuf), marks.bufferSize, this.lib.address(size), marks.end]);
    this.call('launchKernel', fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes, stream, 0n, this.lib.address(extra));
    // Keep the buffers reachable until the call has returned (their addresses were handed to the driver).
    void argBuf.length; void size.length; void extra.length;
  }

  close(): void {
    this.optional?.close();
    this.lib.close();
  }
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}
