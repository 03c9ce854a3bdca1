#!/usr/bin/env bash
# out/device/webgpu/run-cut.js: device-run.ts bundled with the tensor-core splits' hi cut instead of rounded (the
# kernels before session 11), for device.sh's `spread:cut` step (the same spread inputs, to compare on the H100).
# Run after scripts/device/prepare.sh (which rebuilds out/device). The source is patched in a copy, not in place.
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp -r packages/webgpu/src packages/webgpu/scripts "$T/"
# roundF16 adds half an f16 ulp before cutting; without the add it is the old cut.
sed -i 's/(bitcast<vec4<u32>>(${x}) + vec4<u32>(0x1000u))/(bitcast<vec4<u32>>(${x}))/; s/(bitcast<u32>(${x}) + 0x1000u)/(bitcast<u32>(${x}))/' "$T/src/wgsl-forward-tc.ts"
if grep -q '0x1000u' "$T/src/wgsl-forward-tc.ts"; then echo "bundle-cut-split: roundF16 not found as expected" >&2; exit 1; fi
mkdir -p packages/webgpu/.cut && rm -rf packages/webgpu/.cut/* && cp -r "$T/src" "$T/scripts" packages/webgpu/.cut/
trap 'rm -rf "$T" packages/webgpu/.cut' EXIT
# Bundled from inside the package (its node_modules resolve @flashattn/core and the rest).
npx esbuild packages/webgpu/.cut/scripts/device-run.ts --bundle --platform=node --format=esm --external:webgpu \
  --log-level=error --outfile=out/device/webgpu/run-cut.js
echo "out/device/webgpu/run-cut.js: $(grep -c '0xffffe000u' out/device/webgpu/run-cut.js) cut sites, $(grep -c '+ 0x1000u' out/device/webgpu/run-cut.js || true) rounding adds"
