import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNpy } from '../src/npy.js';
import { cli, cliBuilt, f64Body, npyBytes, pythonWithNumpy, tempDir } from './helpers.js';

beforeAll(cliBuilt);

// Standard attention in NumPy float64, forward and backward, written independently of the library:
// GQA by repeating K/V heads, bottom-right causal/window mask, tanh softcap, fully-masked rows -> 0 and lse -inf.
const NUMPY_ATTENTION = String.raw`
import json, os, sys
import numpy as np
d, cfg = sys.argv[1], json.loads(sys.argv[2])
q, k, v = (np.load(os.path.join(d, n + '.npy')).astype(np.float64) for n in ('q', 'k', 'v'))
b, sq, hq, D = q.shape
sk, hk = k.shape[1], k.shape[2]
g = hq // hk
scale = cfg.get('scale') or 1 / np.sqrt(D)
qh = q.transpose(0, 2, 1, 3)
kh = np.repeat(k, g, axis=2).transpose(0, 2, 1, 3)
vh = np.repeat(v, g, axis=2).transpose(0, 2, 1, 3)
S = scale * qh @ kh.transpose(0, 1, 3, 2)
cap = cfg.get('softcap', 0)
T = np.tanh(S / cap) if cap > 0 else None
S2 = cap * T if cap > 0 else S
left, right = cfg.get('window', [-1, -1])
if cfg.get('causal'):
    right = 0
i = np.arange(sq)[:, None]
j = np.arange(sk)[None, :]
diag = i + sk - sq
mask = np.ones((sq, sk), dtype=bool)
if left >= 0:
    mask &= j >= diag - left
if right >= 0:
    mask &= j <= diag + right
S2 = np.where(mask, S2, -np.inf)
m = S2.max(-1, keepdims=True)
m = np.where(np.isfinite(m), m, 0)
P = np.exp(S2 - m)
l = P.sum(-1, keepdims=True)
lse = np.where(l[..., 0] > 0, np.log(np.where(l > 0, l, 1))[..., 0] + m[..., 0], -np.inf)
P = np.where(l > 0, P / np.where(l > 0, l, 1), 0)
O = P @ vh
np.save(os.path.join(d, 'want_out.npy'), O.transpose(0, 2, 1, 3))
np.save(os.path.join(d, 'want_lse.npy'), lse)
if os.path.exists(os.path.join(d, 'dout.npy')):
    dO = np.load(os.path.join(d, 'dout.npy')).astype(np.float64).transpose(0, 2, 1, 3)
    dV = P.transpose(0, 1, 3, 2) @ dO
    dP = dO @ vh.transpose(0, 1, 3, 2)
    dS = P * (dP - (dO * O).sum(-1, keepdims=True))
    if cap > 0:
        dS = dS * (1 - T * T)
    dQ = scale * dS @ kh
    dK = scale * dS.transpose(0, 1, 3, 2) @ qh
    group = lambda x: x.reshape(b, hk, g, sk, x.shape[-1]).sum(2).transpose(0, 2, 1, 3)
    np.save(os.path.join(d, 'want_dq.npy'), dQ.transpose(0, 2, 1, 3))
    np.save(os.path.join(d, 'want_dk.npy'), group(dK))
    np.save(os.path.join(d, 'want_dv.npy'), group(dV))
print('ok')
`;

function randn(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

function save(dir: string, name: string, shape: number[], seed: number): void {
  writeFileSync(join(dir, `${name}.npy`), npyBytes('<f8', shape, f64Body(randn(shape.reduce((a, b) => a * b, 1), seed))));
}

function load(dir: string, name: string) {
  return parseNpy(readFileSync(join(dir, `${name}.npy`)), name);
}

/** Max |got - want| with -inf required to match exactly. */
function maxErr(got: Float64Array, want: Float64Array): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    if (want[i] === -Infinity || got[i] === -Infinity) {
      expect(got[i], `element ${i}`).toBe(want[i]);
      continue;
    }
    m = Math.max(m, Math.abs(got[i]! - want[i]!));
  }
  return m;
}

const py = pythonWithNumpy();

describe('flashattn run vs NumPy float64 attention', () => {
  const cases = [
    {
      name: 'causal GQA, forward and backward',
      shapes: { b: 2, sq: 37, sk: 53, hq: 4, hk: 2, d: 16, dv: 16 },
      flags: ['--causal'], cfg: { causal: true },
    },
    {
      name: 'window + softcap + scale, MQA, headDimV != headDim, rows that see no key',
      shapes: { b: 1, sq: 48, sk: 30, hq: 3, hk: 1, d: 16, dv: 24 },
      flags: ['--window', '5,3', '--softcap', '1.5', '--scale', '0.4'], cfg: { window: [5, 3], softcap: 1.5, scale: 0.4 },
    },
  ];
  for (const c of cases) {
    it.skipIf(!py && !process.env.CI)(c.name, () => {
      expect(py, 'python3 with numpy is required under CI (scripts/test.sh installs python3-numpy)').toBeDefined();
      const { b, sq, sk, hq, hk, d, dv } = c.shapes;
      const dir = tempDir();
      save(dir, 'q', [b, sq, hq, d], 1);
      save(dir, 'k', [b, sk, hk, d], 2);
      save(dir, 'v', [b, sk, hk, dv], 3);
      save(dir, 'dout', [b, sq, hq, dv], 4);
      const p = (n: string) => join(dir, `${n}.npy`);
      const r = cli(['run', '--q', p('q'), '--k', p('k'), '--v', p('v'), '--backend', 'reference', ...c.flags,
        '--out', p('out'), '--lse', p('lse'), '--dout', p('dout'), '--dq', p('dq'), '--dk', p('dk'), '--dv', p('dv')]);
      expect(r.code, r.stderr).toBe(0);
      const np = spawnSync(py!, ['-c', NUMPY_ATTENTION, dir, JSON.stringify(c.cfg)], { encoding: 'utf8' });
      expect(np.stdout.trim(), np.stderr).toBe('ok');

      const out = load(dir, 'out');
      expect(out.descr).toBe('<f4');
      expect(out.shape).toEqual([b, sq, hq, dv]);
      const lse = load(dir, 'lse');
      expect(lse.shape).toEqual([b, hq, sq]);
      // Computed in f32 from inputs rounded to f32: agreement to ~1e-6 on O(1) values.
      expect(maxErr(out.data, load(dir, 'want_out').data)).toBeLessThan(2e-5);
      expect(maxErr(lse.data, load(dir, 'want_lse').data)).toBeLessThan(2e-5);
      for (const g of ['dq', 'dk', 'dv']) {
        const got = load(dir, g);
        const want = load(dir, `want_${g}`);
        expect(got.shape).toEqual(want.shape);
        expect(maxErr(got.data, want.data), g).toBeLessThan(1e-4);
      }
      if (c.cfg.window) {
        // Rows i < 15 see no key here: flash-attn's convention is zeros and lse = -inf.
        expect(lse.data[0]).toBe(-Infinity);
        expect(out.data.subarray(0, hq * dv).every((x) => x === 0)).toBe(true);
      }
    });
  }

  it('rejects bad input files with the file named', () => {
    const dir = tempDir();
    save(dir, 'q', [2, 8, 2, 8], 1);
    save(dir, 'k', [2, 8, 2, 8], 2);
    save(dir, 'v3', [2, 8, 16], 3);
    save(dir, 'kbad', [2, 8, 2, 4], 4);
    writeFileSync(join(dir, 'kint.npy'), npyBytes('<i4', [2, 8, 2, 8], new Uint8Array(2 * 8 * 2 * 8 * 4)));
    const p = (n: string) => join(dir, `${n}.npy`);
    const one = (args: string[]) => {
      const r = cli(['run', ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      return r.stderr.trim();
    };
    expect(one(['--q', p('q'), '--k', p('k'), '--v', p('v3')])).toBe(
      `flashattn: ${p('v3')}: wrong rank: v must be rank 4 [batch, seqlenK, nheadsKV, headDimV], got shape (2, 8, 16)`,
    );
    expect(one(['--q', p('q'), '--k', p('kbad'), '--v', p('k')])).toBe(
      `flashattn: ${p('kbad')}: shape (2, 8, 2, 4) does not fit: k must be [batch, seqlenK, nheadsKV, headDim] = (2, 8, 2, 8) (batch 2 and headDim 8 from ${p('q')})`,
    );
    expect(one(['--q', p('q'), '--k', p('kint'), '--v', p('k')])).toMatch(new RegExp(`^flashattn: ${p('kint')}: wrong dtype: .* got int32`));
  });
});
