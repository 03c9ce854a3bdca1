#!/usr/bin/env bash
# Builds everything the GPU machine needs into packages/rocm/build/ (git-ignored), to carry with the device tool:
#   build/nvidia/, build/manifest.json   the kernels (scripts/build-kernels.sh)
#   build/device/                        the CLI bundle (apps/cli's tsup config, rocm built in), selftest.mjs,
#                                        the full grid cut into chunks, summarize.mjs, device-run.sh, and koffi
#                                        (node_modules/koffi + its linux-x64 prebuilt) for Node
#   build/device-deno/deno.xz, build/device-bun/bun.xz   the runtimes (node comes from ../shared/device)
# Usage (repo root): bash packages/rocm/scripts/prepare-device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(cd ../.. && pwd)
bash scripts/build-kernels.sh
npx tsup >/dev/null
(cd "$ROOT/apps/cli" && npx tsup --out-dir "$ROOT/packages/rocm/build/device/cli" >/dev/null)
E="$ROOT/node_modules/.bin/esbuild"
$E scripts/device-selftest.ts --bundle --platform=node --format=esm --log-level=warning --outfile=build/device/selftest.mjs
$E ../../scripts/device/make-cases.ts --bundle --platform=node --format=esm --log-level=warning --outfile=build/make-device-cases.mjs
rm -rf build/device/cases
node build/make-device-cases.mjs build/device/cases "${WORKERS:-13}" "${CHUNK:-3}" "${SEED:-20261121}"
cp ../../scripts/device/summarize.mjs build/device/summarize.mjs
cp scripts/device-run.sh build/device/device-run.sh
rm -rf build/device/node_modules && mkdir -p build/device/node_modules/@koromix
cp -r "$ROOT/node_modules/koffi" build/device/node_modules/koffi
mkdir -p build/device/node_modules/@koromix/koffi-linux-x64
cp -r "$ROOT/node_modules/@koromix/koffi-linux-x64/"{package.json,index.js,linux_x64} build/device/node_modules/@koromix/koffi-linux-x64/
mkdir -p build/device-deno build/device-bun
[ -f build/device-deno/deno.xz ] || xz -T2 -6 -c "$ROOT/node_modules/deno/deno" > build/device-deno/deno.xz
[ -f build/device-bun/bun.xz ] || xz -T2 -6 -c "$ROOT/node_modules/bun/bin/bun.exe" > build/device-bun/bun.xz
du -sh build/nvidia build/device build/device-deno build/device-bun
