import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundTo, Rng } from '../src/index.js';

describe('16-bit conversions', () => {
  it('round-trips every finite f16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) continue;
      const back = f32ToF16Bits(x);
      // -0 and +0 keep their sign bit
      expect(back).toBe(h);
    }
  });

  it('rounds to nearest even in f16', () => {
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1); // tie -> even (1.0)
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie -> even (up)
    expect(f16BitsToF32(f32ToF16Bits(65520))).toBe(Infinity);
    expect(f16BitsToF32(f32ToF16Bits(2 ** -25))).toBe(0); // tie below smallest subnormal -> 0
    expect(f16BitsToF32(f32ToF16Bits(3 * 2 ** -26))).toBe(2 ** -24);
  });

  it('round-trips bf16 and rounds to nearest even', () => {
    for (let h = 0; h < 0x10000; h += 7) {
      const x = bf16BitsToF32(h);
      if (!Number.isNaN(x)) expect(f32ToBf16Bits(x)).toBe(h);
    }
    expect(roundTo('bf16', 1 + 2 ** -8)).toBe(1);
    expect(roundTo('bf16', 1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });

  it('matches float32 rounding for f32', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const x = rng.normal();
      expect(roundTo('f32', x)).toBe(Math.fround(x));
    }
  });
});

describe('Rng', () => {
  it('is reproducible from its seed and roughly standard normal', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = a.normal();
      expect(b.normal()).toBe(x);
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.05);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    expect(new Rng(43).normal()).not.toBe(new Rng(42).normal());
  });
});
