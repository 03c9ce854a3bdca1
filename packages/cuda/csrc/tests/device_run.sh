#!/usr/bin/env bash
# Runs on the GPU machine from the repo root. Usage: bash packages/cuda/csrc/tests/device_run.sh BUILD_DIR [steps...]
# steps: test (kernel_test quick), full (kernel_test full), sanitize (memcheck + racecheck on small cases),
#        bench (bench_vs_torch.py, all seqlens, plus the forward tile variants of a `make VARIANTS=1` build),
#        benchs (seqlens 1k/4k/16k), benchq (fp16 only), sass (cuobjdump of flash_hdim128.o; no cuobjdump here),
#        wgmma (BUILD/wgmma_test, the sm90 primitive test), benchab (1k/4k/16k, ours with FLASHATTN_CUDA_SM90=0 and 1),
#        sass90 (HGMMA / LDL / STL counts of the sm90 forward objects, d128 SASS).
# Everything is written under $OUT (the device tool returns at most 8 files).
B=${1:?build dir}; shift
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
T=packages/cuda/csrc/tests
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; date -u; } > "$OUT/device.txt" 2>&1
for step in "$@"; do
  case $step in
    test) timeout 120 "$B/kernel_test" quick > "$OUT/test.txt" 2>&1; echo "test rc=$?" >> "$OUT/summary.txt"; tail -n 3 "$OUT/test.txt" ;;
    full) timeout 400 "$B/kernel_test" full > "$OUT/test_full.txt" 2>&1; echo "full rc=$?" >> "$OUT/summary.txt"; tail -n 3 "$OUT/test_full.txt" ;;
    sanitize)
      timeout 50 compute-sanitizer --tool memcheck --error-exitcode 9 "$B/kernel_test" small > "$OUT/memcheck.txt" 2>&1; echo "memcheck rc=$?" >> "$OUT/summary.txt"
      timeout 50 compute-sanitizer --tool racecheck --error-exitcode 9 "$B/kernel_test" small > "$OUT/racecheck.txt" 2>&1; echo "racecheck rc=$?" >> "$OUT/summary.txt"
      tail -n 2 "$OUT/memcheck.txt" "$OUT/racecheck.txt" ;;
    bench) timeout 170 python3 $T/bench_vs_torch.py "$B/libflash_kernels.so" --variants 0,1,2 --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "bench rc=$?" >> "$OUT/summary.txt" ;;
    benchs) timeout 90 python3 $T/bench_vs_torch.py "$B/libflash_kernels.so" --seqlens 1024,4096,16384 --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "bench rc=$?" >> "$OUT/summary.txt" ;;
    benchq) timeout 300 python3 $T/bench_vs_torch.py "$B/libflash_kernels.so" --dtypes fp16 --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "bench rc=$?" >> "$OUT/summary.txt" ;;
    wgmma) timeout 60 "$B/wgmma_test" > "$OUT/wgmma.txt" 2>&1; echo "wgmma_test rc=$?" >> "$OUT/summary.txt"; tail -n 2 "$OUT/wgmma.txt" ;;
    benchab) timeout 150 python3 $T/bench_vs_torch.py "$B/libflash_kernels.so" --seqlens 1024,4096,16384 --rep 20 --sm90 0,1 --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "benchab rc=$?" >> "$OUT/summary.txt" ;;
    sass90) for f in "$B"/sm90/flash_fwd_sm90_hdim*.o; do echo "== $f"; cuobjdump --dump-sass "$f" > /tmp/s.txt 2>&1;
              echo "HGMMA $(grep -c HGMMA /tmp/s.txt) LDL $(grep -c 'LDL' /tmp/s.txt) STL $(grep -c 'STL' /tmp/s.txt) BAR $(grep -c 'BAR' /tmp/s.txt) WARPSYNC $(grep -c 'WARPGROUP' /tmp/s.txt)"; done > "$OUT/sass90.txt" 2>&1
            cuobjdump --dump-sass "$B"/sm90/flash_fwd_sm90_hdim128.o 2>&1 | xz > "$OUT/fwd128.sass.xz"; cat "$OUT/sass90.txt" ;;
    sass) cuobjdump --dump-sass "$B"/flash_hdim128.o 2>&1 | xz > "$OUT/hdim128.sass.xz"
          ls -la "$OUT" ;;
  esac
done
cat "$OUT/summary.txt"
