import type { DType, HostArray } from './dtype.js';
import type { Problem } from './problem.js';

/** What probe() finds: available with a device description, or unavailable with a reason a person can act on. */
export type Availability =
  | { readonly available: true; readonly device: string; readonly details?: Readonly<Record<string, unknown>> }
  | { readonly available: false; readonly reason: string };

/** Problem features a backend may or may not implement. */
export type Feature = 'causal' | 'window' | 'softcap' | 'gqa' | 'varlen' | 'lse' | 'backward' | 'headDimV' | 'deviceTensors';

export interface Capabilities {
  readonly dtypes: readonly DType[];
  readonly features: readonly Feature[];
  readonly maxHeadDim: number;
  /** Free-form notes shown by `flashattn backends` (e.g. architectures carried, f32 path). */
  readonly notes?: readonly string[];
}

export interface AttentionInputs {
  readonly q: HostArray;
  readonly k: HostArray;
  readonly v: HostArray;
}

export interface ForwardResult {
  /** Same dtype as the inputs; shape tensorShapes(p).out. */
  readonly out: HostArray;
  /** float32, lseLayout(p); present iff p.returnLse. -Infinity for rows that see no key. */
  readonly lse?: Float32Array;
}

export interface BackwardInputs extends AttentionInputs {
  readonly out: HostArray;
  readonly dout: HostArray;
  readonly lse: Float32Array;
}

export interface BackwardResult {
  /** Same dtype as the inputs, shaped like q, k, v. */
  readonly dq: HostArray;
  readonly dk: HostArray;
  readonly dv: HostArray;
}

export interface RunOptions {
  /** Gradients bit-identical across runs (no atomics ordering effects). */
  readonly deterministic?: boolean;
}

/** A tensor resident on a backend's device. Dispose it when done; a finalizer is only a safety net. */
export interface DeviceTensor {
  readonly backend: string;
  readonly dtype: DType | 'f32';
  readonly length: number;
  readonly disposed: boolean;
  dispose(): void;
}

export interface DeviceForwardResult {
  readonly out: DeviceTensor;
  readonly lse?: DeviceTensor;
}

export interface DeviceBackwardResult {
  readonly dq: DeviceTensor;
  readonly dk: DeviceTensor;
  readonly dv: DeviceTensor;
}

/** Upload once, run many, download, dispose. Implemented by GPU backends. */
export interface DeviceTensorOps {
  upload(data: HostArray | Float32Array, dtype: DType): Promise<DeviceTensor>;
  download(t: DeviceTensor): Promise<HostArray>;
  forwardDevice(p: Problem, q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, opts?: RunOptions): Promise<DeviceForwardResult>;
  backwardDevice(
    p: Problem,
    t: { q: DeviceTensor; k: DeviceTensor; v: DeviceTensor; out: DeviceTensor; dout: DeviceTensor; lse: DeviceTensor },
    opts?: RunOptions,
  ): Promise<DeviceBackwardResult>;
}

/**
 * A backend: one implementation of tiled online-softmax attention. Core knows no backend; each package exports
 * a factory that returns one of these, and the registry composes them.
 */
export interface Backend {
  readonly name: string;
  /** Find out whether this machine can run the backend. Cheap to call twice (cache inside). Never throws. */
  probe(): Promise<Availability>;
  capabilities(): Capabilities;
  /** Reasons this backend cannot run the problem (empty = accepted), e.g. "headDim 320 > 256 supported by cuda". */
  check(p: Problem): string[];
  forward(p: Problem, inputs: AttentionInputs, opts?: RunOptions): Promise<ForwardResult>;
  backward(p: Problem, inputs: BackwardInputs, opts?: RunOptions): Promise<BackwardResult>;
  /** Present on backends with device-resident tensors. */
  readonly device?: DeviceTensorOps;
  /** Release device, workers, handles. */
  dispose?(): Promise<void>;
}
