#!/usr/bin/env bash
# Builds out/pipeline-stats/ (git-ignored) at the repo root, ready to carry to the GPU machine:
#   vk-stats            the C tool (needs only glibc >= 2.34 and, at run time, libvulkan.so.1)
#   spv/NAME.{wgsl,spv} forward kernels (repo generator -> naga-wasm), spv/index.json, spv/list.txt (run order)
#   run.sh              runs vk-stats on spv/list.txt, writes $OUT/pipeline-stats.jsonl (+ up to 4 .ir.txt)
#   make-spv.mjs + node_modules/naga-wasm   to make other variants there too (node make-spv.mjs DIR VARIANTS.json)
#   dawn-dump.mjs, run-tint.sh, bin/spirv-as (+ bin/lib/libstdc++.so.6)   the Tint path: the SPIR-V Dawn really runs,
#                       dumped by Dawn on the GPU machine and assembled there (needs out/device's webgpu package too)
#   spv/tc-*.wgsl, spv/fusedf16-128-p48-k.wgsl   tensor-core kernels (WGSL only, for run-tint.sh): the engine's
#                       forward (make-spv.ts's default list) and scripts/fused-f16-probe.ts's pipelined p48:k
# Usage: bash packages/webgpu/scripts/pipeline-stats/build.sh [VARIANTS.json]   (default list: make-spv.ts)
# Needs: gcc, Vulkan headers (libvulkan-dev: installed with apt-get when missing and root), node + the repo's
# npm install (esbuild); spirv-tools (spirv-as is copied into bin/; spirv-val checks the naga files).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
DEST=${PIPELINE_STATS_OUT:-$ROOT/out/pipeline-stats}
VARIANTS=${1:-}
[ -z "$VARIANTS" ] || VARIANTS=$(cd "$(dirname "$VARIANTS")" && pwd)/$(basename "$VARIANTS")

apt_get() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/tmp/pipeline-stats-apt.log 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/tmp/pipeline-stats-apt.log 2>&1; }
  else
    return 1
  fi
}
if [ ! -f /usr/include/vulkan/vulkan_core.h ]; then
  echo "installing libvulkan-dev (Vulkan headers)"
  apt_get libvulkan-dev || { echo "error: Vulkan headers missing (apt-get install libvulkan-dev)" >&2; exit 1; }
fi
command -v spirv-as >/dev/null || apt_get spirv-tools || echo "note: spirv-tools not available: no bin/spirv-as (run-tint.sh needs one) and no validation"

rm -rf "$DEST"
mkdir -p "$DEST/spv" "$DEST/node_modules" "$DEST/bin"

echo "== vk-stats"
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-missing-field-initializers -Wno-format-truncation \
  -o "$DEST/vk-stats" "$HERE/vk-stats.c" -ldl
need=$(objdump -p "$DEST/vk-stats" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
echo "vk-stats: $(stat -c %s "$DEST/vk-stats") bytes, needs: $need(+ libvulkan.so.1 through dlopen)"

echo "== naga-wasm"
if [ ! -f "$HERE/node_modules/naga-wasm/package.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp -r "$HERE/node_modules/naga-wasm" "$DEST/node_modules/"

echo "== make-spv"
(cd "$ROOT" && npx --no-install esbuild "$HERE/make-spv.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:naga-wasm --log-level=warning --outfile="$DEST/make-spv.mjs")
node "$DEST/make-spv.mjs" "$DEST/spv" ${VARIANTS:+"$VARIANTS"}
# Run order: the variants' order, not the file names'.
node -e 'const x = require(process.argv[1]); for (const v of x.variants) if (v.spv) console.log(v.spv)' "$DEST/spv/index.json" > "$DEST/spv/list.txt"

if command -v spirv-val >/dev/null; then
  echo "== spirv-val --target-env vulkan1.1"
  while read -r f; do spirv-val --target-env vulkan1.1 "$DEST/spv/$f" && echo "ok $f"; done < "$DEST/spv/list.txt"
fi

echo "== fused-f16-probe WGSL (tensor cores; Tint path only)"
# The probe writes its WGSL without a GPU (FUSED_WGSL_ONLY); 'webgpu' is stubbed so that no Dawn is loaded.
TMPB=$(mktemp -d)
trap 'rm -rf "$TMPB"' EXIT
printf 'export const globals = {};\nexport function create() { throw new Error("no GPU in the WGSL-only bundle"); }\n' > "$TMPB/webgpu-stub.mjs"
(cd "$ROOT" && npx --no-install esbuild "$ROOT/packages/webgpu/scripts/fused-f16-probe.ts" --bundle --platform=node --format=esm \
  --target=node20 --alias:webgpu="$TMPB/webgpu-stub.mjs" --log-level=warning --outfile="$TMPB/fused-f16-probe.mjs")
FUSED_WGSL_ONLY="$DEST/spv" node "$TMPB/fused-f16-probe.mjs" 128 4096 64 p48:k
ls "$DEST"/spv/tc-*.wgsl "$DEST"/spv/fusedf16-*.wgsl 2>/dev/null | sed "s|^$DEST/||"

echo "== dawn-dump (Tint path)"
(cd "$ROOT" && npx --no-install esbuild "$HERE/dawn-dump.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=warning --outfile="$DEST/dawn-dump.mjs")
if command -v spirv-as >/dev/null; then
  # Debian's spirv-as links SPIRV-Tools statically: it needs libstdc++ (GLIBCXX_3.4.29), shipped too in case the
  # GPU machine's is older (run-tint.sh uses it only then).
  cp "$(command -v spirv-as)" "$DEST/bin/spirv-as"
  lib=$(ldd "$DEST/bin/spirv-as" | awk '/libstdc\+\+/ {print $3}')
  if [ -n "$lib" ]; then mkdir -p "$DEST/bin/lib" && cp -L "$lib" "$DEST/bin/lib/libstdc++.so.6"; fi
  echo "bin/spirv-as: $(spirv-as --version 2>&1 | head -1)"
fi

cp "$HERE/run.sh" "$HERE/run-tint.sh" "$DEST/"
{
  echo "built $(date -u +%FT%TZ) from $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- packages/webgpu/src 2>/dev/null || echo ' (packages/webgpu/src modified)')"
  echo "naga-wasm $(node -p 'require(process.argv[1]).version' "$DEST/node_modules/naga-wasm/package.json")"
  [ -x "$DEST/bin/spirv-as" ] && echo "spirv-as $("$DEST/bin/spirv-as" --version 2>&1 | head -1)"
} > "$DEST/BUILD.txt"
cat "$DEST/BUILD.txt"
echo "done: $DEST ($(du -sh "$DEST" | cut -f1)); on the GPU machine: bash .device/on-device.sh bash out/pipeline-stats/run.sh"
echo "  Tint path (carry out/device too): bash .device/on-device.sh bash out/pipeline-stats/run-tint.sh"
echo "  tensor cores (Tint path): bash .device/on-device.sh bash out/pipeline-stats/run-tint.sh out/pipeline-stats/spv/tc-*.wgsl out/pipeline-stats/spv/fusedf16-*.wgsl"
