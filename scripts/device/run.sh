#!/usr/bin/env bash
# Runs on the GPU machine from the repo root (through .device/on-device.sh), after scripts/device/prepare.sh here:
#   bash out/device/run.sh BACKEND DEADLINE_S WORKERS [BENCH_ARGS...]
# 1. `flashattn backends`; 2. the full conformance grid for BACKEND (chunks in parallel processes with one oracle
# worker each, none started after DEADLINE_S); 3. the CUDA device checks (device-verify) when BACKEND is cuda; 4. `flashattn bench` with BENCH_ARGS
# (if any). Results under $OUT: env.txt, summary.json, bench.json, logs.tgz.
set -u
BACKEND="$1"; DEADLINE="$2"; WORKERS="$3"; shift 3
D=out/device
export FLASHATTN_CUDA_ADDON="$PWD/$D/cuda/flashattn_cuda.node"
T0=$SECONDS
# webgpu: unpack Dawn's addon beside the CLI bundle (prepare.sh carries it compressed).
X=$D/node_modules/webgpu/dist/linux-x64
[ -f $X/dawn.node.xz ] && [ ! -f $X/dawn.node ] && xz -dc $X/dawn.node.xz > $X/dawn.node
W=/tmp/fa; rm -rf $W; mkdir -p $W/logs $W/reports
{ date -u +%Y-%m-%dT%H:%M:%SZ; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; node --version
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>&1; } > $OUT/env.txt 2>&1
node $D/cli/main.js backends > $W/logs/backends.txt 2>&1
for w in $(seq 0 $((WORKERS - 1))); do
  ( for f in $D/cases/w$(printf %02d $w)-*.json; do
      left=$((DEADLINE - (SECONDS - T0))); [ $left -gt 0 ] || break
      name=$(basename $f .json)
      timeout $((left + 30)) node $D/cli/main.js conformance --backends $BACKEND --cases $f --oracle-workers 1 \
        --report $W/reports/grid-$name.json --no-progress > $W/logs/grid-$name.txt 2>&1
    done ) &
done
wait
echo "grid done at $((SECONDS - T0))s" >> $W/logs/timeline.txt
node $D/summarize.mjs $W/reports $D/cases $BACKEND > $OUT/summary.json 2> $W/logs/summarize.err
if [ "$BACKEND" = cuda ] && [ -z "${SKIP_VERIFY:-}" ] && [ -f $D/cuda/device-verify.mjs ]; then
  timeout 120 node $D/cuda/device-verify.mjs > $W/logs/device-verify.txt 2>&1
  echo "device-verify rc $? at $((SECONDS - T0))s" >> $W/logs/timeline.txt
fi
if [ $# -gt 0 ]; then
  node $D/cli/main.js bench --backends $BACKEND "$@" --json > $OUT/bench.json 2> $W/logs/bench.err
  echo "bench rc $? at $((SECONDS - T0))s" >> $W/logs/timeline.txt
fi
tar czf $OUT/logs.tgz -C $W logs reports
cat $W/logs/timeline.txt; cat $W/logs/backends.txt | head -20
