# The CLI bench (wall time, device tensors), defaults, f32, d64/d128, 1k-16k, causal and not.
BENCH_S=260 bash out/device/webgpu/device.sh bench
