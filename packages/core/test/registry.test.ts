import { describe, expect, it } from 'vitest';
import {
  BackendRegistry, BackendUnavailableError, NoBackendError, UnsupportedProblemError, ValidationError, makeProblem,
  type Availability, type Backend, type Problem,
} from '../src/index.js';

/** A backend double: availability and acceptance are set by the test; it never computes. */
function fake(name: string, avail: Availability, reject?: (p: Problem) => string[]): Backend {
  return {
    name,
    probe: async () => avail,
    capabilities: () => ({ dtypes: ['f32'], features: [], maxHeadDim: 256 }),
    check: (p) => reject?.(p) ?? [],
    forward: async () => { throw new Error('not used'); },
    backward: async () => { throw new Error('not used'); },
  };
}

const ok: Availability = { available: true, device: 'test device' };
const p64 = makeProblem({ batch: 1, seqlenQ: 4, seqlenK: 4, nheadsQ: 1, headDim: 64 });
const p200 = makeProblem({ batch: 1, seqlenQ: 4, seqlenK: 4, nheadsQ: 1, headDim: 200 });
const small = (limit: number) => (p: Problem) => (p.headDim > limit ? [`headDim ${p.headDim} > ${limit} supported`] : []);

function registry() {
  return new BackendRegistry()
    .register(fake('cpu', ok), 10)
    .register(fake('gpu-small', ok, small(128)), 100)
    .register(fake('gpu-missing', { available: false, reason: 'no driver found' }), 90);
}

describe('BackendRegistry', () => {
  it('orders by priority', () => {
    expect(registry().names()).toEqual(['gpu-small', 'gpu-missing', 'cpu']);
  });

  it('selects the highest-priority backend that is available and accepts the problem', async () => {
    const r = registry();
    expect((await r.select(p64)).backend.name).toBe('gpu-small');
    const s = await r.select(p200);
    expect(s.backend.name).toBe('cpu');
    expect(s.skipped).toEqual([
      { name: 'gpu-small', reasons: ['headDim 200 > 128 supported'] },
      { name: 'gpu-missing', reasons: ['unavailable: no driver found'] },
    ]);
  });

  it('reports skips through onSkip', async () => {
    const logged: string[] = [];
    await registry().select(p200, { onSkip: (n, rs) => logged.push(`${n}: ${rs.join('; ')}`) });
    expect(logged).toEqual(['gpu-small: headDim 200 > 128 supported', 'gpu-missing: unavailable: no driver found']);
  });

  it('honours prefer', async () => {
    expect((await registry().select(p64, { prefer: ['cpu'] })).backend.name).toBe('cpu');
  });

  it('require: returns that backend or throws, never silently falls back', async () => {
    const r = registry();
    expect((await r.select(p64, { require: 'cpu' })).backend.name).toBe('cpu');
    await expect(r.select(p64, { require: 'gpu-missing' })).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(r.select(p64, { require: 'gpu-missing' })).rejects.toThrow('backend gpu-missing is unavailable: no driver found');
    await expect(r.select(p200, { require: 'gpu-small' })).rejects.toBeInstanceOf(UnsupportedProblemError);
    await expect(r.select(p200, { require: 'gpu-small' })).rejects.toThrow('headDim 200 > 128 supported');
  });

  it('require with allowFallback falls back and records why', async () => {
    const s = await registry().select(p200, { require: 'gpu-small', allowFallback: true });
    expect(s.backend.name).toBe('cpu');
    expect(s.skipped.map((x) => x.name)).toEqual(['gpu-small', 'gpu-missing']);
  });

  it('throws NoBackendError listing every reason when nothing fits', async () => {
    const r = new BackendRegistry().register(fake('gpu-small', ok, small(128)), 1);
    await expect(r.select(p200)).rejects.toBeInstanceOf(NoBackendError);
    await expect(r.select(p200)).rejects.toThrow('no backend can run this problem: gpu-small (headDim 200 > 128 supported)');
  });

  it('names an unknown backend and a duplicate registration', async () => {
    const r = registry();
    expect(() => r.get('tpu')).toThrow('backend: expected one of cpu, gpu-small, gpu-missing, got "tpu"');
    expect(() => r.register(fake('cpu', ok))).toThrow(ValidationError);
  });

  it('turns a throwing probe into unavailability, probing once', async () => {
    let calls = 0;
    const b = fake('flaky', ok);
    b.probe = async () => { calls++; throw new Error('segfault avoided'); };
    const r = new BackendRegistry().register(b).register(fake('cpu', ok), -1);
    const s = await r.select(p64);
    expect(s.backend.name).toBe('cpu');
    expect(s.skipped[0]!.reasons[0]).toBe('unavailable: probe failed: segfault avoided');
    await r.select(p64);
    expect(calls).toBe(1);
  });
});
