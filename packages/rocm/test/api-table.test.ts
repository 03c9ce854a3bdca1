import { describe, expect, it } from 'vitest';
import { API_TABLE, LAUNCH_PARAM, symbolsOf } from '../src/gpu/api-table.js';

describe('hip* <-> cu* table', () => {
  it('gives every HIP call a CUDA twin, except those CUDA does differently (gcnArchName, implicit context)', () => {
    const hipOnly = Object.entries(API_TABLE).filter(([, e]) => e.hip && !e.cuda).map(([k]) => k).sort();
    const cudaOnly = Object.entries(API_TABLE).filter(([, e]) => e.cuda && !e.hip).map(([k]) => k).sort();
    expect(hipOnly).toEqual(['getDeviceProperties', 'setDevice']);
    expect(cudaOnly).toEqual(['ctxRetain', 'ctxSetCurrent']);
  });

  it('binds the launch, memory, stream and event symbols the issue names', () => {
    const hip = Object.keys(symbolsOf('hip'));
    const cuda = Object.keys(symbolsOf('cuda'));
    for (const s of ['hipGetDeviceCount', 'hipModuleLoadData', 'hipModuleGetFunction', 'hipModuleLaunchKernel', 'hipMalloc', 'hipFree',
      'hipMemcpyHtoD', 'hipMemcpyDtoH', 'hipMemsetD8', 'hipStreamCreate', 'hipStreamSynchronize', 'hipEventCreate', 'hipEventRecord',
      'hipEventSynchronize', 'hipEventElapsedTime', 'hipGetErrorName', 'hipModuleUnload']) expect(hip).toContain(s);
    for (const s of ['cuInit', 'cuDeviceGet', 'cuDevicePrimaryCtxRetain', 'cuCtxSetCurrent', 'cuModuleLoadData', 'cuModuleGetFunction',
      'cuLaunchKernel', 'cuMemAlloc_v2', 'cuMemFree_v2', 'cuMemcpyHtoD_v2', 'cuMemcpyDtoH_v2', 'cuMemsetD8_v2', 'cuStreamCreate',
      'cuStreamSynchronize', 'cuEventCreate', 'cuEventRecord', 'cuEventSynchronize', 'cuEventElapsedTime', 'cuGetErrorName']) expect(cuda).toContain(s);
    expect(Object.keys(symbolsOf('hip', true))).toEqual(['hipGetDeviceProperties']);
  });

  it('launch signatures match argument for argument (f, grid, block, shared, stream, params, extra)', () => {
    expect(API_TABLE.launchKernel.hip!.sig).toEqual(API_TABLE.launchKernel.cuda!.sig);
    expect(API_TABLE.launchKernel.hip!.sig.args).toHaveLength(11);
    // HIP ends `extra` with 0x03, CUDA with 0x00 (CU_LAUNCH_PARAM_END); the buffer markers agree.
    expect(LAUNCH_PARAM.hip.end).toBe(3n);
    expect(LAUNCH_PARAM.cuda.end).toBe(0n);
    expect(LAUNCH_PARAM.hip.bufferPointer).toBe(LAUNCH_PARAM.cuda.bufferPointer);
  });
});
