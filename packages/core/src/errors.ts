/** Every error the library raises derives from FlashAttnError, so callers can catch one type. */
export class FlashAttnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(length ${(v as unknown as ArrayLike<unknown>).length})`;
  try { return JSON.stringify(v); } catch { return String(v); }
}

/** Malformed input: names the field, what was expected and what was got. */
export class ValidationError extends FlashAttnError {
  constructor(readonly field: string, readonly expected: string, readonly got: unknown) {
    super(`${field}: expected ${expected}, got ${show(got)}`);
  }
}

/** A backend cannot run on this machine (no driver, no adapter, no addon...). */
export class BackendUnavailableError extends FlashAttnError {
  constructor(readonly backend: string, readonly reason: string) {
    super(`backend ${backend} is unavailable: ${reason}`);
  }
}

/** A backend is available but cannot run this problem; reasons are PyTorch-SDPA-style sentences. */
export class UnsupportedProblemError extends FlashAttnError {
  constructor(readonly backend: string, readonly reasons: readonly string[]) {
    super(`backend ${backend} cannot run this problem: ${reasons.join('; ')}`);
  }
}

/** No registered backend is available and accepts the problem; lists why each was skipped. */
export class NoBackendError extends FlashAttnError {
  constructor(readonly skipped: readonly { name: string; reasons: readonly string[] }[]) {
    super(
      `no backend can run this problem: ${skipped.map((s) => `${s.name} (${s.reasons.join('; ')})`).join(', ') || 'none registered'}`,
    );
  }
}

/** An error reported by a device runtime (CUDA, HIP, WebGPU). `code` is the runtime's own name for it. */
export class DeviceError extends FlashAttnError {
  constructor(readonly backend: string, readonly code: string, detail: string) {
    super(`${backend}: ${code}: ${detail}`);
  }
}

/** The device ran out of memory. The process stays usable; free tensors and retry smaller. */
export class DeviceOutOfMemoryError extends DeviceError {}

/** A device tensor was used after dispose(), or on another backend than the one that made it. */
export class TensorStateError extends FlashAttnError {}
