import { runtimeName } from '@flashattn/core';
import { envVar, type TensorCoresMode } from './gpu-context.js';

/**
 * The runtime seam: where the GPU object comes from. Deno (and browsers) have navigator.gpu built in (wgpu);
 * Node and Bun get Dawn through the `webgpu` npm package, imported dynamically so Deno never loads it.
 * Returns the GPU object, or a reason a person can act on.
 */
export async function acquireGPU(tc: TensorCoresMode = 'auto'): Promise<{ gpu: GPU } | { reason: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (runtimeName() === 'deno' || (nav?.gpu && runtimeName() !== 'node' && runtimeName() !== 'bun')) {
    if (nav?.gpu) return { gpu: nav.gpu };
    return { reason: 'this Deno has no navigator.gpu (run with a Deno 2 build that includes WebGPU, with -A or --unstable-webgpu on Deno < 2)' };
  }
  const pkg = 'webgpu';
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    return { reason: `the 'webgpu' npm package (Dawn) could not be loaded: ${(e as Error)?.message ?? e}; install it with \`npm install webgpu\`` };
  }
  // Dawn's classes (GPUBufferUsage, GPUMapMode, ...) as globals, where the runtime has none of its own.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  // FLASHATTN_WEBGPU_DAWN_FLAGS: Dawn options for create(), separated by ';' (tuning on the GPU machine, e.g.
  // 'enable-dawn-features=disable_robustness'); none by default.
  let flags = (envVar('FLASHATTN_WEBGPU_DAWN_FLAGS') ?? '').split(';').filter((x) => x !== '');
  // The tensor-core forward (when asked for) needs Dawn's experimental subgroup matrices (allow_unsafe_apis) and,
  // on NVIDIA, shader-f16, which Dawn keeps off there unless told (crbug.com/tint/2164). Features are still asked for
  // per device only where the forward will use them (openContext).
  if (tc !== 'off') flags = withDawnToggles(flags, ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia']);
  try {
    return { gpu: mod.create(flags) };
  } catch (e) {
    return { reason: `Dawn (the 'webgpu' package) failed to start: ${(e as Error)?.message ?? e}` };
  }
}

/** `flags` with Dawn toggles added to its enable-dawn-features list (one entry, comma-separated). */
export function withDawnToggles(flags: string[], toggles: string[]): string[] {
  const k = 'enable-dawn-features=';
  const i = flags.findIndex((f) => f.startsWith(k));
  const have = i < 0 ? [] : flags[i]!.slice(k.length).split(',').filter((x) => x !== '');
  const all = `${k}${[...have, ...toggles.filter((t) => !have.includes(t))].join(',')}`;
  return i < 0 ? [...flags, all] : flags.map((f, j) => (j === i ? all : f));
}

/** What to install when no adapter is found, per runtime. */
export function noAdapterHint(): string {
  const driver =
    'install a Vulkan driver: a GPU vendor driver, or for the CPU Mesa\'s lavapipe >= 24 ' +
    '(Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers`; Ubuntu: `apt-get install mesa-vulkan-drivers`)';
  return runtimeName() === 'deno'
    ? `Deno's WebGPU found no adapter: ${driver}`
    : `Dawn (the 'webgpu' package) found no adapter: ${driver}; Dawn needs Mesa >= 24 for lavapipe (Mesa 22 lacks shaderUniform*ArrayDynamicIndexing)`;
}
