#!/usr/bin/env node
// Bundles scripts/device-verify.ts (with @flashattn/core, the reference oracle and src/) into
// build/device-verify.mjs, so it runs on the GPU machine without node_modules. The addon is found at ../build
// relative to the bundle, i.e. packages/cuda/build/flashattn_cuda.node.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(pkg, 'scripts/device-verify.ts')],
  outfile: path.join(pkg, 'build/device-verify.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
console.log('bundled build/device-verify.mjs');
