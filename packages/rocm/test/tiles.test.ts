import { describe, expect, it } from 'vitest';
import { DTYPES } from '@flashattn/core';
import { SHARED_LIMIT, chooseTiles, sharedBytes } from '../src/tiles.js';

describe('tile choice', () => {
  it('fits 48 KiB for every head dim pair up to 256, every dtype and kernel', () => {
    for (const dtype of DTYPES)
      for (let d = 1; d <= 256; d += 17)
        for (const dv of [1, d, 64, 256])
          for (const kind of ['fwd', 'dq', 'dkv'] as const) {
            const t = chooseTiles(kind, d, dv, dtype);
            expect(t.shared).toBeLessThanOrEqual(SHARED_LIMIT);
            expect(t.shared).toBe(sharedBytes(kind, d, dv, t.BM, t.BN, dtype === 'f32' ? 8 : 4));
            expect(t.BM * t.BN).toBeGreaterThanOrEqual(8);
          }
  });

  it('uses wide tiles for small heads', () => {
    expect(chooseTiles('fwd', 64, 64, 'f16')).toMatchObject({ BM: 16, BN: 64 });
  });
});
