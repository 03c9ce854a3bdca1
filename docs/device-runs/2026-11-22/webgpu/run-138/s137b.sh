export FLASHATTN_WEBGPU_TENSOR_CORES=1
bash out/device/webgpu/device.sh grid:230:14
