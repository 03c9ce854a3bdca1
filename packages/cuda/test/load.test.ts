// The addon must build wherever nvcc is, and load under node, bun and deno, reporting why it cannot run cleanly.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(pkg, '../..');
const status = (() => {
  try { return JSON.parse(readFileSync(path.join(pkg, 'build/addon-status.json'), 'utf8')); } catch { return undefined; }
})();
const nvcc = spawnSync('sh', ['-c', 'command -v nvcc || ls /usr/local/cuda/bin/nvcc'], { encoding: 'utf8' }).status === 0;
const built = existsSync(path.join(pkg, 'build/flashattn_cuda.node'));

describe('addon build and load', () => {
  it('is built when nvcc is present (run npm run build), or says why not', () => {
    if (nvcc) expect(built, 'nvcc is installed but build/flashattn_cuda.node is missing: run "npm run build" in packages/cuda').toBe(true);
    else expect(built || status?.reason?.startsWith('addon not built: nvcc not found')).toBeTruthy();
  });
  for (const runtime of ['node', 'bun', 'deno'] as const) {
    it(`loads and probes cleanly under ${runtime}`, { timeout: 60_000 }, () => {
      const script = path.join(pkg, 'scripts/check-load.mjs');
      const bin = (n: string) => path.join(root, 'node_modules/.bin', n);
      const cmd = runtime === 'node' ? [process.execPath, script] : runtime === 'bun' ? [bin('bun'), script] : [bin('deno'), 'run', '-A', script];
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', cwd: pkg });
      console.log(r.stdout.trim());
      expect(r.status, `${runtime}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/backend cuda: (available|unavailable: .{10,})/);
      if (built) expect(r.stdout).toMatch(/addon loaded/);
    });
  }
});
