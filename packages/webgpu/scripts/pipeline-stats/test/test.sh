#!/usr/bin/env bash
# Checks out/pipeline-stats/ (build.sh first) on this machine's Vulkan driver (lavapipe: no statistics extension):
#  1. vk-stats refuses a device without VK_KHR_pipeline_executable_properties (exit 3, clear message);
#  2. --allow-missing: the driver accepts every kernel's SPIR-V and pipeline layout (JSON lines, no errors);
#  3. through test/fake-exec-props.so (the real driver plus a made-up extension): run.sh's whole path, statistics in
#     JSON, .ir.txt files copied to $OUT;
#  4. the Tint path on small kernels that fit lavapipe (32 KiB workgroup memory, subgroups of 4): run-tint.sh through
#     the fake extension (Dawn's dump, split, spirv-as, vk-stats with Tint's modules, files in $OUT), and each
#     dumped module validated by spirv-val --target-env vulkan1.3 (without MaximallyReconvergesKHR, which this
#     SPIRV-Tools does not know) and accepted by the real driver (--allow-missing);
#  5. run-tint.sh's failure path: a WGSL error and a kernel over lavapipe's workgroup memory, logs kept in $OUT.
# Dawn comes from the repo root's node_modules/webgpu (through a link in a temporary folder).
# Usage: bash packages/webgpu/scripts/pipeline-stats/test/test.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../../.." && pwd)
D=${PIPELINE_STATS_OUT:-$ROOT/out/pipeline-stats}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GALLIVM_PERF=${GALLIVM_PERF:-nopt} LP_NATIVE_VECTOR_WIDTH=${LP_NATIVE_VECTOR_WIDTH:-128}
pass=0 fail=0
check() { if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "ok: $2"; else fail=$((fail + 1)); echo "FAILED: $2"; fi; }
[ -x "$D/vk-stats" ] || { echo "no $D/vk-stats: run build.sh first" >&2; exit 1; }
mapfile -t files < <(sed "s|^|$D/spv/|" "$D/spv/list.txt")

"$D/vk-stats" "${files[0]}" > "$T/1.out" 2> "$T/1.err"
rc=$?
if [ $rc = 0 ]; then
  echo "note: this driver has the extension; check 1 skipped"
else
  [ $rc = 3 ] && grep -q 'VK_KHR_pipeline_executable_properties' "$T/1.err"
  check $? "without the extension: exit 3 and a message ($(tail -1 "$T/1.err" | cut -c1-140))"
fi

"$D/vk-stats" --allow-missing "${files[@]}" > "$T/2.jsonl" 2> "$T/2.err"
rc=$?
node -e '
  const ls = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (ls.length !== +process.argv[2]) throw new Error(`${ls.length} lines`);
  for (const l of ls) { if (l.error) throw new Error(l.file + ": " + l.error); if (l.entryPoint !== "main" || l.bindings.length !== 7) throw new Error("reflection: " + JSON.stringify(l.bindings)); }
  console.log(ls.map((l) => `${l.file.split("/").pop()} ${l.createMs} ms`).join("\n"));' "$T/2.jsonl" "${#files[@]}"
check $(( rc | $? )) "--allow-missing: every pipeline created by $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).driver' "$T/2.jsonl")"

cc -O2 -std=c11 -D_GNU_SOURCE -shared -fPIC -o "$T/fake.so" "$HERE/fake-exec-props.c" -ldl
OUT="$T/out" VK_STATS_LIBVULKAN="$T/fake.so" bash "$D/run.sh" > "$T/3.log" 2>&1
rc=$?
cat "$T/3.log"
node -e '
  const fs = require("fs"), dir = process.argv[1];
  const ls = fs.readFileSync(dir + "/pipeline-stats.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (ls.length !== +process.argv[2]) throw new Error(`${ls.length} lines`);
  for (const l of ls) if (l.error || l.executables[0].stats["Register Count"] !== 168) throw new Error(JSON.stringify(l));
  const ir = fs.readdirSync(dir).filter((f) => f.endsWith(".ir.txt"));
  if (ir.length !== Math.min(4, ls.length)) throw new Error(`${ir.length} .ir.txt files`);
  if (!fs.readFileSync(dir + "/" + ir[0], "utf8").includes("EXIT")) throw new Error("IR text");' "$T/out" "${#files[@]}"
check $(( rc | $? )) "run.sh through the fake extension: statistics and .ir.txt in \$OUT"

# --- 4. Tint path
cat > "$T/small.json" <<'EOF2'
[{"name": "d64-16x8-2x2", "d": 64, "fwd": [16, 8, 2, 2, false, true]},
 {"name": "d64-16x16-2x2-nosg", "d": 64, "fwd": [16, 16, 2, 2, false, true], "subgroups": false},
 {"name": "d64-16x8-2x2-sep-loop", "d": 64, "fwd": [16, 8, 2, 2, true, true], "opts": {"fexp": true}},
 {"name": "d128-16x8-2x2", "d": 128, "fwd": [16, 8, 2, 2, false, true]},
 {"name": "d128-48x32-3x2-big", "d": 128, "fwd": [48, 32, 3, 2, false, true]}]
EOF2
node "$D/make-spv.mjs" "$T/small" "$T/small.json" 2> "$T/make.err" || { cat "$T/make.err"; }
mkdir -p "$T/wg/node_modules"
ln -s "$ROOT/node_modules/webgpu" "$T/wg/node_modules/webgpu"
small=("$T/small/d64-16x8-2x2.wgsl" "$T/small/d64-16x16-2x2-nosg.wgsl" "$T/small/d64-16x8-2x2-sep-loop.wgsl" "$T/small/d128-16x8-2x2.wgsl")
OUT="$T/tout" WEBGPU_ROOT="$T/wg" TINT_KEEP="$T/keep" VK_STATS_LIBVULKAN="$T/fake.so" bash "$D/run-tint.sh" "${small[@]}" > "$T/4.log" 2>&1
rc=$?
cat "$T/4.log"
node -e '
  const fs = require("fs"), dir = process.argv[1];
  const ls = fs.readFileSync(dir + "/tint-stats.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (ls.length !== 4) throw new Error(`${ls.length} lines`);
  for (const l of ls) {
    if (l.error || l.executables[0].stats["Register Count"] !== 168) throw new Error(JSON.stringify(l));
    if (!/\.tint\.spv$/.test(l.file) || l.entryPoint !== "dawn_entry_point" || !l.extensionsEnabled.includes("VK_KHR_shader_maximal_reconvergence")) throw new Error(JSON.stringify(l).slice(0, 600));
  }
  const files = fs.readdirSync(dir).sort().join(" ");
  if (files !== "index.json tint-stats.jsonl tint.log tint.tgz") throw new Error(files);' "$T/tout"
r2=$?
tar tzf "$T/tout/tint.tgz" | grep -c 'tint.spvasm$' | grep -qx 4
check $(( rc | r2 | $? )) "run-tint.sh through the fake extension: 4 kernels dumped by Dawn, assembled, statistics in \$OUT"

ok=0
for a in "$T"/keep/*.tint.spvasm; do
  n=$(basename "$a" .tint.spvasm)
  # The module as Dawn made it less the execution mode this SPIRV-Tools lacks: valid for Vulkan 1.3?
  grep -v 'OpExecutionMode .* MaximallyReconvergesKHR' "$a" > "$T/$n.val.spvasm"
  spirv-as --target-env spv1.4 -o "$T/$n.val.spv" "$T/$n.val.spvasm" && spirv-val --target-env vulkan1.3 "$T/$n.val.spv" || { echo "spirv-val: $n"; ok=1; }
  # The assembled module: Tint's version (1.4), and 3 words more than without the mode (OpExecutionMode %f 6023).
  node -e '
    const fs = require("fs"), a = fs.readFileSync(process.argv[1]), b = fs.readFileSync(process.argv[2]);
    const w = new Uint32Array(a.buffer, a.byteOffset, a.length / 4);
    if (w[1] !== 0x00010400 || a.length !== b.length + 12) throw new Error(`${process.argv[1]}: version ${w[1].toString(16)}, ${a.length} vs ${b.length} bytes`);
    let found = false;
    for (let i = 5; i < w.length; i += w[i] >>> 16) if ((w[i] & 0xffff) === 16 && w[i + 2] === 6023) found = true;
    if (!found) throw new Error("no OpExecutionMode MaximallyReconvergesKHR (6023)");' "$T/keep/$n.tint.spv" "$T/$n.val.spv" || ok=1
done
"$D/vk-stats" --allow-missing "$T"/keep/*.tint.spv > "$T/4b.jsonl" 2> "$T/4b.err" || { cat "$T/4b.err"; ok=1; }
node -e '
  const ls = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (ls.length !== 4) throw new Error(`${ls.length} lines`);
  for (const l of ls) if (l.error || l.bindings.length !== 7) throw new Error(JSON.stringify(l).slice(0, 600));' "$T/4b.jsonl" || ok=1
check $ok "Tint's modules: spirv-val (vulkan1.3) passes, SPIR-V 1.4 kept, MaximallyReconvergesKHR assembled, the real driver creates every pipeline"

# --- 5. failures
printf 'enable subgroups;\n@compute @workgroup_size(64) fn main() { let x: u32 = 1.5; }\n' > "$T/bad.wgsl"
OUT="$T/fout" WEBGPU_ROOT="$T/wg" VK_STATS_LIBVULKAN="$T/fake.so" bash "$D/run-tint.sh" "$T/bad.wgsl" "$T/small/d128-48x32-3x2-big.wgsl" "${small[0]}" > "$T/5.log" 2>&1
rc=$?
cat "$T/5.log"
[ $rc != 0 ] && grep -q 'bad: FAILED: dawn-dump exit 1.*abstract-float' "$T/fout/tint.log" &&
  grep -q 'd128-48x32-3x2-big: FAILED: .*workgroup storage' "$T/fout/tint.log" &&
  [ -f "$T/fout/bad.dump.log" ] && [ -f "$T/fout/d128-48x32-3x2-big.dump.log" ] && grep -q '^d64-16x8-2x2: Register Count=168' "$T/5.log"
check $? "run-tint.sh failures: reported, exit non-zero, dump logs in \$OUT, the other kernel measured"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
