/** Bun seam: bun:ffi (dlopen with typed symbols). */
import type { ArgType, FfiSeam, NativeLibrary, ResultType, Signature } from './native-library.js';

export async function createBunSeam(): Promise<FfiSeam> {
  const spec = 'bun:ffi'; // computed: other runtimes and bundlers must not try to resolve it
  const ffi = (await import(/* @vite-ignore */ spec)) as any;
  const T = ffi.FFIType;
  const ARG: Record<ArgType, unknown> = { i32: T.i32, u32: T.u32, u64: T.u64, f32: T.f32, buffer: T.ptr };
  const RESULT: Record<ResultType, unknown> = { i32: T.i32, cstr: T.cstring };
  return {
    name: `bun:ffi (bun ${(globalThis as any).Bun?.version ?? '?'})`,
    open(path: string, symbols: Readonly<Record<string, Signature>>): NativeLibrary {
      const defs: Record<string, { args: unknown[]; returns: unknown }> = {};
      for (const [name, sig] of Object.entries(symbols)) defs[name] = { args: sig.args.map((a) => ARG[a]), returns: RESULT[sig.result] };
      const lib = ffi.dlopen(path, defs);
      const results = new Map(Object.entries(symbols).map(([n, s]) => [n, s.result]));
      return {
        path,
        call(symbol, ...args) {
          const f = lib.symbols[symbol];
          if (!f) throw new Error(`symbol ${symbol} was not declared`);
          const r = f(...args);
          return results.get(symbol) === 'cstr' ? String(r) : (r as number);
        },
        address: (view) => BigInt(ffi.ptr(view)),
        cstringAt: (address) => String(new ffi.CString(Number(address))),
        close: () => lib.close(),
      };
    },
  };
}
