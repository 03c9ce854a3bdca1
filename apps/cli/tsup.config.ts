import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';
import type { Plugin } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A backend package that has not been built (or has no sources yet) must not break the CLI build: its import is
 * replaced by a module that throws on load, so `flashattn backends` shows it unavailable with that reason.
 */
const unbuiltBackends: Plugin = {
  name: 'flashattn-unbuilt-backends',
  setup(build) {
    build.onResolve({ filter: /^@flashattn\/(reference|webgpu|cuda|rocm)$/ }, (args) => {
      const pkg = args.path.slice('@flashattn/'.length);
      if (existsSync(resolve(root, 'packages', pkg, 'dist/index.js'))) return undefined;
      return { path: args.path, namespace: 'flashattn-unbuilt' };
    });
    build.onLoad({ filter: /.*/, namespace: 'flashattn-unbuilt' }, (args) => {
      const pkg = args.path.slice('@flashattn/'.length);
      const why = existsSync(resolve(root, 'packages', pkg, 'src/index.ts'))
        ? `${args.path} was not built when the CLI was bundled (packages/${pkg}/dist/index.js missing; run npm run build)`
        : `${args.path} has no sources yet (packages/${pkg}/src/index.ts missing)`;
      console.warn(`flashattn cli: ${why}`);
      return { contents: `throw new Error(${JSON.stringify(why)});\nexport {};\n`, loader: 'js' };
    });
  },
};

export default defineConfig({
  // oracle-worker: the float64 oracle's worker threads (conformance), spawned from its file next to main.js.
  entry: { main: 'src/main.ts', 'oracle-worker': 'src/oracle-worker.ts' },
  format: ['esm'],
  dts: false,
  clean: true,
  target: 'es2022',
  platform: 'node',
  splitting: true,
  // Every @flashattn package is bundled in; native or heavy npm packages stay external and are loaded lazily.
  noExternal: [/^@flashattn\//],
  external: ['webgpu', 'koffi', 'vega', 'vega-lite', /^node:/],
  esbuildPlugins: [unbuiltBackends],
  banner: { js: '#!/usr/bin/env node' },
});
