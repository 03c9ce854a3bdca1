// CI check: every code object in build/ holds the expected kernels for its architecture.
//   node|bun|deno scripts/check-code-objects.mjs [buildDir]   (deno: --allow-read)
// Exit 1 on a missing kernel, a wrong architecture or an MFMA kernel where none belongs; exit 0 with a note
// when a compiler was absent at build time (the manifest says what was skipped).
import { readFileSync, existsSync } from 'node:fs';
import { MFMA_ARCHS, MFMA_KERNELS, PORTABLE_KERNELS, amdgcnElf, fatbinKernels, parseElf } from './code-object-inspect.mjs';

const dir = (globalThis.process?.argv?.[2] ?? new URL('../build/', import.meta.url).pathname).replace(/\/?$/, '/');
const manifestPath = `${dir}manifest.json`;
if (!existsSync(manifestPath)) {
  console.log(`no ${manifestPath}: run npm run build in packages/rocm first`);
  globalThis.process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
let bad = 0;
const fail = (m) => { console.log(`FAIL ${m}`); bad++; };
for (const s of manifest.skipped ?? []) console.log(`note: skipped at build time: ${s}`);

for (const arch of manifest.amd?.archs ?? []) {
  const f = `${dir}amdgcn/flash_attn-${arch}.hsaco`;
  if (!existsSync(f)) { fail(`${f} missing though the manifest lists ${arch}`); continue; }
  const { triple, elf } = amdgcnElf(new Uint8Array(readFileSync(f)));
  const info = parseElf(elf);
  if (info.machine !== 224) fail(`${arch}: ELF machine ${info.machine}, want 224 (EM_AMDGPU)`);
  if (info.arch !== arch) fail(`${arch}: EF_AMDGPU_MACH says ${info.arch ?? `0x${(info.flags & 0xff).toString(16)}`}`);
  if (!triple.endsWith(arch)) fail(`${arch}: bundle triple ${triple}`);
  const missing = PORTABLE_KERNELS.filter((k) => !info.functions.includes(k));
  if (missing.length) fail(`${arch}: missing ${missing.join(', ')}`);
  const mfma = MFMA_KERNELS.filter((k) => info.functions.includes(k));
  const wantMfma = MFMA_ARCHS.includes(arch);
  if (wantMfma && mfma.length !== MFMA_KERNELS.length) fail(`${arch}: MFMA kernel missing`);
  if (!wantMfma && mfma.length) fail(`${arch}: has MFMA kernels (${mfma.join(', ')}) but no matrix cores`);
  const kd = PORTABLE_KERNELS.concat(wantMfma ? MFMA_KERNELS : []).filter((k) => !info.objects.includes(`${k}.kd`));
  if (kd.length) fail(`${arch}: kernel descriptors missing for ${kd.join(', ')}`);
  console.log(`ok ${arch}: ${triple}, ${info.functions.length} kernels (${wantMfma ? 'portable + MFMA' : 'portable'})`);
}

if ((manifest.nvidia?.targets ?? []).length) {
  const f = `${dir}nvidia/flash_attn.fatbin`;
  if (!existsSync(f)) fail(`${f} missing`);
  else {
    const r = fatbinKernels(new Uint8Array(readFileSync(f)), PORTABLE_KERNELS.concat(MFMA_KERNELS));
    if (!r.magicOk) fail('fatbin magic');
    const missing = PORTABLE_KERNELS.filter((k) => !r.present.includes(k));
    if (missing.length) fail(`nvidia: missing ${missing.join(', ')}`);
    if (r.present.some((k) => MFMA_KERNELS.includes(k))) fail('nvidia: MFMA kernel in the fatbin');
    console.log(`ok nvidia: ${manifest.nvidia.targets.join(', ')}; ${r.present.length} kernels`);
  }
}
if (bad) globalThis.process.exit(1);
const checked = (manifest.amd?.archs ?? []).length + ((manifest.nvidia?.targets ?? []).length ? 1 : 0);
console.log(checked ? `code objects: all expected kernels present in ${checked} code object(s)` : 'code objects: none built (see the notes above), nothing to check');
