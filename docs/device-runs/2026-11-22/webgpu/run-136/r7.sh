#!/usr/bin/env bash
# No FLASHATTN_WEBGPU_TENSOR_CORES: the default ('auto') is what is measured.
unset FLASHATTN_WEBGPU_TENSOR_CORES
D=out/device
X=$D/node_modules/webgpu/dist/linux-x64
[ -f $X/dawn.node ] || xz -dc $X/dawn.node.xz > $X/dawn.node
node $D/cli/main.js backends > $OUT/backends.txt 2>&1; grep -i -A3 webgpu $OUT/backends.txt | head -12
timeout 100 node $D/cli/main.js conformance --backends webgpu --no-progress > $OUT/quick.txt 2>&1; echo "quick rc $?"; tail -n 1 $OUT/quick.txt
export GPUBENCH_S=130 TORCH_SEQS=1024,2048,4096,8192,16384 BENCH_S=75
bash $D/webgpu/device.sh torch gpubench bench
cp /tmp/wg/torch.jsonl /tmp/wg/bench.jsonl /tmp/wg/cli-bench*.json $OUT/ 2>/dev/null
python3 - <<'PY'
import json, os
O=os.environ['OUT']
t={}
for l in open(O+'/torch.jsonl'):
    r=json.loads(l); t[(r['d'],r['s'],r['causal'])]=r
for l in open(O+'/bench.jsonl'):
    r=json.loads(l); k=(r['d'],r['s'],r['causal']); tr=t.get(k)
    print(k, 'fwd', round(r['fwdMs'],3), 'ms', round(r['fwdTflops'],1), 'torch', round(tr['fwdTflops'],1) if tr else None, f"{100*r['fwdTflops']/tr['fwdTflops']:.0f}%" if tr else '', 'fb', round(r['fwdBwdTflops'],1), 'torch fb', round(tr['fwd+bwdTflops'],1) if tr else None)
PY
