/**
 * The small interface every FFI seam implements: open a shared library with a table of C signatures and call its
 * functions synchronously. Only the types the HIP and CUDA driver APIs need:
 *   i32/u32 - C int / unsigned int (error codes, counts, flags, grid sizes)
 *   u64     - 64-bit integers passed by value: size_t, device pointers and opaque handles (modules, streams...)
 *   f32     - float (unused by the APIs today, kept for completeness)
 *   buffer  - a host ArrayBufferView passed as a pointer (out-params, host memcpy sources/destinations, names)
 *   cstr    - (result only) a NUL-terminated C string returned by the function
 */
export type ArgType = 'i32' | 'u32' | 'u64' | 'f32' | 'buffer';
export type ResultType = 'i32' | 'cstr';

export interface Signature {
  readonly args: readonly ArgType[];
  readonly result: ResultType;
}

export type ArgValue = number | bigint | ArrayBufferView;

export interface NativeLibrary {
  /** Which file was opened. */
  readonly path: string;
  /** Call a symbol declared at open(); the result is the C int, or the string for 'cstr' results. */
  call(symbol: string, ...args: ArgValue[]): number | string;
  /** Address of host memory (valid while `view` is alive; views must be backed by a plain ArrayBuffer). */
  address(view: ArrayBufferView): bigint;
  /** Read a NUL-terminated C string at a raw address (e.g. what cuGetErrorName writes). */
  cstringAt(address: bigint): string;
  close(): void;
}

export interface FfiSeam {
  /** "koffi", "bun:ffi" or "Deno.dlopen": named in device strings and errors. */
  readonly name: string;
  /** Open `path`, binding every symbol of `symbols`; throws (with the loader's message) when either fails. */
  open(path: string, symbols: Readonly<Record<string, Signature>>): NativeLibrary;
}
