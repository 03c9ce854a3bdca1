/**
 * The runtime seam: finding and loading build/flashattn_cuda.node. Node, Bun and Deno 2 (with --allow-ffi, e.g. -A)
 * all load Node-API addons through `createRequire(import.meta.url)`, so one path serves the three.
 * Also reads $FLASHATTN_CUDA_COMPLETION (worker | thread). Search order: $FLASHATTN_CUDA_ADDON, then paths relative to this module, unbundled (packages/cuda/dist/index.js,
 * or src/ under vitest) and bundled (apps/cli/dist/main.js).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { runtimeName } from '@flashattn/core';
import type { CudaAddon } from './addon-types.js';

export const ADDON_FILE = 'flashattn_cuda.node';

export type AddonLoad = { readonly addon: CudaAddon; readonly path: string } | { readonly reason: string };

function env(name: string): string | undefined {
  try {
    const g = globalThis as Record<string, any>;
    if (runtimeName() === 'deno') return g.Deno.env.get(name) || undefined;
    return g.process?.env?.[name] || undefined;
  } catch {
    return undefined; // Deno without --allow-env
  }
}

/** Build directories to look in, most specific first. */
function buildDirs(): string[] {
  const rel = ['../build/', '../../../packages/cuda/build/'];
  return rel.map((r) => fileURLToPath(new URL(r, import.meta.url)));
}

/** Why the build did not produce the addon, as written by scripts/build-addon.mjs. */
function buildStatusReason(dirs: string[]): string | undefined {
  for (const d of dirs) {
    try {
      const s = JSON.parse(readFileSync(`${d}addon-status.json`, 'utf8')) as { built?: boolean; reason?: string };
      if (s.built === false && s.reason) return s.reason;
    } catch { /* not there */ }
  }
  return undefined;
}

let cached: AddonLoad | undefined;

export function loadAddon(): AddonLoad {
  if (cached) return cached;
  const override = env('FLASHATTN_CUDA_ADDON');
  const dirs = buildDirs();
  const candidates = override ? [override] : dirs.map((d) => d + ADDON_FILE);
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    cached = {
      reason: override
        ? `addon not found at FLASHATTN_CUDA_ADDON=${override}`
        : (buildStatusReason(dirs) ?? `addon not built: run "npm run build" in packages/cuda (needs the CUDA toolkit); looked for ${candidates.join(', ')}`),
    };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    const addon = require(found) as CudaAddon;
    // How awaited GPU work completes (README, "Addon design"): FLASHATTN_CUDA_COMPLETION=worker|thread.
    const completion = env('FLASHATTN_CUDA_COMPLETION');
    if (completion === 'worker' || completion === 'thread') addon.setCompletion?.(completion);
    cached = { addon, path: found };
  } catch (e) {
    cached = { reason: `addon failed to load from ${found}: ${(e as Error)?.message ?? e}` };
  }
  return cached;
}
