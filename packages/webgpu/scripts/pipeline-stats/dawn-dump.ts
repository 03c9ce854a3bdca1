/**
 * Compiles one WGSL compute kernel with Dawn (npm `webgpu`, dawn.node) with the `dump_shaders` toggle on, so that
 * Dawn prints the SPIR-V that Tint made from it, the code the backend really runs. Usage (bundled by build.sh):
 *   node dawn-dump.mjs FILE.wgsl [ENTRY]       (ENTRY: default main)
 * Dawn writes the dump from native code to this process's stdout/stderr ("// Dumped WGSL:", then
 * "/* Dumped SPIRV disassembly *\/"): run one process per kernel with both redirected to a file, and split that
 * (run-tint.sh). The adapter and device are set up as the backend does (src/gpu-context.ts): high-performance
 * adapter, the adapter's highest limits, `subgroups` when the WGSL enables it (and `timestamp-query` when offered,
 * as the backend asks for it; it does not change shaders).
 * Extra create() flags: env DAWN_DUMP_FLAGS, ';'-separated (e.g. 'enable-dawn-features=disable_robustness');
 * dump_shaders is merged into any enable-dawn-features flag given there.
 * Messages go to stderr prefixed "dawn-dump:"; the last one is "dawn-dump: ok ..." or "dawn-dump: error ...".
 * Exit status: 0 compiled, 1 Dawn refused the kernel (message printed), 2 usage, 3 no adapter / device.
 *
 *   node dawn-dump.mjs --split LOG BASE          (no GPU needed)
 * takes the last "Dumped SPIRV disassembly" section of LOG (up to the next "info:" / "// Dumped" / "/* Dumped" line
 * or the end; lines that are not SPIR-V assembly, such as messages written in between, are dropped) and writes
 * BASE.spvasm (Tint's text as dumped) and BASE.as.spvasm (the same, with the operands that the SPIRV-Tools of
 * build.sh's spirv-as (Debian 12: 2023.1) does not know written as numbers: `OpExecutionMode %f !6023` for
 * MaximallyReconvergesKHR; the binary is the same). Prints {"version": "1.4", "targetEnv": "spv1.4", ...} (use that
 * target env so that spirv-as keeps Tint's SPIR-V version); exit 1 when LOG has no complete section.
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

/** create() flags: enable-dawn-features=dump_shaders merged with DAWN_DUMP_FLAGS. */
export function dawnFlags(extra: string | undefined): string[] {
  const flags = (extra ?? '').split(';').map((s) => s.trim()).filter((s) => s !== '');
  const i = flags.findIndex((f) => f.startsWith('enable-dawn-features='));
  if (i < 0) return ['enable-dawn-features=dump_shaders', ...flags];
  const feats = flags[i]!.slice('enable-dawn-features='.length).split(',').filter((s) => s !== '');
  if (!feats.includes('dump_shaders')) feats.push('dump_shaders');
  flags[i] = `enable-dawn-features=${feats.join(',')}`;
  return flags;
}

/** Execution modes newer than SPIRV-Tools 2023.1 (build.sh's spirv-as) that Tint may emit: name -> value. */
const NUMERIC_EXECUTION_MODES: Record<string, number> = { MaximallyReconvergesKHR: 6023, QuadDerivativesKHR: 5088, RequireFullQuadsKHR: 5089 };

/** The last SPIR-V disassembly section of a Dawn dump_shaders log (see the header). */
export function splitDump(log: string): { text: string; asText: string; version: string; dropped: string[]; numeric: string[] } {
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
  const numeric: string[] = [];
  const asLines = body.map((l) =>
    l.replace(/^(\s*OpExecutionMode(?:Id)?\s+%[\w.-]+\s+)(\w+)(?=\s|$)/, (m, pre: string, mode: string) => {
      const v = NUMERIC_EXECUTION_MODES[mode];
      if (v === undefined) return m;
      numeric.push(mode);
      return `${pre}!${v}`;
    }),
  );
  return { text: `${body.join('\n')}\n`, asText: `${asLines.join('\n')}\n`, version, dropped, numeric };
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
  process.stdout.write(`${JSON.stringify({ version: r.version, targetEnv: `spv${r.version}`, lines: r.text.split('\n').length - 1, dropped: r.dropped.length, numeric: r.numeric })}\n`);
  return 0;
}

async function main(): Promise<number> {
  if (process.argv[2] === '--split') return split(process.argv[3], process.argv[4]);
  const [file, entryPoint = 'main'] = process.argv.slice(2);
  if (!file || file.startsWith('-')) {
    say('usage: node dawn-dump.mjs FILE.wgsl [ENTRY]');
    return 2;
  }
  const code = readFileSync(file, 'utf8');
  let mod: Mod;
  try {
    mod = (await import('webgpu')) as unknown as Mod;
  } catch (e) {
    say(`error: cannot load the 'webgpu' package (dawn.node): ${(e as Error)?.message ?? e}`);
    return 3;
  }
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const flags = dawnFlags(process.env.DAWN_DUMP_FLAGS);
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
  const wantsSubgroups = /^\s*enable\s+[^;]*\bsubgroups\b[^;]*;/m.test(code);
  if (wantsSubgroups) {
    if (adapter.features.has('subgroups' as GPUFeatureName)) features.push('subgroups' as GPUFeatureName);
    else say('warning: the WGSL enables subgroups but the adapter has no `subgroups` feature (compilation will fail)');
  }
  if (/^\s*enable\s+[^;]*\bchromium_experimental_subgroup_matrix\b/m.test(code)) {
    // Needs create() flag enable-dawn-features=allow_unsafe_apis (DAWN_DUMP_FLAGS).
    if (adapter.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName)) features.push('chromium-experimental-subgroup-matrix' as GPUFeatureName);
    else say('warning: the WGSL enables subgroup matrices but the adapter has none (allow_unsafe_apis in DAWN_DUMP_FLAGS?)');
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
