import { describe, expect, test, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The worker pool under each runtime, unbundled (packages/reference/dist through the workspace link) and bundled
// into one file (as the CLI bundles it). The fixture does not dispose the backend: each process must exit on its
// own, well before the timeout that would otherwise kill it.
const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const root = resolve(pkg, '../..');
const bin = (n: string) => join(root, 'node_modules/.bin', n);
const fixture = join(here, 'fixtures/smoke.mjs');

function run(cmd: string, args: string[], cwd: string, timeout = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(cmd, args, { cwd, timeout, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      ok({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

const RUNTIMES: Record<string, (file: string) => [string, string[]]> = {
  node: (f) => [process.execPath, [f]],
  bun: (f) => [bin('bun'), [f]],
  deno: (f) => [bin('deno'), ['run', '-A', f]],
};

let bundle = '';
let minified = '';
beforeAll(async () => {
  if (!existsSync(join(pkg, 'dist/index.js'))) {
    const b = await run(bin('tsup'), [], pkg, 120_000);
    if (b.code !== 0) throw new Error(`building packages/reference failed: ${b.stderr}`);
  }
  bundle = join(mkdtempSync(join(tmpdir(), 'flashattn-ref-')), 'smoke.mjs');
  const r = await run(bin('esbuild'), ['--bundle', '--format=esm', '--platform=node', fixture, `--outfile=${bundle}`, '--log-level=warning'], root);
  if (r.code !== 0) throw new Error(`esbuild failed: ${r.stderr}`);
  // keepNames + minify: esbuild then wraps named functions in a renamed module-level __name helper
  minified = join(dirname(bundle), 'smoke-min.mjs');
  const m = await run(bin('esbuild'), ['--bundle', '--format=esm', '--platform=node', '--keep-names', '--minify', fixture, `--outfile=${minified}`, '--log-level=warning'], root);
  if (m.code !== 0) throw new Error(`esbuild failed: ${m.stderr}`);
}, 180_000);

test('node: a --keep-names --minify bundle still runs the kernels in workers', async () => {
  const r = await run(process.execPath, [minified], dirname(minified));
  expect(r.code, r.stderr).toBe(0);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(res.status, res.reason).toBe('pass');
  expect(res.stats.workerRuns).toBe(2);
  expect(res.stats.workerFailure).toBeUndefined();
}, 120_000);

describe.each(['unbundled', 'bundled'])('%s', (mode) => {
  for (const rt of Object.keys(RUNTIMES)) {
    test(`${rt}: workers compute a passing case and the process exits by itself`, async () => {
      const [cmd, args] = RUNTIMES[rt]!(mode === 'bundled' ? bundle : fixture);
      const r = await run(cmd, args, mode === 'bundled' ? dirname(bundle) : root);
      expect(r.code, `${rt} ${mode}: ${r.stderr}`).toBe(0);
      const line = r.stdout.trim().split('\n').pop()!;
      const res = JSON.parse(line);
      expect(res.runtime).toBe(rt);
      expect(res.status, res.reason).toBe('pass');
      expect(res.stats.workerRuns).toBe(2);
      expect(res.stats.workersStarted).toBe(2);
      expect(res.stats.workerFailure).toBeUndefined();
    }, 120_000);
  }
});
