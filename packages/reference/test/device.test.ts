import { expect, test } from 'vitest';
import { TensorStateError, ValidationError } from '@flashattn/core';
import { createReferenceBackend } from '../src/index.js';
import { gen } from './helpers.js';

test('device tensors: upload, run forward and backward, download, dispose', async () => {
  const b = createReferenceBackend({ workers: 0 });
  const dev = b.device!;
  expect(b.capabilities().features).toContain('deviceTensors');
  const c = gen({ dtype: 'f16', causal: true });
  const p = c.problem;
  const [q, k, v, dout] = await Promise.all([dev.upload(c.q, 'f16'), dev.upload(c.k, 'f16'), dev.upload(c.v, 'f16'), dev.upload(c.dout!, 'f16')]);
  expect(q.backend).toBe('reference');
  expect(q.length).toBe(c.q.length);
  const f = await dev.forwardDevice(p, q, k, v);
  const host = await b.forward(p, { q: c.q, k: c.k, v: c.v });
  expect(await dev.download(f.out)).toEqual(host.out);
  expect(await dev.download(f.lse!)).toEqual(host.lse);
  const g = await dev.backwardDevice(p, { q, k, v, out: f.out, dout, lse: f.lse! });
  const hg = await b.backward(p, { q: c.q, k: c.k, v: c.v, out: host.out, dout: c.dout!, lse: host.lse! });
  expect(await dev.download(g.dq)).toEqual(hg.dq);
  expect(await dev.download(g.dk)).toEqual(hg.dk);
  // downloads are copies: changing one does not change the tensor
  const d1 = await dev.download(g.dv);
  d1[0] = d1[0]! ^ 1;
  expect(await dev.download(g.dv)).toEqual(hg.dv);

  q.dispose();
  expect(q.disposed).toBe(true);
  await expect(dev.forwardDevice(p, q, k, v)).rejects.toThrow(TensorStateError);
  await expect(dev.download(q)).rejects.toThrow(/after dispose/);
  // f32 data uploads into an f16 tensor by rounding; wrong storage is a typed error
  const fromF32 = await dev.upload(new Float32Array([1, 2.5, 1 / 3]), 'f16');
  expect(Array.from(await dev.download(fromF32))).toEqual([0x3c00, 0x4100, 0x3555]);
  await expect(dev.upload(new Uint16Array(4), 'f32')).rejects.toThrow(ValidationError);
  // a tensor of another dtype is rejected by name
  await expect(dev.forwardDevice(p, fromF32, k, v)).rejects.toThrow(/q.dtype|q.length/);
  const foreign = { backend: 'webgpu', dtype: 'f16' as const, length: c.q.length, disposed: false, dispose() {} };
  await expect(dev.forwardDevice(p, foreign, k, v)).rejects.toThrow(TensorStateError);
});
