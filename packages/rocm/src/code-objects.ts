/**
 * Where the compiled kernels live and which one a GPU can run. Layout of packages/rocm/build/ (made by
 * scripts/build-kernels.sh):
 *   amdgcn/flash_attn-<gfx arch>.hsaco   hipcc --genco code-object bundles, one per AMD architecture
 *   nvidia/flash_attn.fatbin             the same source through nvcc (sm_80, sm_90 SASS + compute_90 PTX)
 *   manifest.json                        what was built, with which compiler, when
 * Located by FLASHATTN_ROCM_DIR, else relative to this module: unbundled (packages/rocm/dist -> ../build) or
 * bundled into the CLI (apps/cli/dist -> ../../../packages/rocm/build).
 */
import type { DriverKind } from './gpu/api-table.js';

/** The AMD architectures the build targets (Debian's hipcc 5.2 / clang 15 knows no gfx942 or gfx1100). */
export const AMD_ARCHS = ['gfx908', 'gfx90a', 'gfx940', 'gfx1030'] as const;
/** CDNA architectures with the MFMA path compiled in. */
export const MFMA_ARCHS: readonly string[] = ['gfx908', 'gfx90a', 'gfx940'];
/** NVIDIA targets in the fatbin; PTX for compute_90 lets newer GPUs JIT. */
export const NVIDIA_SASS = ['sm_80', 'sm_90'] as const;

export interface Manifest {
  readonly built: string;
  readonly amd?: { readonly compiler: string; readonly archs: readonly string[] };
  readonly nvidia?: { readonly compiler: string; readonly targets: readonly string[] };
  readonly skipped?: readonly string[];
}

type Fs = { readFile(p: string): Promise<Uint8Array>; access(p: string): Promise<void> };

async function fs(): Promise<Fs> {
  return (await import('node:fs/promises')) as unknown as Fs;
}

function urlToPath(u: URL): string {
  return decodeURIComponent(u.pathname);
}

export function buildDirCandidates(env: Record<string, string | undefined>, moduleUrl: string): string[] {
  const out: string[] = [];
  if (env.FLASHATTN_ROCM_DIR) out.push(env.FLASHATTN_ROCM_DIR.replace(/\/?$/, '/'));
  if (moduleUrl.startsWith('file:')) {
    out.push(urlToPath(new URL('../build/', moduleUrl)));
    out.push(urlToPath(new URL('../../../packages/rocm/build/', moduleUrl)));
  }
  return out;
}

export async function findBuildDir(env: Record<string, string | undefined>, moduleUrl: string): Promise<{ dir?: string; tried: string[] }> {
  const f = await fs();
  const tried = buildDirCandidates(env, moduleUrl);
  for (const dir of tried) {
    try {
      await f.access(`${dir}manifest.json`);
      return { dir, tried };
    } catch {
      /* next */
    }
  }
  return { tried };
}

export async function readManifest(dir: string): Promise<Manifest> {
  const f = await fs();
  return JSON.parse(new TextDecoder().decode(await f.readFile(`${dir}manifest.json`))) as Manifest;
}

/** The code object file for a GPU, or the reason there is none. */
export function codeObjectPath(kind: DriverKind, arch: string, dir: string, manifest: Manifest): { path: string } | { reason: string } {
  if (kind === 'hip') {
    const carried = manifest.amd?.archs ?? [];
    if (!carried.includes(arch))
      return { reason: `no code object for ${arch} (carried: ${carried.join(', ') || 'none; hipcc was absent at build time'})` };
    return { path: `${dir}amdgcn/flash_attn-${arch}.hsaco` };
  }
  const targets = manifest.nvidia?.targets ?? [];
  if (!targets.length) return { reason: 'no NVIDIA fatbin built (nvcc was absent at build time)' };
  const m = /^sm_(\d+)$/.exec(arch);
  if (!m || Number(m[1]) < 80) return { reason: `no code for ${arch} (fatbin carries ${targets.join(', ')})` };
  return { path: `${dir}nvidia/flash_attn.fatbin` };
}

export async function readCodeObject(path: string): Promise<Uint8Array> {
  return (await fs()).readFile(path);
}
