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
#  5. run-tint.sh's failure path: a WGSL error and a kernel over lavapipe's workgroup memory, logs kept in $OUT;
#  6. cooperative matrices (the tensor-core kernels; Dawn offers no subgroup matrices on lavapipe): run-tint.sh on the
#     real tensor-core forward's WGSL with a fake `webgpu` package whose pipeline creation prints a hand-made Tint-style
#     dump (test/coop-matrix.dump.log) as Dawn would: the Dawn toggles and features dawn-dump asks for, split,
#     placeholders, spirv-as, --patch, and the pipeline created by lavapipe (Mesa's SPIR-V parser reads every
#     cooperative-matrix instruction); test/coop-check.mjs checks the binary word by word against the grammar;
#     --patch refusing a wrong count, --split refusing an unknown enumerant, and the checker rejecting SPIRV-Tools'
#     raw `!<opword>` form (which merges instructions; the reason for the placeholders).
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

# --- 6. cooperative matrices
mkdir -p "$T/fakewg/node_modules/webgpu/dist/linux-x64"
: > "$T/fakewg/node_modules/webgpu/dist/linux-x64/dawn.node" # run-tint.sh looks for it
echo '{"name": "webgpu", "version": "0.0.0-fake", "type": "module", "main": "index.js"}' > "$T/fakewg/node_modules/webgpu/package.json"
cat > "$T/fakewg/node_modules/webgpu/index.js" <<'EOF2'
// A stand-in for dawn.node: pipeline creation prints $FAKE_DAWN_DUMP (what Dawn's dump_shaders would print);
// the create() flags and requested features go to $FAKE_DAWN_ARGS.
import { readFileSync, writeFileSync } from 'node:fs';
export const globals = {};
export function create(flags) {
  const features = new Set(['subgroups', 'shader-f16', 'chromium-experimental-subgroup-matrix', 'timestamp-query']);
  const adapter = {
    features, limits: { maxComputeWorkgroupStorageSize: 49152 }, info: { vendor: 'fake', device: 'fake dawn.node (test.sh)' },
    requestDevice: async (d) => {
      writeFileSync(process.env.FAKE_DAWN_ARGS, JSON.stringify({ flags, features: d.requiredFeatures }));
      return {
        lost: new Promise(() => {}), destroy() {}, pushErrorScope() {}, popErrorScope: async () => null,
        createShaderModule: () => ({ getCompilationInfo: async () => ({ messages: [] }) }),
        createComputePipeline() { process.stdout.write(readFileSync(process.env.FAKE_DAWN_DUMP, 'utf8')); return {}; },
      };
    },
  };
  return { requestAdapter: async () => adapter };
}
EOF2
OUT="$T/cout" WEBGPU_ROOT="$T/fakewg" TINT_KEEP="$T/ckeep" VK_STATS_LIBVULKAN="$T/fake.so" FAKE_DAWN_DUMP="$HERE/coop-matrix.dump.log" \
  FAKE_DAWN_ARGS="$T/fake-args.json" bash "$D/run-tint.sh" "$D/spv/tc-d128-bm48.wgsl" > "$T/6.log" 2>&1
rc=$?
cat "$T/6.log"
node -e '
  const fs = require("fs"), [dir, args] = process.argv.slice(1);
  const ls = fs.readFileSync(dir + "/tint-stats.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (ls.length !== 1 || ls[0].error || ls[0].executables[0].stats["Register Count"] !== 168) throw new Error(JSON.stringify(ls).slice(0, 600));
  if (!/"placeholders":21/.test(fs.readFileSync(dir + "/tint.log", "utf8"))) throw new Error("tint.log: no placeholders:21");
  const a = JSON.parse(fs.readFileSync(args, "utf8"));
  const toggles = a.flags.find((f) => f.startsWith("enable-dawn-features=")) ?? "";
  for (const t of ["dump_shaders", "allow_unsafe_apis", "vulkan_enable_f16_on_nvidia"]) if (!toggles.split(/[=,]/).includes(t)) throw new Error(`toggle ${t}: ${JSON.stringify(a.flags)}`);
  for (const f of ["subgroups", "chromium-experimental-subgroup-matrix", "shader-f16"]) if (!a.features.includes(f)) throw new Error(`feature ${f}: ${JSON.stringify(a.features)}`);' "$T/cout" "$T/fake-args.json"
check $(( rc | $? )) "cooperative matrices through run-tint.sh (fake Dawn printing test/coop-matrix.dump.log): toggles and features asked for, 21 placeholders patched, lavapipe creates the pipeline"

node "$HERE/coop-check.mjs" "$T/ckeep/tc-d128-bm48.tint.spvasm" "$T/ckeep/tc-d128-bm48.tint.spv"
check $? "cooperative-matrix instructions: opcode, word count and operands of each as the grammar says, one binary instruction per line"

ok=0
cp "$T/ckeep/tc-d128-bm48.tint.spv" "$T/patched.spv"
node "$D/dawn-dump.mjs" --patch "$T/patched.spv" 1 2> "$T/6c.err" && ok=1 # already patched: 0 placeholders, not 1
grep -q '0 placeholder(s) found, 1 expected' "$T/6c.err" && cmp -s "$T/patched.spv" "$T/ckeep/tc-d128-bm48.tint.spv" || ok=1
sed 's/ NoneKHR$/ BogusKHR/' "$HERE/coop-matrix.dump.log" > "$T/bogus.log"
node "$D/dawn-dump.mjs" --split "$T/bogus.log" "$T/bogus" 2> "$T/6d.err" && ok=1
grep -q 'OpCooperativeMatrixMulAddKHR: operand "BogusKHR"' "$T/6d.err" || ok=1
node "$D/dawn-dump.mjs" --split "$HERE/coop-matrix.dump.log" "$T/cm" > /dev/null || ok=1
node -e '
  const fs = require("fs"), f = process.argv[1];
  const raw = fs.readFileSync(f + ".as.spvasm", "utf8").split("\n").map((l) => {
    const m = /^(\s*)OpGroupDecorate !(\d+) ([^;]*);/.exec(l);
    if (!m) return l;
    const t = m[3].trim().split(/\s+/);
    return `${m[1]}!${(((t.length + 1) << 16) | Number(m[2])) >>> 0} ${t.join(" ")}`;
  });
  fs.writeFileSync(f + ".raw.spvasm", raw.join("\n"));' "$T/cm" || ok=1
spirv-as --target-env spv1.4 --preserve-numeric-ids -o "$T/cm.raw.spv" "$T/cm.raw.spvasm" || ok=1
node "$HERE/coop-check.mjs" "$T/cm.spvasm" "$T/cm.raw.spv" > "$T/6e.out" 2>&1 && ok=1
grep -q 'instruction swallowed the next' "$T/6e.out" || ok=1
check $ok "--patch refuses a wrong count (file untouched), --split refuses an unknown enumerant, the raw !<opword> form is caught merging instructions"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
