import { afterEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '@flashattn/core';
import { BufferPool } from '../src/buffer-pool.js';
import { createWebGPUBackend } from '../src/index.js';

/** A stand-in for GPUDevice/GPUBuffer: the pool only creates, labels and destroys buffers. */
function fakeDevice() {
  const made: { size: number; usage: number; label: string; destroyed: boolean; destroy(): void }[] = [];
  const device = {
    createBuffer({ size, usage, label }: { size: number; usage: number; label: string }) {
      const b = { size, usage, label, destroyed: false, destroy() { this.destroyed = true; } };
      made.push(b);
      return b;
    },
  };
  return { device: device as unknown as GPUDevice, made };
}

describe('BufferPool', () => {
  it('reuses a released buffer of the same size and usage only', () => {
    const { device, made } = fakeDevice();
    const pool = new BufferPool(device, 1000);
    const a = pool.acquire(100, 0x80, 'a');
    pool.release(a);
    expect(pool.cachedBytes).toBe(100);
    expect(pool.acquire(100, 0x08, 'other usage')).not.toBe(a);
    expect(pool.acquire(200, 0x80, 'other size')).not.toBe(a);
    const again = pool.acquire(100, 0x80, 'again');
    expect(again).toBe(a);
    expect(again.label).toBe('again');
    expect(pool.cachedBytes).toBe(0);
    expect(made.length).toBe(3);
  });

  it('evicts the oldest past the cap, destroys what alone exceeds it, and trims', () => {
    const { device, made } = fakeDevice();
    const pool = new BufferPool(device, 250);
    const [a, b, c] = [pool.acquire(100, 1, 'a'), pool.acquire(100, 1, 'b'), pool.acquire(100, 1, 'c')];
    pool.release(a);
    pool.release(b);
    pool.release(c);
    expect(pool.cachedBytes).toBe(200);
    expect(made[0]!.destroyed).toBe(true);
    expect(made[1]!.destroyed || made[2]!.destroyed).toBe(false);
    const big = pool.acquire(300, 1, 'big');
    pool.release(big);
    expect(made[3]!.destroyed).toBe(true);
    pool.trim();
    expect(pool.cachedBytes).toBe(0);
    expect(made.every((m) => m.destroyed)).toBe(true);
  });

  it('with a cap of 0 keeps nothing', () => {
    const { device, made } = fakeDevice();
    const pool = new BufferPool(device, 0);
    pool.release(pool.acquire(4, 1, 'x'));
    expect(made[0]!.destroyed).toBe(true);
    expect(pool.cachedBytes).toBe(0);
  });
});

describe('pool size, binding cap and tile override settings', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('rejects a pool size that is not a number >= 0 with a typed error naming the option or the variable', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = catchIt(() => createWebGPUBackend({ poolMB: bad }));
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('poolMB');
    }
    for (const bad of ['lots', '', '-5', '1e999']) {
      vi.stubEnv('FLASHATTN_WEBGPU_POOL_MB', bad);
      const e = catchIt(() => createWebGPUBackend());
      expect(e, bad).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('FLASHATTN_WEBGPU_POOL_MB');
      expect((e as ValidationError).got).toBe(bad);
    }
    vi.stubEnv('FLASHATTN_WEBGPU_POOL_MB', '0');
    expect(() => createWebGPUBackend()).not.toThrow();
    vi.stubEnv('FLASHATTN_WEBGPU_POOL_MB', '512');
    expect(() => createWebGPUBackend({ poolMB: 0 })).not.toThrow();
  });

  it('rejects a binding cap that is not a positive whole number of bytes (a multiple of 4), naming the option', () => {
    for (const bad of [0, -8, 6, 1.5, Number.NaN]) {
      const e = catchIt(() => createWebGPUBackend({ maxBindingBytes: bad }));
      expect(e, String(bad)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('maxBindingBytes');
    }
    expect(() => createWebGPUBackend({ maxBindingBytes: 8192 })).not.toThrow();
  });

  it('rejects a tile override that is not JSON instead of ignoring it', () => {
    vi.stubEnv('FLASHATTN_WEBGPU_TILES', '{fwd: [48, 32]');
    const e = catchIt(() => createWebGPUBackend());
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).field).toBe('FLASHATTN_WEBGPU_TILES');
    vi.stubEnv('FLASHATTN_WEBGPU_TILES', '{"fwd":[48,32,3,2,false]}');
    expect(() => createWebGPUBackend()).not.toThrow();
  });

  it('rejects a misspelt code option or value of an override, naming it', () => {
    const cases: [string, string, unknown][] = [
      ['{"bwdOpts":{"dqUnroll":"score"}}', 'FLASHATTN_WEBGPU_TILES.bwdOpts.dqUnroll', 'score'],
      ['{"bwdOpts":{"dkvUnrol":true}}', 'FLASHATTN_WEBGPU_TILES.bwdOpts.dkvUnrol', 'dkvUnrol'],
      ['{"bwdOpts":{"dkvUnroll":1}}', 'FLASHATTN_WEBGPU_TILES.bwdOpts.dkvUnroll', 1],
      ['{"fwdOpts":{"pvfma":"yes"}}', 'FLASHATTN_WEBGPU_TILES.fwdOpts.pvfma', 'yes'],
      ['{"fwdOpts":[true]}', 'FLASHATTN_WEBGPU_TILES.fwdOpts', [true]],
    ];
    for (const [env, field, got] of cases) {
      vi.stubEnv('FLASHATTN_WEBGPU_TILES', env);
      const e = catchIt(() => createWebGPUBackend());
      expect(e, env).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe(field);
      expect((e as ValidationError).got).toEqual(got);
    }
    const e = catchIt(() => createWebGPUBackend({ tiles: { bwdOpts: { dqUnroll: 65 } } }));
    expect((e as ValidationError).field).toBe('tiles.bwdOpts.dqUnroll');
    vi.stubEnv('FLASHATTN_WEBGPU_TILES', '{"fwdOpts":{"fexp":true,"unroll":4},"bwdOpts":{"dkvUnroll":"scores","dqUnroll":false}}');
    expect(() => createWebGPUBackend()).not.toThrow();
  });
});

function catchIt(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}
