/** The JS view of build/flashattn_cuda.node (csrc/addon/addon.cc). */

export interface AddonProbe {
  readonly ok: boolean;
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  readonly kernelsLinked: boolean;
  /** CUDA error name when !ok, e.g. "cudaErrorInsufficientDriver". */
  readonly code?: string;
  readonly message?: string;
  readonly deviceCount?: number;
  readonly name?: string;
  readonly major?: number;
  readonly minor?: number;
  readonly totalMemory?: number;
  readonly multiProcessors?: number;
}

export interface AddonBuffer {
  readonly bytes: number;
  readonly disposed: boolean;
  dispose(): void;
  upload(host: ArrayBufferView): Promise<void>;
  download(host: ArrayBufferView): Promise<void>;
}

export interface AddonTimer {
  start(): void;
  stop(): void;
  /** Milliseconds between start() and stop(), once the stream has reached stop(). */
  elapsed(): Promise<number>;
}

/** FlashFwdParams minus the pointers, as src/launch-params.ts builds it. */
export interface LaunchParams {
  readonly batch: number;
  readonly hQ: number;
  readonly hKV: number;
  readonly dQK: number;
  readonly dV: number;
  readonly maxSeqlenQ: number;
  readonly maxSeqlenK: number;
  readonly totalQ: number;
  readonly totalK: number;
  readonly lseBatchStride: number;
  readonly lseHeadStride: number;
  readonly lseVarlenRows: number;
  readonly scale: number;
  readonly softcap: number;
  readonly windowLeft: number;
  readonly windowRight: number;
  /** 0 f32, 1 f16, 2 bf16 (FlashDtype). */
  readonly dtype: number;
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  /** The scalars above in one array (what the addon reads; order in csrc/addon/attention_launch.cc). */
  readonly packed: Float64Array;
}

/** Bits of the `mode` argument of forward/backward. */
export const MODE_WAIT = 1;
/** Skip the NaN poisoning of outputs and scratch: benchmarks only (it would add memset time). */
export const MODE_NO_POISON = 2;

export interface PoolStats {
  /** Bytes held by live DeviceBuffers (what the user allocated and has not disposed). */
  readonly tensorBytes: number;
  readonly tensors: number;
  /** Bytes held internally right now (cached cu_seqlens, in-flight scratch). */
  readonly internalBytes: number;
  /** Bytes obtained from cudaMalloc (in use + cached). */
  readonly reservedBytes: number;
  readonly peakReservedBytes: number;
  readonly peakTensorBytes: number;
}

export interface CudaAddon {
  probe(): AddonProbe;
  readonly DeviceBuffer: new (bytes: number) => AddonBuffer;
  readonly Timer: new () => AddonTimer;
  forward(params: LaunchParams, q: AddonBuffer, k: AddonBuffer, v: AddonBuffer, out: AddonBuffer, lse: AddonBuffer | null, mode: number): Promise<void> | undefined;
  backward(
    params: LaunchParams, q: AddonBuffer, k: AddonBuffer, v: AddonBuffer, out: AddonBuffer, dout: AddonBuffer, lse: AddonBuffer,
    dq: AddonBuffer, dk: AddonBuffer, dv: AddonBuffer, deterministic: boolean, mode: number,
  ): Promise<void> | undefined;
  /** Resolves when everything queued so far has finished. */
  synchronize(): Promise<void>;
  memInfo(): { free: number; total: number };
  stats(): PoolStats;
  resetPeaks(): void;
  emptyCache(): void;
  /** How awaited work completes: 'thread' (a dedicated waiter thread, default) or 'worker' (Napi::AsyncWorker). */
  setCompletion(mode: 'worker' | 'thread'): void;
  readonly kernelsLinked: boolean;
  readonly buildInfo: { cudaRuntime: number; napiVersion: number };
}
