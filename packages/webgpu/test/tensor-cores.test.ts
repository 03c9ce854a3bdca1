import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeProblem, ValidationError, type Dtype } from '@flashattn/core';
import { withDawnToggles } from '../src/acquire-gpu.js';
import { Engine } from '../src/engine.js';
import { tensorCoresMissing, tensorCoresMode, tensorCoresWhyNot, type GpuContext } from '../src/gpu-context.js';
import { forwardTcWGSL, tcDefaults, tcSmem, tcTiles } from '../src/wgsl-forward-tc.js';
import { forwardTcPvWGSL, stagePlan, tcPvLayout } from '../src/wgsl-forward-tcpv.js';
import { createWebGPUBackend } from '../src/index.js';

/** Bytes of every `var<workgroup>` the WGSL declares (arrays: f16 2, f32/i32/u32 4, vec4<f32> 16; the vec4<u32> `uni` 16; scalars 4). */
function declaredWorkgroupBytes(wgsl: string): number {
  let n = 0;
  for (const m of wgsl.matchAll(/var<workgroup>\s+\w+\s*:\s*(array<(\w+(?:<\w+>)?),\s*(\d+)>|vec4<u32>|i32|u32|f32)\s*;/g)) {
    if (m[1] === 'vec4<u32>') { n += 16; continue; }
    if (!m[2]) { n += 4; continue; }
    const el = m[2]!, count = Number(m[3]);
    n += count * (el === 'f16' ? 2 : el.startsWith('vec4') ? 16 : 4);
  }
  return n;
}

describe('tensor-core forward (tiles and code; it runs only where f16 subgroup matrices exist, e.g. the H100 grid)', () => {
  it('takes head dims 96 and 128 with headDimV 32/64/128, and says why not otherwise', () => {
    expect(tcTiles({ d: 128, dv: 128, subgroups: true }, 49152)).toEqual({ bm: 64, pvCols: 1, fold: true, pv: 'mma' });
    expect(tcTiles({ d: 128, dv: 64, subgroups: true }, 49152)).toEqual({ bm: 64, pvCols: 1, fold: true, pv: 'mma' });
    expect(tcTiles({ d: 64, dv: 64, subgroups: true }, 49152)).toEqual({ bm: 64, pvCols: 1, fold: true, pv: 'mma' });
    expect(tcTiles({ d: 96, dv: 32, subgroups: true }, 49152)).toEqual({ bm: 64, fold: true, pv: 'mma' });
    expect(tcTiles({ d: 32, dv: 32, subgroups: true }, 49152)).toMatch(/SIMT forward up to 32/);
    expect(tcTiles({ d: 112, dv: 112, subgroups: true }, 49152)).toMatch(/headDim 112/);
    expect(tcTiles({ d: 128, dv: 96, subgroups: true }, 49152)).toMatch(/headDimV 96/);
    expect(tcTiles({ d: 128, dv: 128, subgroups: false }, 49152)).toMatch(/subgroups/);
    expect(tcTiles({ d: 128, dv: 128, subgroups: true }, 32768)).toMatch(/no tensor-core tile fits/);
    expect(tcTiles({ d: 128, dv: 128, subgroups: true }, 49152, undefined, { pvCols: 1, pv: 'fma' })).toEqual({ bm: 48, pvCols: 1, pv: 'fma' });
    // The builtin exp2 where the adapter is NVIDIA's (measured there), the polynomial elsewhere; checked key by key.
    expect(tcDefaults(128, 'nvidia nvidia-h100-80gb-hbm3')).toEqual({ pvCols: 1, fold: true, pv: 'mma', exp2: 'builtin' });
    expect(tcDefaults(32, 'mesa llvmpipe')).toEqual({ fold: true, pv: 'mma' });
    const poly = forwardTcPvWGSL({ dtype: 'f32', d: 64, dv: 64, softcap: false, subgroups: true }, { bm: 64, pv: 'mma' });
    const builtin = forwardTcPvWGSL({ dtype: 'f32', d: 64, dv: 64, softcap: false, subgroups: true }, { bm: 64, pv: 'mma', exp2: 'builtin' });
    expect(poly).toContain('fma(p, f, 1.0)');
    expect(builtin).toContain('return exp2(x);');
  });

  it('declares exactly the workgroup memory it budgets for, within the limit', () => {
    for (const [d, dv] of [[128, 128], [128, 64], [96, 32], [128, 32], [64, 64], [64, 128]] as const) for (const [half, direct] of [[false, false], [true, false], [true, true]]) for (const [pv, bms] of [['fma', undefined], ['mma', [64]], ['mma', [32]]] as const) {
      const t = tcTiles({ d, dv, subgroups: true, half, direct }, 49152, bms, { ...tcDefaults(dv), pv });
      if (typeof t === 'string') throw new Error(t);
      expect(t.pv).toBe(pv); // every one of these shapes fits P·V on the tensor cores at 48 KiB
      for (const softcap of [false, true]) {
        const shape = { dtype: half ? 'f16' as const : 'f32' as const, d, dv, softcap, subgroups: true };
        const code = pv === 'mma' ? forwardTcPvWGSL(shape, t) : forwardTcWGSL(shape, t);
        expect(!!t.direct, 'direct: f16 inputs read as they are, with P·V on the tensor cores').toBe(direct && pv === 'mma');
        const bytes = pv === 'mma' ? tcPvLayout({ d, dv, half }, t.bm).bytes : tcSmem({ d, dv, half }, t.bm);
        expect(declaredWorkgroupBytes(code)).toBe(bytes);
        expect(bytes).toBeLessThanOrEqual(49152);
        // f16/bf16 inputs: S from the hi matrices alone (d/16 MMAs per S block), no lo matrices of Q. 'fma': S in the
        // prologue and the loop; 'mma': S once, and P·V's k-steps x row blocks x products (f32: V's 3 pieces by P's hi
        // and V's hi by P's lo; f16/bf16: V's one piece by P's one).
        const sMMAs = (half ? 1 : 3) * (d / 16), L = tcPvLayout({ d, dv, half }, t.bm);
        if (pv === 'mma') expect(code).toContain(`@workgroup_size(${4 * t.bm})`);
        expect((code.match(/subgroupMatrixMultiplyAccumulate\(/g) ?? []).length).toBe(pv === 'mma' ? sMMAs + 2 * L.TB * (half ? 1 : 4) : 2 * sMMAs);
        expect(code.includes('ql0')).toBe(!half);
        // direct: no scales (no KI binding), K and V at the binding's element shift
        if (pv === 'mma') expect(code.includes('var<storage, read> KI')).toBe(!direct);
        if (pv === 'mma') expect(code.includes('P.kShift >> 1u') && code.includes('P.vShift >> 1u')).toBe(direct);
      }
    }
    // Half inputs free a K plane (P·V on the FMA units: a 64-row tile fits at d128); P·V on the tensor cores by default.
    expect(tcTiles({ d: 128, dv: 128, subgroups: true, half: true }, 49152)).toEqual({ bm: 64, pvCols: 1, fold: true, pv: 'mma', half: true });
    // P·V on the tensor cores takes 64- or 32-row tiles: without them (a tcBm override, or too little memory) P·V is on the FMA units.
    expect(tcTiles({ d: 128, dv: 128, subgroups: true }, 49152, [48], { pv: 'mma' })).toEqual({ bm: 48, pv: 'fma' });
    expect(tcTiles({ d: 128, dv: 64, subgroups: true }, 40000, undefined, { pv: 'mma' })).toEqual({ bm: 32, pv: 'mma' }); // 64 rows do not fit
    const small = tcTiles({ d: 128, dv: 64, subgroups: true }, 24000, undefined, { pv: 'mma' });
    expect(typeof small === 'string' || small.pv === 'fma').toBe(true);
  });

  it('stages every word of a K/V tile exactly once (the P·V-on-tensor-cores kernel\'s load plan)', () => {
    // PL planes x BK rows x HWn words: K (2 planes, d/2 words), V (3 or 2 pieces, dv/2), at 256 and 128 threads.
    for (const NT of [256, 128]) for (const [PL, HWn] of [[2, 64], [2, 32], [2, 48], [1, 64], [3, 64], [3, 32], [3, 16], [2, 16]] as const) {
      const { E, even, step } = stagePlan(PL, 32, HWn, NT);
      expect(E).toBe((PL * 32 * HWn) / NT);
      const seen = new Map<string, number>();
      for (let t = 0; t < NT; t++) for (let e = 0; e < E; e++) {
        let plane: number, row: number, cw: number;
        if (even) { const s = step(e); plane = s.pl; row = Math.floor(t / HWn) + s.ro; cw = t % HWn; }
        else { const w = t + NT * e; row = Math.floor(w / (PL * HWn)); const rem = w % (PL * HWn); plane = Math.floor(rem / HWn); cw = rem % HWn; }
        const key = `${plane},${row},${cw}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      expect(seen.size).toBe(PL * 32 * HWn);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect([...seen.keys()].every((k) => { const [p, r, c] = k.split(',').map(Number); return p! < PL && r! < 32 && c! < HWn; })).toBe(true);
    }
    expect(stagePlan(2, 32, 48, 256).even).toBe(false); // d96's K: 256 / 48 is not whole, the general form then
  });

  it('generates each P·V layout and score form over whole rows, and checks its tcOpts / tcBm overrides key by key', () => {
    // pvCols 1 needs bm to be a multiple of 256 / (dv / 4) rows; both layouts write each O vec4 of a row once.
    for (const pvCols of [1, 2] as const) for (const fold of [false, true]) {
      const t = tcTiles({ d: 128, dv: 128, subgroups: true }, 49152, [48], { pvCols, fold });
      if (typeof t === 'string') throw new Error(t);
      const code = forwardTcWGSL({ dtype: 'f32', d: 128, dv: 128, softcap: false, subgroups: true }, t);
      expect((code.match(/st4_o\(/g) ?? []).length - 1).toBe(48 * 32 / 256); // one per vec4 of the thread, besides the definition
      expect(code.includes('rowF')).toBe(fold);
    }
    expect(tcTiles({ d: 128, dv: 64, subgroups: true }, 49152, [48], { pvCols: 1 })).toEqual({ bm: 48, pvCols: 1 });
    const bad: [unknown, RegExp][] = [[{ tcOpts: { pvcols: 1 } }, /tiles\.tcOpts\.pvcols/], [{ tcOpts: { pvCols: 3 } }, /tiles\.tcOpts\.pvCols/], [{ tcOpts: { pv: 'tc' } }, /tiles\.tcOpts\.pv/], [{ tcOpts: { exp2: 'fast' } }, /tiles\.tcOpts\.exp2/], [{ tcBm: [40] }, /tiles\.tcBm/]];
    for (const [tiles, re] of bad) {
      let err: unknown;
      try { createWebGPUBackend({ tiles: tiles as never }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ValidationError);
      expect(String((err as Error).message)).toMatch(re);
    }
  });

  it('adds Dawn toggles to an existing enable-dawn-features list, once', () => {
    expect(withDawnToggles([], ['a', 'b'])).toEqual(['enable-dawn-features=a,b']);
    expect(withDawnToggles(['x=1', 'enable-dawn-features=b,c'], ['a', 'b'])).toEqual(['x=1', 'enable-dawn-features=b,c,a']);
  });
});

describe('tensor cores on this adapter', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reject a FLASHATTN_WEBGPU_TENSOR_CORES that is not 1, 0, auto or unset, and a bad tensorCores option, with a typed error naming it', () => {
    for (const bad of ['true', 'yes', '2', 'on']) {
      vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', bad);
      let e: unknown;
      try { createWebGPUBackend(); } catch (x) { e = x; }
      expect(e, bad).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('FLASHATTN_WEBGPU_TENSOR_CORES');
      expect((e as ValidationError).got).toBe(bad);
    }
    for (const ok of ['0', '1', '', 'auto']) {
      vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', ok);
      expect(() => createWebGPUBackend()).not.toThrow();
    }
    vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', 'bad'); // the option wins over the variable
    for (const ok of [true, false, 'auto'] as const) expect(() => createWebGPUBackend({ tensorCores: ok })).not.toThrow();
    let e: unknown;
    try { createWebGPUBackend({ tensorCores: 'yes' as unknown as boolean }); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).field).toBe('tensorCores');
  });

  it("default to 'auto'; '1' and true are on, '0' and false off", () => {
    vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', undefined as unknown as string);
    expect(tensorCoresMode()).toBe('auto');
    for (const [v, m] of [['', 'auto'], ['auto', 'auto'], ['1', 'on'], ['0', 'off']] as const) {
      vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', v);
      expect(tensorCoresMode(), v).toBe(m);
    }
    expect(tensorCoresMode(true)).toBe('on');
    expect(tensorCoresMode(false)).toBe('off');
  });

  it("auto keeps f32 forwards that return the LSE on the SIMT kernel (its row statistics serve the backward); on takes them all", () => {
    // An H100-like context (no device: planning only).
    const ctx = (auto: boolean): GpuContext => ({
      limits: { maxStorageBufferBindingSize: 2147483644, maxBufferSize: 2 ** 40, maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupsPerDimension: 65535, minStorageBufferOffsetAlignment: 256, minUniformBufferOffsetAlignment: 256 },
      subgroupMinSize: 32, timestamps: false, tensorCores: true, tensorCoresAuto: auto, description: 'nvidia hopper NVIDIA H100', device: undefined as unknown as GPUDevice,
    });
    const usesTc = (auto: boolean, dtype: Dtype, returnLse: boolean) => {
      const plan = new Engine(ctx(auto)).forwardPlan(makeProblem({ batch: 1, seqlenQ: 256, seqlenK: 256, nheadsQ: 2, headDim: 64, dtype, returnLse }));
      if (Array.isArray(plan)) throw new Error(plan.join('; '));
      return plan.tc !== undefined;
    };
    expect(usesTc(true, 'f32', true)).toBe(false);
    expect(usesTc(true, 'f32', false)).toBe(true);
    expect(usesTc(true, 'bf16', true)).toBe(true); // half inputs: the backward needs no stats pass
    expect(usesTc(false, 'f32', true)).toBe(true);
  });

  it('need f16, f16 subgroup matrices and subgroups of exactly 32 (the kernel maps subgroups as t / 32)', () => {
    const adapter = (features: string[], configs: object[]) => ({ features: new Set(features), info: { subgroupMatrixConfigs: configs } }) as unknown as GPUAdapter;
    const all = ['shader-f16', 'chromium-experimental-subgroup-matrix'];
    const f16 = [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }];
    expect(tensorCoresMissing(adapter(all, f16), true, 32, 32)).toBeUndefined();
    expect(tensorCoresMissing(adapter(all, f16), true, 32, 64)).toMatch(/subgroup size 32\.\.64/);
    expect(tensorCoresMissing(adapter(all, f16), true, 16, 16)).toMatch(/exactly 32/);
    expect(tensorCoresMissing(adapter(all, f16), false, 32, 32)).toMatch(/no subgroups/);
    expect(tensorCoresMissing(adapter(['chromium-experimental-subgroup-matrix'], f16), true, 32, 32)).toMatch(/shader-f16/);
    expect(tensorCoresMissing(adapter(all, [{ ...f16[0], componentType: 'i8', resultComponentType: 'i32' }]), true, 32, 32)).toMatch(/no f16 x f16/);
  });

  it('auto: on NVIDIA adapters that have them; on: wherever they are; off: never (each no with its reason)', () => {
    const adapter = { features: new Set(['shader-f16', 'chromium-experimental-subgroup-matrix']), info: { subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }] } } as unknown as GPUAdapter;
    const bare = { features: new Set<string>(), info: {} } as unknown as GPUAdapter;
    const nv = 'nvidia hopper NVIDIA H100 80GB HBM3', other = 'amd rdna3 Radeon';
    expect(tensorCoresWhyNot('auto', adapter, true, 32, 32, nv)).toBeUndefined();
    expect(tensorCoresWhyNot('auto', adapter, true, 32, 32, other)).toMatch(/^auto: on NVIDIA adapters only.*Radeon/);
    expect(tensorCoresWhyNot('on', adapter, true, 32, 32, other)).toBeUndefined();
    expect(tensorCoresWhyNot('off', adapter, true, 32, 32, nv)).toMatch(/^off \(FLASHATTN_WEBGPU_TENSOR_CORES=0/);
    expect(tensorCoresWhyNot('auto', bare, true, 32, 32, nv)).toMatch(/shader-f16/);
    expect(tensorCoresWhyNot('on', bare, true, 32, 32, other)).toMatch(/shader-f16/);
  });

  it('say why they are off on this adapter, asked for or not', async () => {
    vi.stubEnv('FLASHATTN_WEBGPU_TENSOR_CORES', '1');
    const be = createWebGPUBackend();
    const pr = await be.probe();
    if (!pr.available) return; // no adapter here: nothing to ask (the webgpu suite reports it)
    const tc = String((pr.details as Record<string, unknown>).tensorCores);
    // lavapipe (CI) has no subgroup matrices: off, with the missing piece named; a GPU that has them says so.
    expect(tc).toMatch(/^(off: (no subgroups|no shader-f16|no subgroup matrices|no f16 x f16|subgroup size)|f16 subgroup matrices)/);
    await be.dispose?.();
    const off = createWebGPUBackend({ tensorCores: false });
    const po = await off.probe();
    if (po.available) expect(String((po.details as Record<string, unknown>).tensorCores)).toMatch(/^off: off \(FLASHATTN_WEBGPU_TENSOR_CORES=0/);
    await off.dispose?.();
  });
});
