#!/usr/bin/env bash
# Packs what a GPU-machine run of the CLI needs into out/device/ (git-ignored; carry "out/device" and ".device"):
#   out/device/cli/        the CLI bundle (every backend built in)
#   out/device/cases/      the full conformance grid cut into chunks for parallel workers (fixed seeds)
#   out/device/cuda/       the CUDA addon and its device-verify bundle (when built)
#   out/device/*.sh|mjs    run.sh, summarize.mjs
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
if [ -f packages/cuda/build/flashattn_cuda.node ]; then
  cp packages/cuda/build/flashattn_cuda.node $D/cuda/
  (cd packages/cuda && node scripts/bundle-device.mjs >/dev/null) && cp packages/cuda/build/device-verify.mjs $D/cuda/
fi
du -sh $D
