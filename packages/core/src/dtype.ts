/** Element types a problem can be computed in. 16-bit values travel as raw bit patterns in a Uint16Array. */
export type DType = 'f32' | 'f16' | 'bf16';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16'];

/** Host storage for a tensor of a dtype: Float32Array for f32, Uint16Array bit patterns for f16/bf16. */
export type HostArray = Float32Array | Uint16Array;

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function allocHost(dtype: DType, length: number): HostArray {
  return dtype === 'f32' ? new Float32Array(length) : new Uint16Array(length);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float -> IEEE binary16 bits, round to nearest even (handles subnormals, inf, NaN). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** float -> bfloat16 bits, round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return ((b >>> 16) | 0x40) & 0xffff;
  const r = b + 0x7fff + ((b >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Round a number to the nearest value representable in dtype (returned as a JS number). */
export function roundTo(dtype: DType, x: number): number {
  if (dtype === 'f32') return Math.fround(x);
  if (dtype === 'f16') return f16BitsToF32(f32ToF16Bits(x));
  return bf16BitsToF32(f32ToBf16Bits(x));
}

/** Decode host storage of a dtype into float64 values. */
export function toFloat64(dtype: DType, a: HostArray): Float64Array {
  const out = new Float64Array(a.length);
  if (dtype === 'f32') out.set(a as Float32Array);
  else if (dtype === 'f16') for (let i = 0; i < a.length; i++) out[i] = f16BitsToF32(a[i]!);
  else for (let i = 0; i < a.length; i++) out[i] = bf16BitsToF32(a[i]!);
  return out;
}

/** Decode host storage of a dtype into float32 values (exact for f16/bf16). */
export function toFloat32(dtype: DType, a: HostArray): Float32Array {
  if (dtype === 'f32') return a as Float32Array;
  const out = new Float32Array(a.length);
  if (dtype === 'f16') for (let i = 0; i < a.length; i++) out[i] = f16BitsToF32(a[i]!);
  else for (let i = 0; i < a.length; i++) out[i] = bf16BitsToF32(a[i]!);
  return out;
}

/** Encode float values into host storage of a dtype (rounding to nearest even). */
export function fromFloat(dtype: DType, a: ArrayLike<number>): HostArray {
  if (dtype === 'f32') return Float32Array.from(a);
  const out = new Uint16Array(a.length);
  const enc = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < a.length; i++) out[i] = enc(a[i]!);
  return out;
}
