import { describe, expect, it } from 'vitest';
import { KernelArgs } from '../src/gpu/kernel-args.js';

describe('KernelArgs (packed launch parameters, C layout)', () => {
  it('aligns each argument to its size and stores little-endian values', () => {
    const a = new KernelArgs().ptr(0x1122334455667788n).i32(-5).f32(1.5).i32(7).i32(9).ptr(0xdeadbeefn);
    expect(a.layout.map((l) => l.offset)).toEqual([0, 8, 12, 16, 20, 24]);
    expect(a.size).toBe(32);
    const v = new DataView(a.bytes().buffer);
    expect(v.getBigUint64(0, true)).toBe(0x1122334455667788n);
    expect(v.getInt32(8, true)).toBe(-5);
    expect(v.getFloat32(12, true)).toBe(1.5);
    expect(v.getBigUint64(24, true)).toBe(0xdeadbeefn);
  });

  it('pads before a pointer that follows an odd number of 4-byte arguments', () => {
    const a = new KernelArgs().i32(1).ptr(2n).i32(3).f32(4).i32(5).ptr(6n);
    expect(a.layout.map((l) => l.offset)).toEqual([0, 8, 16, 20, 24, 32]);
    expect(a.size).toBe(40);
  });

  it('grows past its initial buffer and rejects non-int32 values', () => {
    const a = new KernelArgs();
    for (let i = 0; i < 100; i++) a.ptr(BigInt(i));
    expect(a.size).toBe(800);
    expect(new DataView(a.bytes().buffer).getBigUint64(99 * 8, true)).toBe(99n);
    expect(() => new KernelArgs().i32(2 ** 31)).toThrow(RangeError);
    expect(() => new KernelArgs().i32(1.5)).toThrow(RangeError);
  });
});
