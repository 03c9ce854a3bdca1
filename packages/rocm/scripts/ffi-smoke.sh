#!/usr/bin/env bash
# CI (no GPU): bundle scripts/ffi-smoke.ts and run it under node, bun and deno, with the HIP driver (expects
# libamdhip64 to bind and report hipErrorNoDevice) and with FLASHATTN_ROCM_DRIVER=cuda (reports why libcuda is
# unusable here). Set FLASHATTN_SMOKE_NEED_HIP=1 to fail when libamdhip64 is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(cd ../.. && pwd)
"$ROOT/node_modules/.bin/esbuild" scripts/ffi-smoke.ts --bundle --platform=node --format=esm --log-level=warning --outfile=build/ffi-smoke.mjs || exit 1
rc=0
for rt in node bun deno; do
  case $rt in
    node) cmd=(node) ;;
    bun) cmd=("$ROOT/node_modules/.bin/bun") ;;
    deno) cmd=("$ROOT/node_modules/.bin/deno" run --allow-ffi --allow-read --allow-env) ;;
  esac
  for drv in hip cuda; do
    FLASHATTN_ROCM_DRIVER=$drv "${cmd[@]}" build/ffi-smoke.mjs || rc=1
  done
done
exit $rc
