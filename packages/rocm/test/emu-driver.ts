/**
 * A KernelDriver that runs the portable kernels on the CPU (emu/flash_emu.cpp): memory is host buffers, each
 * launch is queued with its packed argument bytes (exactly what a GPU launch would receive) and the queue runs at
 * the next synchronize/download. Lets CI exercise the kernels' logic and the argument packing with no GPU.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DTYPES } from '@flashattn/core';
import type { Ready } from '../src/backend.js';
import type { KernelDriver } from '../src/gpu/driver.js';
import type { KernelArgs } from '../src/gpu/kernel-args.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
export const EMU_BIN = join(PKG, 'build', 'emu', 'flash_emu');
/** The emulator with the MFMA kernel and an emulated v_mfma_f32_32x32x8f16 (needs clang for _Float16 vectors). */
export const EMU_MFMA_BIN = join(PKG, 'build', 'emu', 'flash_emu_mfma');
export const CLANG = ['clang++-15', 'clang++'].find((c) => { try { execFileSync(c, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } });

/** Compile the emulator if it is missing or older than the kernels. */
export function buildEmulator(mfma = false): string {
  const bin = mfma ? EMU_MFMA_BIN : EMU_BIN;
  const srcs = ['emu/flash_emu.cpp', 'emu/cpu_runtime.h', 'kernels/flash_fwd.h', 'kernels/flash_bwd.h', 'kernels/flash_fwd_mfma.h', 'kernels/attention_common.h', 'kernels/dtype.h', 'kernels/portability.h'];
  const newest = Math.max(...srcs.map((s) => statSync(join(PKG, s)).mtimeMs));
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    execFileSync('mkdir', ['-p', join(PKG, 'build', 'emu')]);
    const cxx = mfma ? CLANG : 'g++';
    if (!cxx) throw new Error('the MFMA emulation needs clang++ (for _Float16 vector types)');
    execFileSync(cxx, ['-std=c++20', '-O2', '-pthread', '-Wno-psabi', ...(mfma ? ['-DFA_EMU_MFMA'] : []), '-o', bin, join(PKG, 'emu', 'flash_emu.cpp')], { stdio: 'inherit' });
  }
  return bin;
}

const SHIFT = 40n;
const KIND = { ptr: 0, i32: 1, f32: 2 } as const;

interface Launch { name: string; grid: readonly number[]; block: readonly number[]; shared: number; kinds: number[]; bytes: Uint8Array }

export class EmuDriver implements KernelDriver {
  readonly buffers: (Uint8Array | null)[] = [];
  readonly names = new Map<bigint, string>();
  readonly launches: string[] = [];
  #queue: Launch[] = [];

  constructor(private readonly bin = EMU_BIN) {}

  malloc(bytes: number): bigint {
    this.buffers.push(new Uint8Array(bytes));
    return BigInt(this.buffers.length) << SHIFT;
  }
  #at(ptr: bigint): { buf: Uint8Array; off: number } {
    const i = Number(ptr >> SHIFT) - 1;
    const buf = this.buffers[i];
    if (!buf) throw new Error(`emu: bad or freed pointer 0x${ptr.toString(16)}`);
    return { buf, off: Number(ptr & ((1n << SHIFT) - 1n)) };
  }
  free(ptr: bigint): void {
    this.#at(ptr);
    this.buffers[Number(ptr >> SHIFT) - 1] = null;
  }
  upload(dst: bigint, src: ArrayBufferView): void {
    this.#flush();
    const { buf, off } = this.#at(dst);
    buf.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), off);
  }
  download(dst: ArrayBufferView, src: bigint): void {
    this.#flush();
    const { buf, off } = this.#at(src);
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(buf.subarray(off, off + dst.byteLength));
  }
  memsetD8(ptr: bigint, value: number, bytes: number): void {
    this.#flush();
    const { buf, off } = this.#at(ptr);
    buf.fill(value, off, off + bytes);
  }
  launch(fn: bigint, grid: readonly [number, number, number], block: readonly [number, number, number], shared: number, _stream: bigint, args: KernelArgs): void {
    const name = this.names.get(fn);
    if (!name) throw new Error(`emu: unknown function ${fn}`);
    if (shared > 48 * 1024) throw new Error(`emu: ${name} asks ${shared} bytes of shared memory`);
    this.launches.push(name);
    this.#queue.push({ name, grid, block, shared, kinds: args.layout.map((l) => KIND[l.kind]), bytes: args.bytes() });
  }
  streamSynchronize(): void { this.#flush(); }
  streamDestroy(): void {}
  unloadModule(): void {}
  eventCreate(): bigint { return 1n; }
  eventRecord(): void {}
  eventSynchronize(): void { this.#flush(); }
  eventElapsedMs(): number { return 0; }
  eventDestroy(): void {}

  #flush(): void {
    if (!this.#queue.length) return;
    const parts: Uint8Array[] = [];
    const u32 = (x: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x, true); parts.push(b); };
    u32(this.buffers.length);
    for (const b of this.buffers) {
      const h = new Uint8Array(8);
      new DataView(h.buffer).setBigUint64(0, BigInt(b?.length ?? 0), true);
      parts.push(h, b ?? new Uint8Array(0));
    }
    u32(this.#queue.length);
    for (const l of this.#queue) {
      const n = new TextEncoder().encode(l.name);
      u32(n.length); parts.push(n);
      for (const x of [...l.grid, ...l.block, l.shared]) u32(x);
      u32(l.kinds.length); parts.push(Uint8Array.from(l.kinds));
      u32(l.bytes.length); parts.push(l.bytes);
    }
    this.#queue = [];
    const dir = mkdtempSync(join(tmpdir(), 'flash-emu-'));
    try {
      writeFileSync(join(dir, 'job'), Buffer.concat(parts));
      execFileSync(this.bin, [join(dir, 'job'), join(dir, 'out')], { stdio: ['ignore', 'inherit', 'inherit'] });
      const out = readFileSync(join(dir, 'out'));
      let o = 0;
      for (const b of this.buffers) {
        if (!b) continue;
        b.set(out.subarray(o, o + b.length));
        o += b.length;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Live allocations (a leak shows as a non-zero count after a backend call returns). */
  live(): number {
    return this.buffers.filter((b) => b !== null).length;
  }
}

/** A Ready device for createRocmBackendOn: every portable kernel "loaded" under its exported name. */
export function emuDevice(driver: EmuDriver, opts: { mfma?: boolean } = {}): Ready {
  const fns = new Map<string, bigint>();
  let id = 1n;
  for (const dt of DTYPES)
    for (const k of ['flash_fwd', 'flash_bwd_dot', 'flash_bwd_dq', 'flash_bwd_dkv']) {
      const name = `${k}_${dt}`;
      fns.set(name, id);
      driver.names.set(id, name);
      id++;
    }
  if (opts.mfma) {
    fns.set('flash_fwd_mfma_f16', id);
    driver.names.set(id, 'flash_fwd_mfma_f16');
  }
  return { driver, module: 0n, stream: 0n, fns, mfma: !!opts.mfma, availability: { available: true, device: 'CPU emulation of the kernels' } };
}
