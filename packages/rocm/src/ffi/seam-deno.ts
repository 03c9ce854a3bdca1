/** Deno seam: Deno.dlopen (needs --allow-ffi; Deno 2 has FFI without --unstable). */
import type { ArgType, FfiSeam, NativeLibrary, ResultType, Signature } from './native-library.js';

const ARG: Record<ArgType, string> = { i32: 'i32', u32: 'u32', u64: 'u64', f32: 'f32', buffer: 'buffer' };
const RESULT: Record<ResultType, string> = { i32: 'i32', cstr: 'pointer' };

export async function createDenoSeam(): Promise<FfiSeam> {
  const Deno = (globalThis as any).Deno;
  if (typeof Deno?.dlopen !== 'function') throw new Error('Deno.dlopen is not available in this Deno');
  const cstr = (p: unknown) => (p === null ? '' : (Deno.UnsafePointerView.getCString(p) as string));
  return {
    name: `Deno.dlopen (deno ${Deno.version?.deno ?? '?'})`,
    open(path: string, symbols: Readonly<Record<string, Signature>>): NativeLibrary {
      const defs: Record<string, { parameters: string[]; result: string }> = {};
      for (const [name, sig] of Object.entries(symbols)) defs[name] = { parameters: sig.args.map((a) => ARG[a]), result: RESULT[sig.result] };
      const lib = Deno.dlopen(path, defs);
      const results = new Map(Object.entries(symbols).map(([n, s]) => [n, s.result]));
      return {
        path,
        call(symbol, ...args) {
          const f = lib.symbols[symbol];
          if (!f) throw new Error(`symbol ${symbol} was not declared`);
          const r = f(...args);
          return results.get(symbol) === 'cstr' ? cstr(r) : (r as number);
        },
        address: (view) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(view))),
        cstringAt: (address) => cstr(Deno.UnsafePointer.create(address)),
        close: () => lib.close(),
      };
    },
  };
}
