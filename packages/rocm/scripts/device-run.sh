#!/usr/bin/env bash
# Runs on the GPU machine (copied to build/device/ by prepare-device.sh), from the repo root:
#   bash packages/rocm/build/device/device-run.sh RUNTIMES GRID_RUNTIME DEADLINE_S WORKERS
# e.g. "node deno" node 85 13. Everything goes through FLASHATTN_ROCM_DRIVER=cuda: libcuda driven by the
# same FFI seams that drive libamdhip64, running the HIP-portable kernels built by nvcc.
#   1. `flashattn backends` under each runtime (HIP path too: no libamdhip64 there, so its reason shows)
#   2. per runtime: device-selftest.mjs, then `flashattn conformance --backends rocm` (quick set, seed 777)
#   3. the full grid (cases/*.json chunks, cheapest first) on GRID_RUNTIME with WORKERS parallel workers,
#      starting no chunk after DEADLINE_S; chunks listed in done.txt (finished by an earlier run) are skipped.
# Results: $OUT/summary.json, $OUT/logs.tgz, $OUT/env.txt.
set -u
RTS="$1"; GRID_RT="$2"; DEADLINE="$3"; WORKERS="$4"
D=packages/rocm/build/device
export FLASHATTN_ROCM_DRIVER=cuda FLASHATTN_ROCM_DIR="$PWD/packages/rocm/build/"
T0=$SECONDS
W=/tmp/fa; rm -rf $W; mkdir -p $W/logs $W/reports $W/bin
for rt in $RTS $GRID_RT; do
  case $rt in
    deno) [ -x $W/bin/deno ] || { xz -dc packages/rocm/build/device-deno/deno.xz > $W/bin/deno && chmod +x $W/bin/deno; } ;;
    bun) [ -x $W/bin/bun ] || { xz -dc packages/rocm/build/device-bun/bun.xz > $W/bin/bun && chmod +x $W/bin/bun; } ;;
  esac
done
echo "unpacked runtimes in $((SECONDS - T0))s" > $W/logs/timeline.txt
rt_run() { local rt=$1; shift; case $rt in node) node "$@" ;; deno) $W/bin/deno run -A "$@" ;; bun) $W/bin/bun "$@" ;; esac; }
rt_version() { case $1 in node) node --version ;; deno) $W/bin/deno --version | head -1 ;; bun) echo "bun $($W/bin/bun --version)" ;; esac; }
{ date -u +%Y-%m-%dT%H:%M:%SZ; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
  for rt in $RTS $GRID_RT; do rt_version $rt; done; } > $OUT/env.txt 2>&1

for rt in $RTS; do
  FLASHATTN_ROCM_DRIVER=hip rt_run $rt $D/cli/main.js backends > $W/logs/backends-hip-$rt.txt 2>&1
  rt_run $rt $D/cli/main.js backends > $W/logs/backends-cuda-$rt.txt 2>&1
done
echo "backends done at $((SECONDS - T0))s" >> $W/logs/timeline.txt

for rt in $RTS; do
  ( rt_run $rt $D/selftest.mjs > $W/logs/selftest-$rt.txt 2>&1
    echo "selftest $rt done at $((SECONDS - T0))s" >> $W/logs/timeline.txt
    timeout $((DEADLINE + 40)) bash -c "$(declare -f rt_run); W=$W; rt_run $rt $D/cli/main.js conformance --backends rocm --seed 777 --report $W/reports/quick-$rt.json --no-progress" > $W/logs/quick-$rt.txt 2>&1
    echo "quick $rt done (rc $?) at $((SECONDS - T0))s" >> $W/logs/timeline.txt ) &
done

touch $D/done.txt
for w in $(seq 0 $((WORKERS - 1))); do
  ( for f in $D/cases/w$(printf %02d $w)-*.json; do
      name=$(basename $f .json)
      grep -qx "$name" $D/done.txt && continue
      left=$((DEADLINE - (SECONDS - T0)))
      [ $left -gt 0 ] || break
      timeout $((left + 25)) bash -c "$(declare -f rt_run); W=$W; rt_run $GRID_RT $D/cli/main.js conformance --backends rocm --cases $f --report $W/reports/grid-$name.json --no-progress" > $W/logs/grid-$name.txt 2>&1
    done ) &
done
wait
echo "all done at $((SECONDS - T0))s" >> $W/logs/timeline.txt
rt_run $GRID_RT $D/summarize.mjs $W/reports $D/cases > $OUT/summary.json 2> $W/logs/summarize.err
tar czf $OUT/logs.tgz -C $W logs reports
cat $W/logs/timeline.txt
