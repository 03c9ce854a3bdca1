// CI: the built code objects hold the expected kernels for each architecture (parsed here without ROCm tools).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain-JS helper shared with scripts/check-code-objects.mjs
import { MFMA_ARCHS, MFMA_KERNELS, PORTABLE_KERNELS, amdgcnElf, fatbinKernels, parseElf, parseOffloadBundle } from '../scripts/code-object-inspect.mjs';
import { codeObjectPath, type Manifest } from '../src/code-objects.js';

const build = fileURLToPath(new URL('../build/', import.meta.url));

describe('code objects in build/', () => {
  it('exist (npm run build ran) with a manifest', () => {
    expect(existsSync(`${build}manifest.json`), 'run npm run build in packages/rocm').toBe(true);
  });
  const manifest: Manifest = existsSync(`${build}manifest.json`) ? JSON.parse(readFileSync(`${build}manifest.json`, 'utf8')) : {};

  for (const arch of manifest.amd?.archs ?? []) {
    it(`${arch}: an offload bundle whose amdgcn ELF is for ${arch} and holds every kernel`, () => {
      const buf = new Uint8Array(readFileSync(`${build}amdgcn/flash_attn-${arch}.hsaco`));
      expect(parseOffloadBundle(buf).map((e: { triple: string }) => e.triple)).toContain(`hipv4-amdgcn-amd-amdhsa--${arch}`);
      const info = parseElf(amdgcnElf(buf).elf);
      expect(info.machine).toBe(224);
      expect(info.arch).toBe(arch);
      for (const k of PORTABLE_KERNELS) expect(info.functions).toContain(k);
      for (const k of MFMA_KERNELS) expect(info.functions.includes(k)).toBe(MFMA_ARCHS.includes(arch));
    });
  }

  it('the NVIDIA fatbin (when nvcc was present) holds the portable kernels and no MFMA kernel', () => {
    if (!(manifest.nvidia?.targets ?? []).length) return expect(manifest.skipped?.join(' ')).toMatch(/nvcc/);
    const r = fatbinKernels(new Uint8Array(readFileSync(`${build}nvidia/flash_attn.fatbin`)), [...PORTABLE_KERNELS, ...MFMA_KERNELS]);
    expect(r.magicOk).toBe(true);
    expect(r.present.sort()).toEqual([...PORTABLE_KERNELS].sort());
  });

  it('a GPU without a code object is unavailable with the carried list as the reason', () => {
    const m: Manifest = { built: 'x', amd: { compiler: 'hipcc', archs: ['gfx908', 'gfx90a', 'gfx940', 'gfx1030'] }, nvidia: { compiler: 'nvcc', targets: ['sm_80', 'sm_90'] } };
    expect(codeObjectPath('hip', 'gfx1100', '/b/', m)).toEqual({ reason: 'no code object for gfx1100 (carried: gfx908, gfx90a, gfx940, gfx1030)' });
    expect(codeObjectPath('hip', 'gfx90a', '/b/', m)).toEqual({ path: '/b/amdgcn/flash_attn-gfx90a.hsaco' });
    expect(codeObjectPath('cuda', 'sm_75', '/b/', m)).toMatchObject({ reason: expect.stringContaining('sm_75') });
    expect(codeObjectPath('cuda', 'sm_90', '/b/', m)).toEqual({ path: '/b/nvidia/flash_attn.fatbin' });
  });
});
