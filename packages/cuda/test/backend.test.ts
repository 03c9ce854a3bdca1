import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, makeProblem, ValidationError } from '@flashattn/core';
import { createCudaBackend } from '../src/index.js';
import { availabilityFrom } from '../src/probe-reason.js';
import { toFlashAttnError } from '../src/cuda-errors.js';
import { launchParams } from '../src/launch-params.js';

describe('cuda check()', () => {
  const cuda = createCudaBackend();
  it('rejects head dims that are not multiples of 8, SDPA style', () => {
    const p = makeProblem({ batch: 1, seqlenQ: 4, seqlenK: 4, nheadsQ: 1, headDim: 59, headDimV: 60, dtype: 'f16' });
    expect(cuda.check(p)).toEqual(['headDim 59 is not a multiple of 8 (cuda)', 'headDimV 60 is not a multiple of 8 (cuda)']);
  });
  it('accepts every feature the kernels implement', () => {
    for (const dtype of ['f16', 'bf16', 'f32'] as const) {
      const p = makeProblem({
        batch: 2, seqlenQ: 7, seqlenK: 9, nheadsQ: 4, nheadsKV: 2, headDim: 256, headDimV: 64, dtype, causal: true,
        window: [3, 0], softcap: 5, cuSeqlensQ: [0, 3, 10], cuSeqlensK: [0, 9, 11], returnLse: true,
      });
      expect(cuda.check(p)).toEqual([]);
    }
  });
  it('advertises its capabilities', () => {
    const c = cuda.capabilities();
    expect(c.maxHeadDim).toBe(256);
    expect(c.features).toContain('deviceTensors');
    expect(c.dtypes).toEqual(['f16', 'bf16', 'f32']);
  });
});

describe('launch parameters', () => {
  it('fill FlashFwdParams fields from the problem (varlen lse layout, real max lengths, normalized window)', () => {
    const p = makeProblem({
      batch: 2, seqlenQ: 10, seqlenK: 12, nheadsQ: 4, nheadsKV: 2, headDim: 64, dtype: 'bf16', causal: true,
      cuSeqlensQ: [0, 3, 7], cuSeqlensK: [0, 5, 16], scale: 0.25, softcap: 3,
    });
    const lp = launchParams(p);
    expect(lp).toMatchObject({
      batch: 2, hQ: 4, hKV: 2, dQK: 64, dV: 64, maxSeqlenQ: 4, maxSeqlenK: 11, totalQ: 7, totalK: 16,
      lseBatchStride: 0, lseHeadStride: 7, lseVarlenRows: 1, scale: 0.25, softcap: 3, windowLeft: -1, windowRight: 0, dtype: 2,
    });
    expect(launchParams(p)).toBe(lp);
    const d = launchParams(makeProblem({ batch: 3, seqlenQ: 5, seqlenK: 6, nheadsQ: 2, headDim: 8, dtype: 'f32' }));
    expect(d).toMatchObject({ lseBatchStride: 10, lseHeadStride: 5, lseVarlenRows: 0, windowLeft: -1, windowRight: -1, dtype: 0 });
    expect([...d.cuSeqlensK]).toEqual([0, 6, 12, 18]);
  });
});

describe('probe reasons', () => {
  const base = { driverVersion: 0, runtimeVersion: 13000, kernelsLinked: true };
  it('names a missing driver, an old driver, a missing device, an old GPU and missing kernels', () => {
    expect(availabilityFrom({ ...base, ok: false, code: 'cudaErrorInsufficientDriver' })).toEqual({
      available: false, reason: 'no CUDA driver (libcuda.so.1 not found: install the NVIDIA driver)',
    });
    const old = availabilityFrom({ ...base, driverVersion: 12040, ok: false, code: 'cudaErrorInsufficientDriver' });
    expect(old.available === false && old.reason).toMatch(/^CUDA driver too old: it supports CUDA 12\.4, the addon needs CUDA 13\.0/);
    const none = availabilityFrom({ ...base, driverVersion: 13000, ok: false, code: 'cudaErrorNoDevice' });
    expect(none.available === false && none.reason).toMatch(/^no CUDA device/);
    const turing = availabilityFrom({ ...base, driverVersion: 13000, ok: true, name: 'T4', major: 7, minor: 5 });
    expect(turing.available === false && turing.reason).toMatch(/compute capability 7\.5; the cuda backend needs 8\.0/);
    const nok = availabilityFrom({ ...base, kernelsLinked: false, driverVersion: 13000, ok: true, name: 'H100', major: 9, minor: 0 });
    expect(nok.available === false && nok.reason).toMatch(/^addon built without the CUDA kernels/);
    const ok = availabilityFrom({ ...base, driverVersion: 13000, ok: true, name: 'NVIDIA H100', major: 9, minor: 0 });
    expect(ok.available && ok.device).toBe('NVIDIA H100 (sm_90), driver CUDA 13.0, runtime 13.0');
  });
});

describe('error mapping', () => {
  it('maps CUDA error names to typed errors', () => {
    const oom = Object.assign(new Error('cudaMalloc(1 bytes): out of memory'), { code: 'cudaErrorMemoryAllocation' });
    expect(toFlashAttnError(oom).name).toBe('DeviceOutOfMemoryError');
    const other = toFlashAttnError(Object.assign(new Error('x'), { code: 'cudaErrorIllegalAddress' }));
    expect(other.name).toBe('DeviceError');
    expect((other as { code?: string }).code).toBe('cudaErrorIllegalAddress');
    expect(toFlashAttnError(Object.assign(new Error('no kernel'), { code: 'ERR_UNSUPPORTED' })).name).toBe('UnsupportedProblemError');
    expect(toFlashAttnError(Object.assign(new Error('gone'), { code: 'ERR_DISPOSED' })).name).toBe('TensorStateError');
  });
});

describe('probe on this machine', async () => {
  const cuda = createCudaBackend();
  const a = await cuda.probe();
  it('answers without throwing, with a reason when unavailable', () => {
    if (a.available) expect(a.device).toMatch(/sm_\d+/);
    else expect(a.reason.length).toBeGreaterThan(10);
  });
  it.skipIf(a.available)('refuses to run with BackendUnavailableError carrying the probe reason', async () => {
    const p = makeProblem({ batch: 1, seqlenQ: 2, seqlenK: 2, nheadsQ: 1, headDim: 8, dtype: 'f32' });
    const x = new Float32Array(16).fill(1);
    await expect(cuda.forward(p, { q: x, k: x, v: x })).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(cuda.device.upload(x, 'f32')).rejects.toBeInstanceOf(BackendUnavailableError);
  });
  it('validates inputs before anything else', async () => {
    const p = makeProblem({ batch: 1, seqlenQ: 2, seqlenK: 2, nheadsQ: 1, headDim: 8, dtype: 'f16' });
    const x = new Float32Array(16);
    await expect(cuda.forward(p, { q: x, k: x, v: x })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('cuda check() grid limits', () => {
  it('rejects more than 65535 heads or sequences (kernel grid dimensions)', () => {
    const p = makeProblem({ batch: 70000, seqlenQ: 1, seqlenK: 1, nheadsQ: 1, headDim: 8, dtype: 'f16' });
    expect(createCudaBackend().check(p)).toEqual(['batch 70000 > 65535 supported by cuda (grid limit)']);
  });
});

describe('addon without a driver', async () => {
  const { loadAddon } = await import('../src/index.js');
  const l = loadAddon();
  const addon = 'addon' in l ? l.addon : undefined;
  const probe = addon?.probe();
  it.skipIf(!addon || probe?.ok)('throws coded errors (CUDA error names), never crashes', () => {
    expect(() => new addon!.DeviceBuffer(-1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new addon!.DeviceBuffer(16)).toThrow(expect.objectContaining({ code: probe!.code }));
    expect(() => addon!.memInfo()).toThrow(expect.objectContaining({ code: probe!.code }));
    expect(addon!.stats()).toMatchObject({ tensorBytes: 0, tensors: 0 });
  });
});
