/**
 * Compiles one WGSL compute kernel with Dawn (npm `webgpu`, dawn.node) with the `dump_shaders` toggle on, so that
 * Dawn prints the SPIR-V that Tint made from it, the code the backend really runs. Usage (bundled by build.sh):
 *   node dawn-dump.mjs FILE.wgsl [ENTRY]       (ENTRY: default main)
 * Dawn writes the dump from native code to this process's stdout/stderr ("// Dumped WGSL:", then
 * "/* Dumped SPIRV disassembly *\/"): run one process per kernel with both redirected to a file, and split that
 * (run-tint.sh). The adapter and device are set up as the backend does (src/gpu-context.ts): high-performance
 * adapter, the adapter's highest limits, `subgroups` when the WGSL enables it (and `timestamp-query` when offered,
 * as the backend asks for it; it does not change shaders). WGSL that enables chromium_experimental_subgroup_matrix
 * or f16 also gets what the backend sets up for its tensor cores (src/acquire-gpu.ts, src/gpu-context.ts): the Dawn
 * toggles allow_unsafe_apis resp. vulkan_enable_f16_on_nvidia and the features chromium-experimental-subgroup-matrix
 * resp. shader-f16.
 * Extra create() flags: env DAWN_DUMP_FLAGS, ';'-separated (e.g. 'enable-dawn-features=disable_robustness');
 * dump_shaders (and the toggles above) are merged into any enable-dawn-features flag given there.
 * Messages go to stderr prefixed "dawn-dump:"; the last one is "dawn-dump: ok ..." or "dawn-dump: error ...".
 * Exit status: 0 compiled, 1 Dawn refused the kernel (message printed), 2 usage, 3 no adapter / device.
 *
 *   node dawn-dump.mjs --split LOG BASE          (no GPU needed)
 * takes the last "Dumped SPIRV disassembly" section of LOG (up to the next "info:" / "// Dumped" / "/* Dumped" line
 * or the end; lines that are not SPIR-V assembly, such as messages written in between, are dropped) and writes
 * BASE.spvasm (Tint's text as dumped) and BASE.as.spvasm (the same, rewritten for the SPIRV-Tools of build.sh's
 * spirv-as, Debian 12's 2023.1, which predates SPV_KHR_cooperative_matrix; see asForOldAssembler):
 *   - operands it does not know written as numbers: `OpExecutionMode %f !6023` for MaximallyReconvergesKHR,
 *     `OpCapability !6022` for CooperativeMatrixKHR (same binary);
 *   - the SPV_KHR_cooperative_matrix instructions (OpTypeCooperativeMatrixKHR, OpCooperativeMatrixLoadKHR, ...Store,
 *     ...MulAdd, ...Length; also SPV_EXT_replicated_composites' splats) as placeholders `OpGroupDecorate !OPCODE
 *     WORD...` (WORD: the instruction's operands in binary order, ids as ids, enumerants and literals as !N), which
 *     `--patch` turns into the real instructions after assembly.
 * Prints {"version": "1.4", "targetEnv": "spv1.4", ..., "placeholders": N} (use that target env so that spirv-as keeps
 * Tint's SPIR-V version; N for --patch); exit 1 when LOG has no complete section or an instruction cannot be
 * rewritten (an operand name not in the tables below).
 *
 *   node dawn-dump.mjs --patch FILE.spv N        (after spirv-as; no GPU needed)
 * rewrites, in place, the N placeholders of FILE.spv (assembled from BASE.as.spvasm) into the instructions they stand
 * for: [(wc << 16) | 74 (OpGroupDecorate), OPCODE, WORD...] -> [((wc - 1) << 16) | OPCODE, WORD...]. Exit 1 when
 * FILE.spv holds a different number of placeholders (nothing written), 0 otherwise (N = 0: file untouched).
 *
 * Why placeholders and not SPIRV-Tools' raw form (`!<opword> WORD...` as the whole instruction): the assembler adds
 * the words that follow a raw token to the instruction before it when that one ends in optional or variadic operands
 * (an OpAccessChain before a cooperative-matrix load, an OpLoad with its optional memory operand), then computes that
 * instruction's word count from all of them: a wrong binary, without an error. A placeholder starts with an opcode
 * name, so the instruction before it ends there, and the assembler counts the placeholder's words itself.
 */
import { readFileSync, writeFileSync } from 'node:fs';

type Mod = { create: (flags: string[]) => GPU; globals: Record<string, unknown> };

/** The limits the backend asks for (src/gpu-context.ts WANTED_LIMITS) plus the workgroup sizes. */
const LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

const say = (s: string) => process.stderr.write(`dawn-dump: ${s}\n`);

/** create() flags: enable-dawn-features=dump_shaders (and `toggles`) merged with DAWN_DUMP_FLAGS. */
export function dawnFlags(extra: string | undefined, toggles: readonly string[] = []): string[] {
  const flags = (extra ?? '').split(';').map((s) => s.trim()).filter((s) => s !== '');
  const want = ['dump_shaders', ...toggles];
  const i = flags.findIndex((f) => f.startsWith('enable-dawn-features='));
  if (i < 0) return [`enable-dawn-features=${want.join(',')}`, ...flags];
  const feats = flags[i]!.slice('enable-dawn-features='.length).split(',').filter((s) => s !== '');
  for (const t of want) if (!feats.includes(t)) feats.push(t);
  flags[i] = `enable-dawn-features=${feats.join(',')}`;
  return flags;
}

/** What a WGSL module enables: `enable a, b;` directives. */
export function wgslEnables(code: string): Set<string> {
  const out = new Set<string>();
  for (const m of code.matchAll(/^\s*enable\s+([^;]*);/gm)) for (const e of m[1]!.split(',')) if (e.trim()) out.add(e.trim());
  return out;
}

/** Execution modes newer than SPIRV-Tools 2023.1 (build.sh's spirv-as) that Tint may emit: name -> value. */
const NUMERIC_EXECUTION_MODES: Record<string, number> = { MaximallyReconvergesKHR: 6023, QuadDerivativesKHR: 5088, RequireFullQuadsKHR: 5089 };
/** Capabilities newer than SPIRV-Tools 2023.1 that Tint may emit (SPIR-V Headers' spirv.core.grammar.json). */
const NUMERIC_CAPABILITIES: Record<string, number> = { CooperativeMatrixKHR: 6022, ReplicatedCompositesEXT: 6024 };

/** OpGroupDecorate: the placeholder's opcode (known to every SPIRV-Tools; Tint never emits decoration groups). */
export const PLACEHOLDER_OPCODE = 74;

/** MemoryAccess (BitEnum) values, with the KHR aliases the disassembler may print. Operands that follow a bit
 * (Aligned: a literal; MakePointerAvailable/Visible: a scope id; the INTEL ones: an id) are plain words and need no
 * table: ids stay ids, numbers become !N. */
const MEMORY_ACCESS: Record<string, number> = {
  None: 0x0, Volatile: 0x1, Aligned: 0x2, Nontemporal: 0x4, MakePointerAvailable: 0x8, MakePointerAvailableKHR: 0x8,
  MakePointerVisible: 0x10, MakePointerVisibleKHR: 0x10, NonPrivatePointer: 0x20, NonPrivatePointerKHR: 0x20,
  AliasScopeINTELMask: 0x10000, NoAliasINTELMask: 0x20000,
};
/** CooperativeMatrixOperands (BitEnum) values. */
const COOPERATIVE_MATRIX_OPERANDS: Record<string, number> = {
  NoneKHR: 0x0, None: 0x0, MatrixASignedComponentsKHR: 0x1, MatrixBSignedComponentsKHR: 0x2, MatrixCSignedComponentsKHR: 0x4,
  MatrixResultSignedComponentsKHR: 0x8, SaturatingAccumulationKHR: 0x10,
};
/**
 * The SPV_KHR_cooperative_matrix instructions (spirv.core.grammar.json): opcode, `result`: 'typed' (IdResultType then
 * IdResult: binary [type, result, ...]), 'untyped' (IdResult only: [result, ...]) or 'none'; `names`: the enumerants
 * that its operands may be written with (all of its other operands are ids: the layout, stride, scope, rows, columns
 * and use are <id>s of constants).
 *   OpTypeCooperativeMatrixKHR   %r = ... %ComponentType %Scope %Rows %Columns %Use
 *   OpCooperativeMatrixLoadKHR   %r = ... %ResultType %Pointer %MemoryLayout [%Stride] [MemoryAccess [params]]
 *   OpCooperativeMatrixStoreKHR  %Pointer %Object %MemoryLayout [%Stride] [MemoryAccess [params]]
 *   OpCooperativeMatrixMulAddKHR %r = ... %ResultType %A %B %C [CooperativeMatrixOperands]
 *   OpCooperativeMatrixLengthKHR %r = ... %ResultType %Type
 * and SPV_EXT_replicated_composites' splats (4461-4463: %r = ... %ResultType %Value), which a cooperative-matrix
 * constant may be written with; none of them is known to SPIRV-Tools 2023.1.
 */
export const COOPERATIVE_MATRIX_OPS: Record<string, { opcode: number; result: 'typed' | 'untyped' | 'none'; names?: Record<string, number> }> = {
  OpTypeCooperativeMatrixKHR: { opcode: 4456, result: 'untyped' },
  OpCooperativeMatrixLoadKHR: { opcode: 4457, result: 'typed', names: MEMORY_ACCESS },
  OpCooperativeMatrixStoreKHR: { opcode: 4458, result: 'none', names: MEMORY_ACCESS },
  OpCooperativeMatrixMulAddKHR: { opcode: 4459, result: 'typed', names: COOPERATIVE_MATRIX_OPERANDS },
  OpCooperativeMatrixLengthKHR: { opcode: 4460, result: 'typed' },
  OpConstantCompositeReplicateEXT: { opcode: 4461, result: 'typed' },
  OpSpecConstantCompositeReplicateEXT: { opcode: 4462, result: 'typed' },
  OpCompositeConstructReplicateEXT: { opcode: 4463, result: 'typed' },
};
const COOPERATIVE_MATRIX_OPCODES = new Set(Object.values(COOPERATIVE_MATRIX_OPS).map((o) => o.opcode));

/** One operand token of a cooperative-matrix instruction as a one-word token for the assembler's raw mode. */
function rawWord(tok: string, op: string, names: Record<string, number> | undefined): string {
  if (/^%[\w.-]+$/.test(tok)) return tok; // an id: the assembler numbers it as everywhere else
  if (/^(0[xX][0-9a-fA-F]+|\d+)$/.test(tok)) {
    const v = Number(tok);
    if (v > 0xffffffff) throw new Error(`${op}: literal ${tok} does not fit one word`);
    return `!${v}`;
  }
  // A mask expression: names joined by '|' (numbers allowed among them).
  let v = 0;
  for (const part of tok.split('|')) {
    const x = /^(0[xX][0-9a-fA-F]+|\d+)$/.test(part) ? Number(part) : names?.[part];
    if (x === undefined) throw new Error(`${op}: operand ${JSON.stringify(tok)} is neither an id, a number nor a known enumerant`);
    v = (v | x) >>> 0;
  }
  return `!${v}`;
}

/**
 * Tint's disassembly rewritten for spirv-as 2023.1 (see the header): returns the lines, the operand names written as
 * numbers and the number of placeholders. Other lines are left as they are.
 */
export function asForOldAssembler(lines: readonly string[]): { lines: string[]; numeric: string[]; placeholders: number } {
  const numeric: string[] = [];
  let placeholders = 0;
  const out = lines.map((l) => {
    let m = /^(\s*OpExecutionMode(?:Id)?\s+%[\w.-]+\s+)(\w+)(?=\s|$)/.exec(l);
    if (m && NUMERIC_EXECUTION_MODES[m[2]!] !== undefined) {
      numeric.push(m[2]!);
      return `${m[1]}!${NUMERIC_EXECUTION_MODES[m[2]!]}${l.slice(m[0].length)}`;
    }
    m = /^(\s*OpCapability\s+)(\w+)(?=\s|$)/.exec(l);
    if (m && NUMERIC_CAPABILITIES[m[2]!] !== undefined) {
      numeric.push(m[2]!);
      return `${m[1]}!${NUMERIC_CAPABILITIES[m[2]!]}${l.slice(m[0].length)}`;
    }
    m = /^(\s*)(?:(%[\w.-]+)\s*=\s*)?(Op\w+)(.*)$/.exec(l);
    const op = m && COOPERATIVE_MATRIX_OPS[m[3]!];
    if (!m || !op) return l;
    const [, indent, result, name, rest] = m as unknown as [string, string, string | undefined, string, string];
    const body = rest.replace(/;.*$/, '').trim();
    if (body.includes('"')) throw new Error(`${name}: unexpected string operand in ${JSON.stringify(l)}`);
    const toks = body === '' ? [] : body.split(/\s+/);
    if ((op.result === 'none') !== (result === undefined)) throw new Error(`${name}: ${op.result === 'none' ? 'unexpected' : 'missing'} result id in ${JSON.stringify(l)}`);
    if (op.result === 'typed' && !/^%/.test(toks[0] ?? '')) throw new Error(`${name}: no result type in ${JSON.stringify(l)}`);
    // Binary operand order: [IdResultType] IdResult operands...
    const words = op.result === 'typed' ? [toks[0]!, result!, ...toks.slice(1)] : op.result === 'untyped' ? [result!, ...toks] : toks;
    placeholders++;
    return `${indent}OpGroupDecorate !${op.opcode} ${words.map((t) => rawWord(t, name, op.names)).join(' ')} ; ${name} (placeholder: dawn-dump.mjs --patch)`;
  });
  return { lines: out, numeric, placeholders };
}

/**
 * The placeholders of an assembled module turned into the instructions they stand for (see the header). Returns the
 * new words and the number of placeholders replaced; an OpGroupDecorate whose first operand is not a
 * cooperative-matrix opcode is left as it is (none in Tint's modules).
 */
export function patchPlaceholders(w: Uint32Array): { words: Uint32Array; patched: number } {
  if (w.length < 5 || w[0] !== 0x07230203) throw new Error('not a SPIR-V module (no magic number)');
  const out: number[] = Array.from(w.subarray(0, 5));
  let patched = 0;
  for (let i = 5; i < w.length; ) {
    const len = w[i]! >>> 16, op = w[i]! & 0xffff;
    if (len === 0 || i + len > w.length) throw new Error(`truncated instruction at word ${i}`);
    if (op === PLACEHOLDER_OPCODE && len >= 2 && COOPERATIVE_MATRIX_OPCODES.has(w[i + 1]!)) {
      out.push((((len - 1) << 16) | w[i + 1]!) >>> 0, ...Array.from(w.subarray(i + 2, i + len)));
      patched++;
    } else for (let k = 0; k < len; k++) out.push(w[i + k]!);
    i += len;
  }
  return { words: Uint32Array.from(out), patched };
}

/** The last SPIR-V disassembly section of a Dawn dump_shaders log (see the header). */
export function splitDump(log: string): { text: string; asText: string; version: string; dropped: string[]; numeric: string[]; placeholders: number } {
  const lines = log.split(/\r?\n/);
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--)
    if (lines[i]!.includes('Dumped SPIRV disassembly')) {
      start = i + 1;
      break;
    }
  if (start < 0) throw new Error('no "Dumped SPIRV disassembly" section (was the dump_shaders toggle on? did Dawn get that far?)');
  const body: string[] = [];
  const dropped: string[] = [];
  const asm = /^\s*(;.*|(%[\w.-]+\s*=\s*)?Op[A-Z]\w*(\s.*)?)?$/;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^(info:|warning:|error:|\/\/ Dumped|\/\* Dumped)/.test(l)) break;
    if (asm.test(l)) body.push(l);
    else dropped.push(l);
  }
  while (body.length && body[body.length - 1]!.trim() === '') body.pop();
  while (body.length && body[0]!.trim() === '') body.shift();
  if (!/^; SPIR-V/.test(body[0] ?? '')) throw new Error(`the section does not start with "; SPIR-V": ${JSON.stringify(body[0] ?? '')}`);
  if (!/^\s*OpFunctionEnd\s*$/.test(body[body.length - 1] ?? '')) throw new Error(`the section does not end with OpFunctionEnd (cut off?): ${JSON.stringify(body[body.length - 1] ?? '')}`);
  const version = /^; Version: (\d+\.\d+)/m.exec(body.slice(0, 6).join('\n'))?.[1];
  if (!version) throw new Error('no "; Version:" line in the section');
  const r = asForOldAssembler(body);
  return { text: `${body.join('\n')}\n`, asText: `${r.lines.join('\n')}\n`, version, dropped, numeric: r.numeric, placeholders: r.placeholders };
}

function split(logFile: string | undefined, base: string | undefined): number {
  if (!logFile || !base) {
    say('usage: node dawn-dump.mjs --split LOG BASE');
    return 2;
  }
  let r: ReturnType<typeof splitDump>;
  try {
    r = splitDump(readFileSync(logFile, 'utf8'));
  } catch (e) {
    say(`error: ${logFile}: ${(e as Error).message}`);
    return 1;
  }
  writeFileSync(`${base}.spvasm`, r.text);
  writeFileSync(`${base}.as.spvasm`, r.asText);
  // This program's own "dawn-dump: ok" line often lands after the dump: not worth a note.
  r.dropped = r.dropped.filter((l) => !l.startsWith('dawn-dump: '));
  if (r.dropped.length) say(`${logFile}: ${r.dropped.length} line(s) in the section that are not SPIR-V dropped, the first: ${JSON.stringify(r.dropped[0]!.slice(0, 120))}`);
  process.stdout.write(`${JSON.stringify({ version: r.version, targetEnv: `spv${r.version}`, lines: r.text.split('\n').length - 1, dropped: r.dropped.length, numeric: r.numeric, placeholders: r.placeholders })}\n`);
  return 0;
}

function patch(file: string | undefined, count: string | undefined): number {
  if (!file || !count || !/^\d+$/.test(count)) {
    say('usage: node dawn-dump.mjs --patch FILE.spv N');
    return 2;
  }
  try {
    const b = readFileSync(file);
    if (b.length % 4 !== 0) throw new Error(`${b.length} bytes: not whole words`);
    const r = patchPlaceholders(new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
    if (r.patched !== Number(count)) throw new Error(`${r.patched} placeholder(s) found, ${count} expected (is it the module assembled from BASE.as.spvasm?)`);
    if (r.patched) writeFileSync(file, new Uint8Array(r.words.buffer, r.words.byteOffset, r.words.byteLength));
    process.stdout.write(`${JSON.stringify({ patched: r.patched, words: r.words.length })}\n`);
    return 0;
  } catch (e) {
    say(`error: ${file}: ${(e as Error).message}`);
    return 1;
  }
}

async function main(): Promise<number> {
  if (process.argv[2] === '--split') return split(process.argv[3], process.argv[4]);
  if (process.argv[2] === '--patch') return patch(process.argv[3], process.argv[4]);
  const [file, entryPoint = 'main'] = process.argv.slice(2);
  if (!file || file.startsWith('-')) {
    say('usage: node dawn-dump.mjs FILE.wgsl [ENTRY]');
    return 2;
  }
  const code = readFileSync(file, 'utf8');
  const enables = wgslEnables(code);
  const wantsMatrices = enables.has('chromium_experimental_subgroup_matrix');
  const wantsF16 = enables.has('f16');
  let mod: Mod;
  try {
    mod = (await import('webgpu')) as unknown as Mod;
  } catch (e) {
    say(`error: cannot load the 'webgpu' package (dawn.node): ${(e as Error)?.message ?? e}`);
    return 3;
  }
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const flags = dawnFlags(process.env.DAWN_DUMP_FLAGS, [...(wantsMatrices ? ['allow_unsafe_apis'] : []), ...(wantsF16 ? ['vulkan_enable_f16_on_nvidia'] : [])]);
  const gpu = mod.create(flags);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    say('error: no adapter (is a Vulkan driver installed? VK_DRIVER_FILES?)');
    return 3;
  }
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const features: GPUFeatureName[] = [];
  if (enables.has('subgroups')) {
    if (adapter.features.has('subgroups' as GPUFeatureName)) features.push('subgroups' as GPUFeatureName);
    else say('warning: the WGSL enables subgroups but the adapter has no `subgroups` feature (compilation will fail)');
  }
  if (wantsMatrices) {
    // Dawn offers it only with allow_unsafe_apis (added to the flags above).
    if (adapter.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName)) features.push('chromium-experimental-subgroup-matrix' as GPUFeatureName);
    else say('warning: the WGSL enables subgroup matrices but the adapter has none (compilation will fail)');
  }
  if (wantsF16) {
    // On NVIDIA Dawn offers it only with vulkan_enable_f16_on_nvidia (added to the flags above).
    if (adapter.features.has('shader-f16')) features.push('shader-f16');
    else say('warning: the WGSL enables f16 but the adapter has no `shader-f16` feature (compilation will fail)');
  }
  if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
  const desc = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(' ') || 'unknown adapter';
  say(`adapter: ${desc}; subgroups ${info?.subgroupMinSize ?? '?'}-${info?.subgroupMaxSize ?? '?'}; flags ${JSON.stringify(flags)}; features ${JSON.stringify(features)}; limits ${JSON.stringify(requiredLimits)}`);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    say(`error: requestDevice: ${(e as Error)?.message ?? e}`);
    return 3;
  }
  const lost: string[] = [];
  void device.lost.then((l) => lost.push(`${l.reason}: ${l.message}`));
  const uncaptured: string[] = [];
  device.addEventListener?.('uncapturederror', (ev: Event) => uncaptured.push((ev as GPUUncapturedErrorEvent).error?.message ?? 'unknown'));

  const t0 = performance.now();
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label: file });
  const ci = await module.getCompilationInfo();
  const errs = ci.messages.filter((m) => m.type === 'error');
  for (const m of ci.messages) say(`${m.type} ${m.lineNum}:${m.linePos}: ${m.message}`);
  let pipelineError = '';
  try {
    // Synchronous: Dawn 0.6.2's async creation aborted the process on the subgroup-matrix kernels (2026-11-22).
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint } });
  } catch (e) {
    pipelineError = (e as Error)?.message ?? String(e);
  }
  const scoped: string[] = [];
  for (let k = 0; k < 3; k++) {
    const e = await device.popErrorScope();
    if (e) scoped.push(e.message);
  }
  const ms = performance.now() - t0;
  const problems = [...errs.map((m) => `WGSL ${m.lineNum}:${m.linePos}: ${m.message}`), ...(pipelineError ? [`createComputePipelineAsync: ${pipelineError}`] : []), ...scoped, ...uncaptured, ...lost];
  device.destroy();
  if (problems.length) {
    say(`error: ${file}: ${problems.join('\n')}`);
    return 1;
  }
  say(`ok ${file}: module and pipeline created in ${ms.toFixed(0)} ms`);
  return 0;
}

main().then(
  (rc) => {
    // dawn.node may keep the event loop alive; flush what JS wrote, then leave.
    process.stderr.write('', () => process.exit(rc));
  },
  (e) => {
    say(`error: ${(e as Error)?.stack ?? e}`);
    process.exit(1);
  },
);
