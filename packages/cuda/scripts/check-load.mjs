#!/usr/bin/env node
// Checks that the built addon loads in this runtime and that the backend's probe answers cleanly (never throws,
// gives a reason when unavailable). For CI on machines without a GPU: `--expect no-driver` fails unless the
// reason is "no CUDA driver ..." (or "no-device", "available").
//   node scripts/check-load.mjs [--expect no-driver|no-device|available] [--all-runtimes]
// --all-runtimes runs this script under node, bun and deno (deno run -A) and fails if any fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..');
const args = process.argv.slice(2);
const expect = args.includes('--expect') ? args[args.indexOf('--expect') + 1] : undefined;
const runtime = typeof globalThis.Deno === 'object' ? 'deno' : typeof globalThis.Bun === 'object' ? 'bun' : 'node';

function fail(msg) {
  console.error(`check-load [${runtime}]: FAIL: ${msg}`);
  process.exit(1);
}

if (args.includes('--all-runtimes')) {
  const bin = (name) => {
    const local = path.resolve(pkg, '../../node_modules/.bin', name);
    return existsSync(local) ? local : name;
  };
  const rest = args.filter((a) => a !== '--all-runtimes');
  const script = fileURLToPath(import.meta.url);
  const runs = [
    ['node', [process.execPath, script, ...rest]],
    ['bun', [bin('bun'), script, ...rest]],
    ['deno', [bin('deno'), 'run', '-A', script, ...rest]],
  ];
  let bad = 0;
  for (const [name, [cmd, ...a]] of runs) {
    const r = spawnSync(cmd, a, { stdio: 'inherit', cwd: pkg });
    if (r.status !== 0) {
      bad++;
      console.error(`check-load: ${name} exited with ${r.status ?? r.error?.message}`);
    }
  }
  process.exit(bad ? 1 : 0);
}

const addonPath = path.join(pkg, 'build', 'flashattn_cuda.node');
const statusPath = path.join(pkg, 'build', 'addon-status.json');
const status = existsSync(statusPath) ? JSON.parse(readFileSync(statusPath, 'utf8')) : undefined;

// 1. The raw addon, when the build produced one.
let raw;
if (existsSync(addonPath)) {
  try {
    raw = createRequire(import.meta.url)(addonPath);
  } catch (e) {
    fail(`addon exists but does not load: ${e?.message ?? e}`);
  }
  let p;
  try {
    p = raw.probe();
  } catch (e) {
    fail(`addon probe() threw: ${e?.message ?? e}`);
  }
  console.log(`check-load [${runtime}]: addon loaded (${path.relative(pkg, addonPath)}); kernels linked: ${raw.kernelsLinked}; probe: ${JSON.stringify(p)}`);
} else {
  console.log(`check-load [${runtime}]: no addon built (${status?.reason ?? 'no build/addon-status.json'})`);
}

// 2. The backend, as users load it (dist, built by tsup).
const dist = path.join(pkg, 'dist', 'index.js');
if (!existsSync(dist)) fail('dist/index.js missing: run "npm run build" in packages/cuda');
const { createCudaBackend } = await import(new URL('../dist/index.js', import.meta.url).href);
const backend = createCudaBackend();
let a;
try {
  a = await backend.probe();
} catch (e) {
  fail(`backend.probe() threw: ${e?.message ?? e}`);
}
console.log(`check-load [${runtime}]: backend cuda: ${a.available ? `available: ${a.device}` : `unavailable: ${a.reason}`}`);
if (!a.available && (typeof a.reason !== 'string' || a.reason.length < 10)) fail('unavailable without a reason');
if (raw && !a.available && a.reason.startsWith('addon')) fail(`addon loads here but the backend says: ${a.reason}`);
const want = { 'no-driver': /^no CUDA driver/, 'no-device': /^no CUDA device/ };
if (expect === 'available' && !a.available) fail(`expected available, got: ${a.reason}`);
if (want[expect] && (a.available || !want[expect].test(a.reason))) fail(`expected ${expect}, got: ${a.available ? 'available' : a.reason}`);
if (expect && !raw) fail(`expected ${expect}, but no addon is built`);
console.log(`check-load [${runtime}]: ok`);
