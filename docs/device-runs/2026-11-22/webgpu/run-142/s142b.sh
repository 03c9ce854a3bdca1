# The 12 grid chunks that run 142's time box left out, tensor cores on (the same code).
export FLASHATTN_WEBGPU_TENSOR_CORES=1
D=out/device; X=$D/node_modules/webgpu/dist/linux-x64
[ -f $X/dawn.node ] || xz -dc $X/dawn.node.xz > $X/dawn.node
W=/tmp/fa; rm -rf $W; mkdir -p $W/logs $W/reports
for name in w01-010 w01-011 w01-012 w01-013 w01-014 w01-015 w12-010 w12-011 w12-012 w12-013 w12-014 w12-015; do
  timeout 280 node $D/cli/main.js conformance --backends webgpu --cases $D/cases/$name.json --oracle-workers 1 \
    --report $W/reports/grid-$name.json --no-progress > $W/logs/grid-$name.txt 2>&1 &
done
wait
tail -n 3 $W/logs/*.txt
tar czf $OUT/logs.tgz -C $W logs reports
