#!/usr/bin/env bash
# v8 (sm90 d256 backward) device run, one call < 180 s. Usage (repo root): bash packages/cuda/csrc/tests/device_run_d256.sh BUILD
# DTYPES=fp16 to bench fp16 only; QUICK=1 adds kernel_test quick (28 s cap). Writes under $OUT: device.txt, sass256.txt, test256.txt, bench.txt, bench.json, memcheck256.txt, test.txt, summary.txt.
B=${1:?build dir}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
T=packages/cuda/csrc/tests
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; date -u; } > "$OUT/device.txt" 2>&1
{ cuobjdump --dump-sass "$B/sm90/flash_bwd_sm90_hdim256.o" > /tmp/s256.txt 2>&1
  echo "HGMMA $(grep -c HGMMA /tmp/s256.txt) LDL $(grep -c LDL /tmp/s256.txt) STL $(grep -c STL /tmp/s256.txt) RED $(grep -c 'RED' /tmp/s256.txt)"
  grep -o 'HGMMA\.[0-9A-Zx.]*' /tmp/s256.txt | sort | uniq -c; } > "$OUT/sass256.txt" 2>&1
FLASHATTN_SM90_BWD_D256=1 timeout 35 "$B/kernel_test" d256 > "$OUT/test256.txt" 2>&1; echo "test d256 (sm90 d256 on) rc=$?" >> "$OUT/summary.txt"
tail -n 2 "$OUT/test256.txt"
FLASHATTN_CUDA_SM90=6 timeout 65 python3 $T/bench_vs_torch.py "$B/libflash_kernels.so" --dtypes ${DTYPES:-fp16,bf16} --dims 256 --seqlens 1024,4096,16384 \
  --rep 20 --sm90 1,6 --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "bench rc=$?" >> "$OUT/summary.txt"
FLASHATTN_SM90_BWD_D256=1 timeout 20 compute-sanitizer --tool memcheck --error-exitcode 9 "$B/kernel_test" small256 > "$OUT/memcheck256.txt" 2>&1
echo "memcheck small256 rc=$?" >> "$OUT/summary.txt"
if [ -n "$QUICK" ]; then
  FLASHATTN_SM90_BWD_D256=1 timeout 28 "$B/kernel_test" quick > "$OUT/test.txt" 2>&1; echo "quick (sm90 d256 on; 124 = cut by the timeout) rc=$?" >> "$OUT/summary.txt"
fi
cat "$OUT/summary.txt"
