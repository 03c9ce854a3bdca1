import { DeviceError, DeviceOutOfMemoryError, ValidationError } from '@flashattn/core';
import { acquireGPU, noAdapterHint } from './acquire-gpu.js';

export const BACKEND = 'webgpu';

/** What the kernels and the splitter need to know about the device. */
export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly minUniformBufferOffsetAlignment: number;
}

export interface GpuContext {
  readonly device: GPUDevice;
  /** Held so the instance outlives every call: Dawn's instance is freed when its GPU object is collected. */
  readonly keepAlive?: readonly unknown[];
  limits: GpuLimits;
  /** subgroups usable, with this guaranteed minimum size (0 = none) */
  readonly subgroupMinSize: number;
  readonly timestamps: boolean;
  /**
   * f16 tensor cores usable for the tensor-core forward: f16 x f16 -> f32 16x16x16 subgroup matrices and shader-f16
   * (Dawn's experimental chromium-experimental-subgroup-matrix; tensorCoresMode says when they are used).
   */
  readonly tensorCores: boolean;
  /**
   * Mode 'auto': f32 forwards that return the LSE stay on the SIMT kernel, whose row statistics the backward reuses
   * (after a tensor-core forward it must recompute them, which costs more than the tensor cores save: tensorCoresMode).
   */
  readonly tensorCoresAuto?: boolean;
  /** Why tensorCores is false. */
  readonly tensorCoresReason?: string;
  readonly description: string;
  /** Set once the device is lost; every later call fails with it. */
  lost?: string;
}

const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
] as const;

/** Open an adapter and a device with the highest limits it offers; null with a reason when there is none. */
export async function openContext(tc: TensorCoresMode = 'auto'): Promise<{ ctx: GpuContext } | { reason: string }> {
  const got = await acquireGPU(tc);
  if ('reason' in got) return got;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await got.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { reason: `requestAdapter failed: ${(e as Error)?.message ?? e}; ${noAdapterHint()}` };
  }
  if (!adapter) return { reason: noAdapterHint() };
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const features: GPUFeatureName[] = [];
  const sgMin = (info as unknown as { subgroupMinSize?: number })?.subgroupMinSize ?? 0;
  const sgMax = (info as unknown as { subgroupMaxSize?: number })?.subgroupMaxSize ?? 0;
  const useSubgroups = adapter.features.has('subgroups' as GPUFeatureName) && sgMin >= 4 && !process_env('FLASHATTN_WEBGPU_NO_SUBGROUPS');
  if (useSubgroups) features.push('subgroups' as GPUFeatureName);
  const timestamps = adapter.features.has('timestamp-query');
  if (timestamps) features.push('timestamp-query');
  const desc = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(' ') || 'unknown adapter';
  const tcWhy = tensorCoresWhyNot(tc, adapter, useSubgroups, sgMin, sgMax, desc);
  if (tcWhy === undefined) features.push('chromium-experimental-subgroup-matrix' as GPUFeatureName);
  // shader-f16 wherever offered: the tensor-core path needs it, and its kernels' logic is tested without subgroup
  // matrices on adapters that have it (test/tc-emulated-suite.ts); the other kernels do not use it.
  if (adapter.features.has('shader-f16')) features.push('shader-f16');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    return { reason: `requestDevice failed: ${(e as Error)?.message ?? e}` };
  }
  const l = device.limits;
  const limits: GpuLimits = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
  };
  const ctx: GpuContext = { device, keepAlive: [got.gpu, adapter], limits, subgroupMinSize: useSubgroups ? sgMin : 0, timestamps, tensorCores: tcWhy === undefined, tensorCoresAuto: tc === 'auto', ...(tcWhy ? { tensorCoresReason: tcWhy } : {}), description: desc };
  void device.lost.then((li) => {
    ctx.lost = `${li.reason}: ${li.message}`;
  });
  device.addEventListener?.('uncapturederror', (ev: Event) => {
    // Errors outside our scopes: kept for the next call to report rather than printed by the runtime.
    lastUncaptured = (ev as GPUUncapturedErrorEvent).error?.message ?? 'unknown';
  });
  return { ctx };
}

let lastUncaptured: string | undefined;

/** Whether to use the tensor-core forward: 'auto' (where verified: NVIDIA adapters that have the features), on, off. */
export type TensorCoresMode = 'auto' | 'on' | 'off';

/**
 * The tensor-core forward's mode: the backend option `tensorCores` (true, false, 'auto') where given, else
 * FLASHATTN_WEBGPU_TENSOR_CORES ('1' on, '0' off, 'auto' / unset / '' auto).
 * 'auto' (the default since session 12) uses it on NVIDIA adapters only, where it was measured: on the H100 it passed
 * the full grid (648/648, worst 0.76 of the bound, run 138) and stayed within 0.61 of the bound on f32 inputs with
 * rows at spread magnitudes (48 draws, run 137). Under 'auto', f32 forwards that return the LSE (the forward before a
 * backward) keep the SIMT kernel: its row statistics let the backward skip its stats pass, which after a tensor-core
 * forward costs more than the tensor cores save (H100 d128 4k forward+backward: 13.9 against 14.4 TFLOP/s, run 135).
 * Anything else is a ValidationError naming the option or the variable (the backend's constructor asks first).
 */
export function tensorCoresMode(opt?: unknown): TensorCoresMode {
  if (opt !== undefined) {
    if (opt === true || opt === false || opt === 'auto') return opt === 'auto' ? 'auto' : opt ? 'on' : 'off';
    throw new ValidationError('tensorCores', "true, false or 'auto'", opt);
  }
  const v = process_env('FLASHATTN_WEBGPU_TENSOR_CORES');
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === '1' || v === '0') return v === '1' ? 'on' : 'off';
  throw new ValidationError('FLASHATTN_WEBGPU_TENSOR_CORES', "'1' (tensor-core forward on), '0' (off) or 'auto' / unset (on NVIDIA adapters)", v);
}

/** Why the tensor-core forward is not used in this mode on this adapter (undefined: it is). */
export function tensorCoresWhyNot(mode: TensorCoresMode, adapter: GPUAdapter, subgroups: boolean, sgMin: number, sgMax: number, desc: string): string | undefined {
  if (mode === 'off') return 'off (FLASHATTN_WEBGPU_TENSOR_CORES=0 or tensorCores: false)';
  const missing = tensorCoresMissing(adapter, subgroups, sgMin, sgMax);
  if (missing !== undefined || mode === 'on' || /nvidia/i.test(desc)) return missing;
  return `auto: on NVIDIA adapters only, where it was verified (this is ${desc}; FLASHATTN_WEBGPU_TENSOR_CORES=1 or tensorCores: true to try it)`;
}

/** Why this adapter cannot run the tensor-core forward (undefined: it can). */
export function tensorCoresMissing(adapter: GPUAdapter, subgroups: boolean, sgMin: number, sgMax: number): string | undefined {
  if (!subgroups) return 'no subgroups';
  if (!adapter.features.has('shader-f16')) return 'no shader-f16 (on NVIDIA, Dawn needs its vulkan_enable_f16_on_nvidia toggle)';
  if (!adapter.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName)) return 'no subgroup matrices (chromium-experimental-subgroup-matrix; Dawn needs allow_unsafe_apis)';
  const info = (adapter as GPUAdapter & { info?: { subgroupMatrixConfigs?: { componentType: string; resultComponentType: string; M: number; N: number; K: number }[] } }).info;
  const ok = (info?.subgroupMatrixConfigs ?? []).some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && c.N === 16 && c.K === 16);
  if (!ok) return 'no f16 x f16 -> f32 16x16x16 subgroup-matrix configuration';
  // The kernel hands matrix jobs to subgroups as t / 32: every subgroup must be exactly 32 invocations.
  if (sgMin !== 32 || sgMax !== 32) return `subgroup size ${sgMin}..${sgMax}: the tensor-core forward needs exactly 32`;
  return undefined;
}

function process_env(name: string): string | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env: { get(n: string): string | undefined } } };
  try {
    return g.process?.env?.[name] ?? g.Deno?.env.get(name);
  } catch {
    return undefined;
  }
}
export { process_env as envVar };

export function assertAlive(ctx: GpuContext): void {
  if (ctx.lost !== undefined) throw new DeviceError(BACKEND, 'device-lost', ctx.lost);
}

/**
 * Run `fn` (which records GPU work) inside out-of-memory and validation error scopes; turn what they catch into
 * typed errors. `fn` may be async (e.g. waits for the queue); device loss while waiting rejects instead of hanging.
 */
export async function scoped<T>(ctx: GpuContext, what: string, fn: () => T | Promise<T>): Promise<T> {
  assertAlive(ctx);
  const d = ctx.device;
  d.pushErrorScope('out-of-memory');
  d.pushErrorScope('validation');
  d.pushErrorScope('internal');
  let result: T | undefined;
  let thrown: unknown;
  try {
    result = await fn();
  } catch (e) {
    thrown = e;
  }
  const internal = await d.popErrorScope();
  const validation = await d.popErrorScope();
  const oom = await d.popErrorScope();
  if (oom) throw new DeviceOutOfMemoryError(BACKEND, 'out-of-memory', `${what}: ${oom.message}`);
  if (validation) throw new DeviceError(BACKEND, 'validation', `${what}: ${validation.message}`);
  if (internal) throw new DeviceError(BACKEND, 'internal', `${what}: ${internal.message}`);
  if (thrown !== undefined) {
    if (thrown instanceof DeviceError) throw thrown;
    if (ctx.lost !== undefined) throw new DeviceError(BACKEND, 'device-lost', `${what}: ${ctx.lost}`);
    if (thrown instanceof RangeError) throw new DeviceOutOfMemoryError(BACKEND, 'out-of-memory', `${what}: ${thrown.message}`);
    throw new DeviceError(BACKEND, 'operation-failed', `${what}: ${(thrown as Error)?.message ?? thrown}`);
  }
  if (lastUncaptured !== undefined) {
    const m = lastUncaptured;
    lastUncaptured = undefined;
    throw new DeviceError(BACKEND, 'uncaptured', `${what}: ${m}`);
  }
  return result as T;
}

/** Wait for the queue, failing (not hanging) if the device is lost meanwhile. */
export async function queueDone(ctx: GpuContext): Promise<void> {
  assertAlive(ctx);
  await Promise.race([
    ctx.device.queue.onSubmittedWorkDone(),
    ctx.device.lost.then((li) => {
      throw new DeviceError(BACKEND, 'device-lost', `${li.reason}: ${li.message}`);
    }),
  ]);
}
