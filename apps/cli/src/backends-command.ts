/** `flashattn backends`: every registered backend, available or why not, with device, dtypes and features. */
import { runtimeVersion } from '@flashattn/core';
import type { Flags, FlagSpecs } from './args.js';
import { BACKENDS, loadRegistry } from './backends.js';
import { out } from './host.js';

export const BACKENDS_FLAGS: FlagSpecs = {
  json: { kind: 'bool', help: 'print as JSON' },
  help: { kind: 'bool', help: 'show this help' },
};

export async function backendsCommand(f: Flags): Promise<number> {
  const { registry } = await loadRegistry();
  try {
    const rows: {
      name: string; package?: string; priority: number; available: boolean; device?: string; details?: unknown; reason?: string;
      dtypes: readonly string[]; features: readonly string[]; maxHeadDim: number; deviceTensors: boolean; notes: readonly string[];
    }[] = [];
    for (const { backend, priority } of registry.list()) {
      const a = await registry.probe(backend.name);
      const caps = backend.capabilities();
      rows.push({
        name: backend.name,
        package: BACKENDS.find((b) => b.name === backend.name)?.pkg,
        priority,
        available: a.available,
        ...(a.available ? { device: a.device, details: a.details } : { reason: a.reason }),
        dtypes: caps.dtypes,
        features: caps.features,
        maxHeadDim: caps.maxHeadDim,
        deviceTensors: backend.device !== undefined,
        notes: caps.notes ?? [],
      });
    }
    if (f.bool('json')) {
      out(JSON.stringify({ runtime: runtimeVersion(), backends: rows }, null, 1) + '\n');
      return 0;
    }
    let s = `flashattn backends (${runtimeVersion()}), highest priority first:\n`;
    for (const r of rows) {
      s += `\n${r.name} (priority ${r.priority}, ${r.package}): ${r.available ? `available on ${r.device}` : `unavailable: ${r.reason}`}\n`;
      if (r.dtypes.length) s += `  dtypes:   ${r.dtypes.join(', ')}\n`;
      if (r.features.length) s += `  features: ${r.features.join(', ')}${r.deviceTensors ? '' : ' (no device tensors)'}\n`;
      if (r.maxHeadDim) s += `  headDim:  up to ${r.maxHeadDim}\n`;
      for (const n of r.notes) s += `  note:     ${n}\n`;
    }
    out(s);
    return 0;
  } finally {
    await registry.disposeAll();
  }
}
