#!/usr/bin/env bash
# The webgpu backend's GPU-machine session, in one call (after `npm run build` and scripts/device/prepare.sh here;
# carry ".device" and "out/device"):
#   bash .device/on-device.sh bash out/device/webgpu/device.sh STEP...
# Steps, run in order, each time-boxed:
#   sweep          forward tiles, code candidates and timing-only ablations at seqlen 4096, d64/d128 (+ d128 causal),
#                  f32 (GPU timestamps; TILE_VARIANTS=JSON replaces the list; stops starting variants after SWEEP_S - 15 s)
#   bwdsweep       backward tile variants: forward+backward f32 at seqlen 4096, d64/d128 (BWD_VARIANTS=JSON)
#   gpubench       forward+backward f32, d64/d128, causal and not, seqlens 1k-16k (GPU timestamps; KERNELS=1: per kernel,
#                  gpubench:recompute: without the forward's saved row statistics)
#   oldbench       the same with out/device/webgpu/run-old.js when present (a bundle of the previous kernels)
#   grid:S:W       the CLI's full conformance grid through scripts/device/run.sh (W workers, none started after S s)
#   savedstats     f32 backward with the forward's saved row statistics against the stats pass: gradients bit for bit
#   fused          the int8 tensor-core fused-forward probe (scripts/fused-mma-probe.ts): FUSED_RUNS is a ';'-separated
#                  list of its argument lists (d n heads SL:RBW:SPLIT...)
#   fusedf16       the same for the f16 tensor-core probe (scripts/fused-f16-probe.ts: d n heads RBW[:flags]...)
#   fulltc         both products on the tensor cores (scripts/full-tc-probe.ts: d n heads BM[:flags]...; FULLTC_RUNS)
#   probe          what one call's pieces cost alone (scripts/overhead-probe.ts: completion wait, error scopes, buffer allocation)
#   quick          the CLI's quick conformance set, webgpu only (the environment's FLASHATTN_WEBGPU_* apply)
#   spread         tensor cores on and off on f32 inputs with rows at spread magnitudes (SPREAD_TRIALS seeds per shape,
#                  SPREAD_S); spread:cut the same with run-cut.js when present (a bundle with an older split to compare)
#   torch          PyTorch f32 SDPA (memory-efficient) on the same shapes (scripts/torch-sdpa-f32.py), the yardstick
#   bench          `flashattn bench --backends webgpu`, f32, d64/d128, seqlens 1k-16k, causal and not (wall time; BENCH_S
#                  per mask, default 240: 75 s covered only d64 with forward+backward, session 10 run 136)
# Results: $OUT/webgpu.tgz (every log and JSON line, clocks.csv: nvidia-smi every 250 ms), plus run.sh's env.txt, summary.json and logs.tgz.
set -u
D=out/device
X=$D/node_modules/webgpu/dist/linux-x64
[ -f $X/dawn.node ] || xz -dc $X/dawn.node.xz > $X/dawn.node
W=/tmp/wg; rm -rf $W; mkdir -p $W/old
T0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt 2>&1
# SM clock, power and utilization every 250 ms for the whole session (are slow points at lower clocks?).
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,pstate,utilization.gpu --format=csv -lms 250 > $W/clocks.csv 2>&1 &
CLK=$!
trap 'kill $CLK 2>/dev/null' EXIT
SEQS=${SEQS:-1024,2048,4096,8192,16384}
quiet() { grep -v 'artificially reduced'; }
for step in "$@"; do
  case $step in
    sweep) S=${SWEEP_S:-125}; OUT=$W TILES_S=$((S - 15)) timeout $S node $D/webgpu/run.js tiles 2>&1 | quiet > $W/sweep.log ;;
    bwdsweep) OUT=$W timeout ${BWDSWEEP_S:-110} node $D/webgpu/run.js bwdtiles 2>&1 | quiet > $W/bwdsweep.log ;;
    gpubench|gpubench:*) BWD_STATS=${step#gpubench}; BWD_STATS=${BWD_STATS#:} OUT=$W BENCH_F16=0 BENCH_SEQS=${GPU_SEQS:-$SEQS} BENCH_S=${GPUBENCH_S:-80} timeout $((${GPUBENCH_S:-80} + 20)) node $D/webgpu/run.js bench 2>&1 | quiet > $W/$step.log ;;
    oldbench) [ -f $D/webgpu/run-old.js ] && OUT=$W/old BENCH_SEQS=${GPU_SEQS:-$SEQS} BENCH_S=${OLDBENCH_S:-60} timeout 80 node $D/webgpu/run-old.js bench 2>&1 | quiet > $W/oldbench.log ;;
    savedstats) OUT=$W timeout ${SAVED_S:-120} node $D/webgpu/run.js savedstats 2>&1 | quiet > $W/savedstats.log ;;
    fused)
      IFS=';' read -ra runs <<<"${FUSED_RUNS:-128 4096 64 4:2:2 3:2:2;64 4096 128 4:2:2 3:2:2}"
      for a in "${runs[@]}"; do timeout ${FUSED_S:-150} node $D/webgpu/fused.js $a 2>> $W/fused.err | grep '^{' >> $W/fused.jsonl; done ;;
    fusedf16)
      IFS=';' read -ra runs <<<"${FUSED_RUNS:-128 4096 64 4 8;64 4096 128 4 8}"
      for a in "${runs[@]}"; do timeout ${FUSED_S:-150} node $D/webgpu/fusedf16.js $a 2>> $W/fusedf16.err | grep '^{' >> $W/fusedf16.jsonl; done ;;
    fulltc)
      IFS=';' read -ra runs <<<"${FULLTC_RUNS:-128 4096 64 64 64:k 64:2;64 4096 128 64 64:k}"
      for a in "${runs[@]}"; do timeout ${FULLTC_S:-150} node $D/webgpu/fulltc.js $a 2>> $W/fulltc.err | grep '^{' >> $W/fulltc.jsonl; done ;;
    quick) timeout ${QUICK_S:-120} node $D/cli/main.js conformance --backends webgpu --no-progress > $W/quick.log 2>&1 ;;
    spread) OUT=$W SPREAD_S=${SPREAD_S:-100} timeout $((${SPREAD_S:-100} + 30)) node $D/webgpu/run.js spread 2>&1 | quiet > $W/spread.log ;;
    spread:cut) [ -f $D/webgpu/run-cut.js ] && mkdir -p $W/cut && OUT=$W/cut SPREAD_S=${SPREAD_S:-100} timeout $((${SPREAD_S:-100} + 30)) node $D/webgpu/run-cut.js spread 2>&1 | quiet > $W/cut/spread.log ;;
    probe) timeout 120 node $D/webgpu/probe.js > $W/probe.jsonl 2> $W/probe.err ;;
    torch) timeout ${TORCH_S:-60} python3 $D/webgpu/torch-sdpa-f32.py ${TORCH_SEQS:-1024,4096,16384} > $W/torch.jsonl 2> $W/torch.err ;;
    grid:*) IFS=: read -r _ dl wk <<<"$step"; bash $D/run.sh webgpu "$dl" "$wk" > $W/grid.log 2>&1 ;;
    bench)
      masks=(""); [ "${BENCH_CAUSAL:-1}" = 1 ] && masks+=(--causal)
      for c in "${masks[@]}"; do
        timeout ${BENCH_S:-240} node $D/cli/main.js bench --backends webgpu --dtype f32 --headdims 64,128 --seqlens $SEQS \
          --repeats ${REPEATS:-3} --warmup 1 $c --json > $W/cli-bench${c:+-causal}.json 2> $W/cli-bench${c:+-causal}.err
      done ;;
  esac
  echo "$step done at $((SECONDS - T0))s" | tee -a $W/timeline.txt
  tar czf $OUT/webgpu.tgz -C /tmp wg # after every step, so that a time-out still returns what was done
done
