/**
 * The CLI's registry: every backend package, with its priority. Each package is imported lazily and on its own, so
 * one that fails to load (missing native dependency, unbuilt package) shows as unavailable with the import error as
 * its reason instead of breaking the CLI.
 */
import {
  BackendRegistry,
  BackendUnavailableError,
  type Availability,
  type Backend,
  type Capabilities,
  type Oracle,
} from '@flashattn/core';

interface BackendEntry {
  readonly name: string;
  readonly pkg: string;
  readonly priority: number;
  readonly load: () => Promise<Backend>;
}

// The packages may be absent or unbuilt while the CLI is type-checked; their shapes are the ones the brief fixes.
export const BACKENDS: readonly BackendEntry[] = [
  {
    name: 'cuda', pkg: '@flashattn/cuda', priority: 100,
    // @ts-ignore -- typed by the contract below, resolved at bundle time
    load: async () => ((await import('@flashattn/cuda')) as { createCudaBackend(): Backend }).createCudaBackend(),
  },
  {
    name: 'rocm', pkg: '@flashattn/rocm', priority: 90,
    // @ts-ignore -- typed by the contract below, resolved at bundle time
    load: async () => ((await import('@flashattn/rocm')) as { createRocmBackend(): Backend }).createRocmBackend(),
  },
  {
    name: 'webgpu', pkg: '@flashattn/webgpu', priority: 50,
    // @ts-ignore -- typed by the contract below, resolved at bundle time
    load: async () => ((await import('@flashattn/webgpu')) as { createWebGPUBackend(): Backend }).createWebGPUBackend(),
  },
  {
    name: 'reference', pkg: '@flashattn/reference', priority: 10,
    // @ts-ignore -- typed by the contract below, resolved at bundle time
    load: async () => ((await import('@flashattn/reference')) as { createReferenceBackend(): Backend }).createReferenceBackend(),
  },
];

export const BACKEND_NAMES: readonly string[] = BACKENDS.map((b) => b.name);

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.trim() || String(e);
}

/** Stands in for a backend whose package could not be loaded: always unavailable, with the load error as reason. */
function unloadable(name: string, pkg: string, error: unknown): Backend {
  const reason = `${pkg} failed to load: ${message(error)}`;
  const caps: Capabilities = { dtypes: [], features: [], maxHeadDim: 0 };
  return {
    name,
    probe: async (): Promise<Availability> => ({ available: false, reason }),
    capabilities: () => caps,
    check: () => [`unavailable: ${reason}`],
    forward: async () => { throw new BackendUnavailableError(name, reason); },
    backward: async () => { throw new BackendUnavailableError(name, reason); },
  };
}

export interface LoadedRegistry {
  readonly registry: BackendRegistry;
  /** name -> load error, for the packages that did not load. */
  readonly loadErrors: ReadonlyMap<string, string>;
}

/** Import the named backends (all by default) and register each; never throws for a package that fails. */
export async function loadRegistry(names: readonly string[] = BACKEND_NAMES): Promise<LoadedRegistry> {
  const registry = new BackendRegistry();
  const loadErrors = new Map<string, string>();
  const entries = BACKENDS.filter((b) => names.includes(b.name));
  const loaded = await Promise.all(
    entries.map(async (e) => {
      try {
        const b = await e.load();
        if (!b || b.name !== e.name) throw new Error(`factory returned backend named ${JSON.stringify(b?.name)}, expected ${JSON.stringify(e.name)}`);
        return b;
      } catch (err) {
        loadErrors.set(e.name, message(err));
        return unloadable(e.name, e.pkg, err);
      }
    }),
  );
  entries.forEach((e, i) => registry.register(loaded[i]!, e.priority));
  return { registry, loadErrors };
}

/** The float64 oracle every conformance verdict is judged against (from the reference package). */
export async function loadOracle(): Promise<Oracle> {
  try {
    // @ts-ignore -- see BACKENDS
    const m = (await import('@flashattn/reference')) as { referenceOracle: Oracle };
    if (!m.referenceOracle) throw new Error('@flashattn/reference exports no referenceOracle');
    return m.referenceOracle;
  } catch (e) {
    throw new BackendUnavailableError('reference', `the float64 oracle (@flashattn/reference) failed to load: ${message(e)}`);
  }
}
