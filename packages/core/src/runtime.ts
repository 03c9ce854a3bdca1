/** Which JavaScript runtime we are on. The one seam runtime-specific code branches on. */
export type RuntimeName = 'node' | 'bun' | 'deno';

export function runtimeName(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === 'object' && g.Deno !== null) return 'deno';
  if (typeof g.Bun === 'object' && g.Bun !== null) return 'bun';
  return 'node';
}

export function runtimeVersion(): string {
  const g = globalThis as Record<string, any>;
  switch (runtimeName()) {
    case 'deno': return `deno ${g.Deno.version.deno}`;
    case 'bun': return `bun ${g.Bun.version}`;
    default: return `node ${g.process?.versions?.node}`;
  }
}
