#!/usr/bin/env bash
# Packs what a GPU-machine run of the CLI needs into out/device/ (git-ignored; carry "out/device" and ".device"):
#   out/device/cli/        the CLI bundle (every backend built in)
#   out/device/cases/      the full conformance grid cut into chunks for parallel workers (fixed seeds)
#   out/device/cuda/       the CUDA addon and its device-verify bundle (when built)
#   out/device/node_modules/webgpu/  the `webgpu` package (Dawn) for the CLI bundle's `import('webgpu')`, with
#                          dawn.node xz-compressed (21 MB -> ~5 MB); run.sh unpacks it. out/device/webgpu/run.js:
#                          packages/webgpu's device script (tile sweep, GPU-timestamp benchmark)
#   out/device/*.sh|mjs    run.sh, summarize.mjs
#   out/device/peers/      the torch peer script of `bench --peer torch`
#   out/device/node_modules/vega*/  vega and vega-lite bundled, for `bench --chart`
# Usage (repo root, after npm run build): bash scripts/device/prepare.sh [WORKERS] [CHUNK] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .device/node.xz ] || bash ../shared/device/prepare
D=out/device
rm -rf $D && mkdir -p $D/cases $D/cuda
(cd apps/cli && npx tsup --out-dir ../../$D/cli >/dev/null)
npx esbuild scripts/device/make-cases.ts --bundle --platform=node --format=esm --log-level=warning --outfile=$D/make-cases.mjs
node $D/make-cases.mjs $D/cases "${1:-14}" "${2:-3}" "${3:-20261121}"
cp scripts/device/run.sh scripts/device/summarize.mjs $D/
# `bench --peer torch` looks for peers/torch_sdpa.py beside the bundle's folder (apps/cli's layout).
mkdir -p $D/peers && cp apps/cli/peers/torch_sdpa.py $D/peers/
# `bench --chart` imports vega and vega-lite (external to the CLI bundle): each bundled into one ESM file (~1.3 MB).
for m in vega vega-lite; do
  mkdir -p out/vendor $D/node_modules/$m
  echo "export * from '$m';" > out/vendor/$m-entry.mjs
  npx esbuild out/vendor/$m-entry.mjs --bundle --platform=node --format=esm --minify --log-level=error --outfile=$D/node_modules/$m/index.mjs
  echo "{\"name\":\"$m\",\"type\":\"module\",\"exports\":\"./index.mjs\"}" > $D/node_modules/$m/package.json
done
if [ -f packages/cuda/build/flashattn_cuda.node ]; then
  cp packages/cuda/build/flashattn_cuda.node $D/cuda/
  (cd packages/cuda && node scripts/bundle-device.mjs >/dev/null) && cp packages/cuda/build/device-verify.mjs $D/cuda/
fi
W=node_modules/webgpu
if [ -f $W/dist/linux-x64/dawn.node ]; then
  mkdir -p $D/node_modules/webgpu/dist/linux-x64 $D/webgpu
  cp $W/package.json $W/index.js $D/node_modules/webgpu/
  # The compressed addon is cached in out/ (outside $D, which is rebuilt) and redone when the addon changes.
  if [ ! -f out/dawn.node.xz ] || [ $W/dist/linux-x64/dawn.node -nt out/dawn.node.xz ]; then
    xz -T0 -6 -c $W/dist/linux-x64/dawn.node > out/dawn.node.xz.tmp && mv out/dawn.node.xz.tmp out/dawn.node.xz
  fi
  cp out/dawn.node.xz $D/node_modules/webgpu/dist/linux-x64/
  npx esbuild packages/webgpu/scripts/device-run.ts --bundle --platform=node --format=esm --external:webgpu \
    --log-level=error --outfile=$D/webgpu/run.js
  npx esbuild packages/webgpu/scripts/overhead-probe.ts --bundle --platform=node --format=esm --external:webgpu \
    --log-level=error --outfile=$D/webgpu/probe.js
  npx esbuild packages/webgpu/scripts/fused-mma-probe.ts --bundle --platform=node --format=esm --external:webgpu \
    --log-level=error --outfile=$D/webgpu/fused.js
  npx esbuild packages/webgpu/scripts/fused-f16-probe.ts --bundle --platform=node --format=esm --external:webgpu \
    --log-level=error --outfile=$D/webgpu/fusedf16.js
  npx esbuild packages/webgpu/scripts/full-tc-probe.ts --bundle --platform=node --format=esm --external:webgpu \
    --log-level=error --outfile=$D/webgpu/fulltc.js
  cp packages/webgpu/scripts/device.sh packages/webgpu/scripts/torch-sdpa-f32.py $D/webgpu/
fi
du -sh $D
