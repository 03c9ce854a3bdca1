/** Node seam: koffi (prebuilt N-API FFI). Override its location with FLASHATTN_KOFFI (a path to koffi's index.js). */
import type { ArgType, FfiSeam, NativeLibrary, ResultType, Signature } from './native-library.js';

const C_ARG: Record<ArgType, string> = { i32: 'int', u32: 'uint', u64: 'uint64_t', f32: 'float', buffer: 'void *' };
const C_RESULT: Record<ResultType, string> = { i32: 'int', cstr: 'const char *' };

export async function createNodeSeam(): Promise<FfiSeam> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  // A computed specifier keeps bundlers from inlining koffi: it finds its native module relative to itself.
  let spec = env.FLASHATTN_KOFFI ?? 'koffi';
  if (spec.startsWith('/')) spec = `file://${spec}`;
  const mod = (await import(/* @vite-ignore */ spec)) as { default?: unknown };
  const koffi = (mod.default ?? mod) as any;
  return {
    name: `koffi ${koffi.version ?? ''}`.trim(),
    open(path: string, symbols: Readonly<Record<string, Signature>>): NativeLibrary {
      const lib = koffi.load(path);
      const fns = new Map<string, (...a: unknown[]) => unknown>();
      for (const [name, sig] of Object.entries(symbols))
        fns.set(name, lib.func(name, C_RESULT[sig.result], sig.args.map((a) => C_ARG[a])));
      return {
        path,
        call(symbol, ...args) {
          const f = fns.get(symbol);
          if (!f) throw new Error(`symbol ${symbol} was not declared`);
          return f(...args) as number | string;
        },
        address: (view) => koffi.address(view) as bigint,
        cstringAt: (address) => koffi.decode(address, 'char', -1) as string,
        close: () => lib.unload?.(),
      };
    },
  };
}
