# Session 12: f16/bf16 with V and P in one f16 piece (bf16 split and scaled, f16 read as it is), tensor cores on for every
# forward: quick set, a forward sweep (f16 direct, f16 split, bf16, f32 without LSE), the grid.
export FLASHATTN_WEBGPU_TENSOR_CORES=1
export TILE_SEQ=4096,16384 SWEEP_S=150
export TILE_VARIANTS='[["f16-direct",{},null,{"dtype":"f16"}],["f16-split",{"tcOpts":{"pvCols":1,"fold":true,"pv":"mma","exp2":"builtin","f16Split":true}},null,{"dtype":"f16"}],["bf16",{},null,{"dtype":"bf16"}],["f32",{},null,{"lse":false}]]'
bash out/device/webgpu/device.sh quick sweep grid:230:14
