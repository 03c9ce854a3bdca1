export FLASHATTN_WEBGPU_TENSOR_CORES=1
SPREAD_TRIALS=8 SPREAD_S=75 GPUBENCH_S=80 TORCH_SEQS=1024,4096,16384 bash out/device/webgpu/device.sh quick spread spread:cut gpubench torch
