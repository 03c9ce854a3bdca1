// Reads the kernels' code objects without any ROCm tool: clang offload bundles (what hipcc --genco writes),
// AMDGPU ELF (symbols, EF_AMDGPU_MACH) and NVIDIA fatbins (kernel names in the embedded cubins).
// Plain JavaScript so node, bun and deno run it unbuilt.

const BUNDLE_MAGIC = '__CLANG_OFFLOAD_BUNDLE__';

/** Entries of a clang offload bundle: [{ triple, offset, size }]. */
export function parseOffloadBundle(buf) {
  const td = new TextDecoder();
  if (td.decode(buf.subarray(0, BUNDLE_MAGIC.length)) !== BUNDLE_MAGIC) throw new Error('not a clang offload bundle');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = BUNDLE_MAGIC.length;
  const n = Number(dv.getBigUint64(o, true)); o += 8;
  const entries = [];
  for (let i = 0; i < n; i++) {
    const offset = Number(dv.getBigUint64(o, true)); o += 8;
    const size = Number(dv.getBigUint64(o, true)); o += 8;
    const tlen = Number(dv.getBigUint64(o, true)); o += 8;
    const triple = td.decode(buf.subarray(o, o + tlen)); o += tlen;
    entries.push({ triple, offset, size });
  }
  return entries;
}

// EF_AMDGPU_MACH values (llvm/BinaryFormat/ELF.h)
export const AMDGPU_MACH = { 0x30: 'gfx908', 0x3f: 'gfx90a', 0x40: 'gfx940', 0x4c: 'gfx942', 0x36: 'gfx1030', 0x41: 'gfx1100' };

/** ELF64 little-endian: machine, e_flags and the names of FUNC symbols (kernels) in .symtab. */
export function parseElf(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new Error('not an ELF file');
  const machine = dv.getUint16(18, true);
  const flags = dv.getUint32(48, true);
  const shoff = Number(dv.getBigUint64(40, true));
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * shentsize;
    sections.push({
      type: dv.getUint32(b + 4, true), offset: Number(dv.getBigUint64(b + 24, true)),
      size: Number(dv.getBigUint64(b + 32, true)), link: dv.getUint32(b + 40, true), entsize: Number(dv.getBigUint64(b + 56, true)),
    });
  }
  const functions = [];
  const objects = [];
  const td = new TextDecoder();
  for (const s of sections) {
    if (s.type !== 2 /* SHT_SYMTAB */) continue;
    const strtab = sections[s.link];
    for (let o = s.offset; o + 24 <= s.offset + s.size; o += s.entsize || 24) {
      const nameOff = dv.getUint32(o, true);
      const info = buf[o + 4];
      let e = strtab.offset + nameOff;
      while (buf[e] !== 0) e++;
      const name = td.decode(buf.subarray(strtab.offset + nameOff, e));
      if ((info & 0xf) === 2) functions.push(name);
      else if ((info & 0xf) === 1) objects.push(name);
    }
  }
  return { machine, flags, arch: AMDGPU_MACH[flags & 0xff], functions: functions.sort(), objects: objects.sort() };
}

/** The amdgcn code object inside a hipcc --genco output (bundle or bare ELF). */
export function amdgcnElf(buf) {
  if (buf[0] === 0x7f) return { triple: 'bare ELF', elf: buf };
  const e = parseOffloadBundle(buf).find((x) => x.triple.includes('amdgcn'));
  if (!e) throw new Error('bundle holds no amdgcn entry');
  return { triple: e.triple, elf: buf.subarray(e.offset, e.offset + e.size) };
}

/** Kernel names mentioned in an NVIDIA fatbin (scans the cubins' string tables), and its magic. */
export function fatbinKernels(buf, expected) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  const text = new TextDecoder('latin1').decode(buf);
  return { magicOk: magic === 0xba55ed50, present: expected.filter((k) => text.includes(`${k}\0`)) };
}

export const DTYPES = ['f32', 'f16', 'bf16'];
export const PORTABLE_KERNELS = DTYPES.flatMap((d) => [`flash_fwd_${d}`, `flash_bwd_dot_${d}`, `flash_bwd_dq_${d}`, `flash_bwd_dkv_${d}`]);
export const MFMA_KERNELS = ['flash_fwd_mfma_f16'];
export const MFMA_ARCHS = ['gfx908', 'gfx90a', 'gfx940'];
