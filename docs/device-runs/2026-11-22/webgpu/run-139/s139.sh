# Session 12 final code, defaults (tensor cores 'auto'): quick, gpubench (fwd = training forward with LSE, fwdNoLse =
# inference forward), torch f32 SDPA in the same call.
GPUBENCH_S=110 TORCH_SEQS=1024,2048,4096,8192,16384 TORCH_S=90 bash out/device/webgpu/device.sh quick gpubench torch
node out/device/cli/main.js backends > /tmp/wg/backends.txt 2>&1; tar czf $OUT/webgpu.tgz -C /tmp wg
