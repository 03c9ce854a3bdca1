import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpyF32, NpyError, parseNpy } from '../src/npy.js';
import { f64Body, npyBytes, pythonWithNumpy, tempDir } from './helpers.js';

function errorOf(f: () => unknown): NpyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NpyError);
    return e as NpyError;
  }
  throw new Error('expected an NpyError, nothing was thrown');
}

describe('npy reader/writer', () => {
  it('round-trips float32 through encodeNpyF32 and parseNpy (shape, values, 64-byte aligned header)', () => {
    const data = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => Math.fround(Math.sin(i) * 7 - i / 3));
    const bytes = encodeNpyF32([2, 3, 5], data);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0);
    expect(bytes[10 + headerLen - 1]).toBe(0x0a);
    const a = parseNpy(bytes, 'x.npy');
    expect(a.shape).toEqual([2, 3, 5]);
    expect(a.descr).toBe('<f4');
    expect(Array.from(a.data)).toEqual(Array.from(data));
    const one = parseNpy(encodeNpyF32([4], [1, 2, 3, 4]), 'v.npy');
    expect(one.shape).toEqual([4]);
  });

  it('reads float64 (version 1 and 2 headers) and float16 exactly', () => {
    const vals = [0.1, -2.5, 1e-300, 3.141592653589793, -0, 65504];
    const a = parseNpy(npyBytes('<f8', [2, 3], f64Body(vals)), 'a.npy');
    expect(Array.from(a.data)).toEqual(vals);
    const b = parseNpy(npyBytes('<f8', [3, 2], f64Body(vals), { version: 2 }), 'b.npy');
    expect(b.shape).toEqual([3, 2]);
    // float16 bit patterns: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal)
    const h = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]).buffer);
    expect(Array.from(parseNpy(npyBytes('<f2', [4], h), 'h.npy').data)).toEqual([1, -2, 65504, 2 ** -24]);
  });

  it('names the file and the defect: truncated data', () => {
    const e = errorOf(() => parseNpy(npyBytes('<f4', [2, 3], new Uint8Array(20)), 'q.npy'));
    expect(e.message).toBe('q.npy: truncated data: shape (2, 3) of float32 needs 24 bytes, the file has 20');
  });

  it('names the file and the defect: truncated header', () => {
    const full = npyBytes('<f4', [2], new Uint8Array(8));
    const e = errorOf(() => parseNpy(full.subarray(0, 40), 'k.npy'));
    expect(e.message).toMatch(/^k\.npy: truncated header: it declares \d+ bytes/);
  });

  it('names the file and the defect: wrong dtype (int64, big-endian float32)', () => {
    const e = errorOf(() => parseNpy(npyBytes('<i8', [2], new Uint8Array(16)), 'v.npy'));
    expect(e.message).toBe(`v.npy: wrong dtype: expected little-endian float32, float16 or float64 ('<f4', '<f2', '<f8'), got int64 ("<i8")`);
    const be = errorOf(() => parseNpy(npyBytes('>f4', [2], new Uint8Array(8)), 'v.npy'));
    expect(be.message).toContain('got big-endian float32 (">f4")');
  });

  it('names the file and the defect: Fortran order', () => {
    const e = errorOf(() => parseNpy(npyBytes('<f4', [2, 2], new Uint8Array(16), { fortran: true }), 'dout.npy'));
    expect(e.message).toBe('dout.npy: Fortran-order (column-major) array; expected C order (save np.ascontiguousarray(x))');
  });

  it('names the file and the defect: not a .npy file, extra bytes', () => {
    expect(errorOf(() => parseNpy(new TextEncoder().encode('hello world, not numpy'), 'x.txt')).message).toBe(
      'x.txt: not a .npy file (missing the \\x93NUMPY magic)',
    );
    const e = errorOf(() => parseNpy(npyBytes('<f4', [1], new Uint8Array(8)), 'big.npy'));
    expect(e.message).toBe('big.npy: 4 unexpected bytes after the data of shape (1) float32');
  });

  const py = pythonWithNumpy();
  it.skipIf(!py && !process.env.CI)('agrees with NumPy both ways (np.save f2/f4/f8 -> parseNpy; encodeNpyF32 -> np.load)', () => {
    expect(py, 'python3 with numpy is required under CI (scripts/test.sh installs python3-numpy)').toBeDefined();
    const dir = tempDir();
    const ours = join(dir, 'ours.npy');
    writeFileSync(ours, encodeNpyF32([3, 4], Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1)));
    const script = `
import numpy as np, sys
d = sys.argv[1]
x = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7 - 1
for t in ('f2', 'f4', 'f8'):
    np.save(d + '/np_' + t + '.npy', x.astype('<' + t))
y = np.load(d + '/ours.npy')
assert y.dtype == np.float32 and y.shape == (3, 4), (y.dtype, y.shape)
assert np.array_equal(y, (np.arange(12, dtype=np.float32) * 0.25 - 1).reshape(3, 4))
print('ok')
`;
    const r = spawnSync(py!, ['-c', script, dir], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
    const want = Array.from({ length: 24 }, (_, i) => i / 7 - 1);
    for (const [t, round] of [['f8', (x: number) => x], ['f4', Math.fround], ['f2', undefined]] as const) {
      const a = parseNpy(readFileSync(join(dir, `np_${t}.npy`)), `np_${t}.npy`);
      expect(a.shape).toEqual([2, 3, 4]);
      expect(a.descr).toBe(`<${t}`);
      a.data.forEach((v, i) => {
        if (round) expect(v).toBe(round(want[i]!));
        else expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -11 + 2 ** -25);
      });
    }
  });
});
