#!/usr/bin/env bash
# The statistics of the SPIR-V that Dawn really runs (Tint's), on the GPU machine, from the repo root
# (carry ".device", "out/device" and "out/pipeline-stats"):
#   bash .device/on-device.sh bash out/pipeline-stats/run-tint.sh [FILE.wgsl...]
# Default: the WGSL of every kernel of spv/list.txt. Per kernel: dawn-dump.mjs compiles it with Dawn (dump_shaders
# on; one node process, at most DUMP_S=20 s), `dawn-dump.mjs --split` takes Tint's SPIR-V disassembly from its
# output, bin/spirv-as assembles it to NAME.tint.spv (`dawn-dump.mjs --patch` then puts in the cooperative-matrix
# instructions, which this spirv-as does not know); then vk-stats runs on all of them. Writes to $OUT (default
# ./pipeline-stats-out):
#   tint-stats.jsonl   one line per kernel (vk-stats; "file" ends in NAME.tint.spv)
#   tint.log           each kernel's dump/assembly status, Dawn's adapter line, vk-stats's stderr
#   tint.tgz           NAME.tint.spvasm (Tint's SPIR-V as dumped), the dump logs of kernels that failed, and the
#                      driver's internal representations (NAME.tint.spv.ir.txt) of the first IR_MAX (4) kernels
#   NAME.dump.log      the dump log of a kernel that failed (at most FAIL_MAX=2, and only while $OUT has < 8 files)
#   index.json, gpu.txt  as run.sh (when not there yet)
# and prints "NAME: Register Count=..., ..." per kernel (with naga's numbers alongside where run.sh ran before into
# the same $OUT: `IR_MAX=0 bash out/pipeline-stats/run.sh; bash out/pipeline-stats/run-tint.sh`).
# Dawn: the `webgpu` package (node_modules/webgpu with dist/linux-x64/dawn.node, unpacked from dawn.node.xz when
# only that is there) of $WEBGPU_ROOT, else out/device (the main device bundle), else the repo root. Options:
# DAWN_DUMP_FLAGS (';'-separated create() flags, e.g. 'enable-dawn-features=disable_robustness'), VK_STATS_ARGS,
# DUMP_JOBS (parallel dumps, default 4), TINT_KEEP=DIR (also copy NAME.tint.spv and .tint.spvasm there).
set -u
D=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$D/../.." && pwd)
OUT=${OUT:-$PWD/pipeline-stats-out}
mkdir -p "$OUT"
export __GL_SHADER_DISK_CACHE=0
log() { echo "$*" >> "$OUT/tint.log"; }
: > "$OUT/tint.log"

# --- Dawn: a folder R with R/node_modules/webgpu; the bundled script is copied into R so that import('webgpu') finds it.
R=""
for c in ${WEBGPU_ROOT:-} "$ROOT/out/device" "$ROOT"; do
  [ -f "$c/node_modules/webgpu/package.json" ] || continue
  X=$c/node_modules/webgpu/dist/linux-x64
  if [ ! -f "$X/dawn.node" ] && [ -f "$X/dawn.node.xz" ]; then xz -dc "$X/dawn.node.xz" > "$X/dawn.node.tmp" && mv "$X/dawn.node.tmp" "$X/dawn.node"; fi
  [ -f "$X/dawn.node" ] && { R=$c; break; }
done
[ -n "$R" ] || { echo "run-tint: no node_modules/webgpu with dawn.node in \$WEBGPU_ROOT, out/device or the repo root (carry out/device)" | tee -a "$OUT/tint.log" >&2; exit 3; }
cp "$D/dawn-dump.mjs" "$R/.pipeline-stats-dawn-dump.mjs"
DUMP="$R/.pipeline-stats-dawn-dump.mjs"
log "dawn: $R/node_modules/webgpu ($(node -p 'require(process.argv[1]).version' "$R/node_modules/webgpu/package.json" 2>/dev/null))"

# --- spirv-as: the copy build.sh made (with its libstdc++ when the machine's is too old), else the machine's.
AS="$D/bin/spirv-as"
[ -x "$AS" ] || chmod +x "$AS" 2>/dev/null
if ! "$AS" --version >/dev/null 2>&1; then
  if [ -d "$D/bin/lib" ] && LD_LIBRARY_PATH="$D/bin/lib" "$AS" --version >/dev/null 2>&1; then AS_ENV="LD_LIBRARY_PATH=$D/bin/lib"
  elif command -v spirv-as >/dev/null; then AS=$(command -v spirv-as)
  else echo "run-tint: $D/bin/spirv-as does not run here and there is no spirv-as" | tee -a "$OUT/tint.log" >&2; exit 3; fi
fi
spirv_as() { env ${AS_ENV:-} "$AS" "$@"; }
log "spirv-as: $AS ($(spirv_as --version 2>&1 | head -1))"

# --- kernels
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  while read -r f; do [ -n "$f" ] && files+=("$D/spv/${f%.spv}.wgsl"); done < "$D/spv/list.txt"
fi
W=$(mktemp -d /tmp/tint-stats.XXXXXX)
mkdir -p "$W/spv" "$W/ir"

# One kernel: dump (time-boxed), split, assemble. Status in $W/NAME.status ("ok" or "FAILED: why").
one() {
  local f=$1 n; n=$(basename "$f" .wgsl)
  local L="$W/$n.dump.log" t0=$SECONDS
  timeout -k 2 "${DUMP_S:-20}" node "$DUMP" "$f" > "$L" 2>&1
  local rc=$?
  if [ $rc != 0 ]; then
    local why; why=$(grep -m1 '^dawn-dump: error' "$L" | cut -c1-300)
    [ $rc = 124 ] || [ $rc = 137 ] && why="timed out after ${DUMP_S:-20} s"
    echo "FAILED: dawn-dump exit $rc: ${why:-$(tail -1 "$L" | cut -c1-300)}" > "$W/$n.status"
    return
  fi
  local info
  if ! info=$(node "$DUMP" --split "$L" "$W/spv/$n.tint" 2>> "$W/$n.split.err"); then
    echo "FAILED: split: $(cut -c1-300 "$W/$n.split.err" | head -2 | tr '\n' ' ')" > "$W/$n.status"
    return
  fi
  local tenv; tenv=$(node -p 'JSON.parse(process.argv[1]).targetEnv' "$info")
  if ! spirv_as --target-env "$tenv" --preserve-numeric-ids -o "$W/spv/$n.tint.spv" "$W/spv/$n.tint.as.spvasm" 2> "$W/$n.as.err"; then
    echo "FAILED: spirv-as: $(head -3 "$W/$n.as.err" | tr '\n' ' ')" > "$W/$n.status"
    cat "$W/$n.as.err" >> "$L"
    return
  fi
  # The cooperative-matrix instructions' placeholders -> the real instructions (dawn-dump.ts header).
  local np; np=$(node -p 'JSON.parse(process.argv[1]).placeholders ?? 0' "$info")
  if ! node "$DUMP" --patch "$W/spv/$n.tint.spv" "$np" > /dev/null 2> "$W/$n.as.err"; then
    echo "FAILED: patch: $(head -3 "$W/$n.as.err" | tr '\n' ' ')" > "$W/$n.status"
    cat "$W/$n.as.err" >> "$L"
    return
  fi
  echo "ok ($((SECONDS - t0)) s; $info)" > "$W/$n.status"
  grep -m1 '^dawn-dump: adapter' "$L" > "$W/$n.adapter"
  rm -f "$W/spv/$n.tint.as.spvasm" "$L" # dump logs are kept for failures only
}

jobs=0
for f in "${files[@]}"; do
  if [ ! -f "$f" ]; then echo "FAILED: no such file $f" > "$W/$(basename "$f" .wgsl).status"; continue; fi
  one "$f" &
  jobs=$((jobs + 1))
  if [ $jobs -ge "${DUMP_JOBS:-4}" ]; then wait -n; jobs=$((jobs - 1)); fi
done
wait
rm -f "$DUMP"

spvs=()
failed=()
for f in "${files[@]}"; do
  n=$(basename "$f" .wgsl)
  s=$(cat "$W/$n.status" 2>/dev/null || echo "FAILED: no status")
  log "$n: $s"
  [ -f "$W/$n.split.err" ] && sed "s/^/  /" "$W/$n.split.err" >> "$OUT/tint.log"
  case $s in ok*) spvs+=("$W/spv/$n.tint.spv") ;; *) failed+=("$n"); echo "$n: $s" >&2 ;; esac
done
cat "$W"/*.adapter 2>/dev/null | sort -u >> "$OUT/tint.log"

# --- vk-stats on every assembled kernel
rc=0
: > "$OUT/tint-stats.jsonl"
if [ ${#spvs[@]} -gt 0 ]; then
  [ -x "$D/vk-stats" ] || chmod +x "$D/vk-stats"
  # shellcheck disable=SC2086
  timeout "${VK_STATS_TIMEOUT:-300}" "$D/vk-stats" --ir-dir "$W/ir" ${VK_STATS_ARGS:-} "${spvs[@]}" > "$OUT/tint-stats.jsonl" 2> "$W/vk-stats.err"
  rc=$?
  echo "vk-stats exit $rc" >> "$W/vk-stats.err"
  cat "$W/vk-stats.err" >> "$OUT/tint.log"
  grep -v '^vk-stats: device [0-9]*:' "$W/vk-stats.err" >&2
fi

# --- files back
[ -f "$OUT/index.json" ] || cp "$D/spv/index.json" "$OUT/index.json" 2>/dev/null
[ -f "$OUT/gpu.txt" ] || { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1; }
T=$W/tgz
mkdir -p "$T"
cp "$W"/spv/*.tint.spvasm "$T/" 2>/dev/null
cp "$W"/*.dump.log "$T/" 2>/dev/null
k=0
for s in "${spvs[@]}"; do
  i="$W/ir/$(basename "$s").ir.txt"
  [ -f "$i" ] && [ $k -lt "${IR_MAX:-4}" ] && { cp "$i" "$T/"; k=$((k + 1)); }
done
tar czf "$OUT/tint.tgz" -C "$T" .
if [ "$(stat -c %s "$OUT/tint.tgz")" -gt 16000000 ]; then # over what comes back: without the IR
  rm -f "$T"/*.ir.txt
  tar czf "$OUT/tint.tgz" -C "$T" .
  log "tint.tgz: internal representations left out (over 16 MB)"
fi
c=0
for n in "${failed[@]}"; do
  [ $c -lt "${FAIL_MAX:-2}" ] && [ "$(find "$OUT" -maxdepth 1 -type f | wc -l)" -lt 8 ] || break
  [ -f "$W/$n.dump.log" ] && { cp "$W/$n.dump.log" "$OUT/"; c=$((c + 1)); }
done

# --- one line per kernel on stdout (node is on PATH through .device/on-device.sh)
node -e '
  const fs = require("fs"), [jsonl, naga] = process.argv.slice(1);
  const pick = (st) => Object.entries(st ?? {}).filter(([k]) => /register|binary size|shared memory|local memory|spill|stack/i.test(k));
  const nagaStats = new Map();
  if (fs.existsSync(naga))
    for (const l of fs.readFileSync(naga, "utf8").split("\n").filter(Boolean)) {
      const r = JSON.parse(l);
      if (r.executables?.[0]) nagaStats.set(r.file.split("/").pop().replace(/\.spv$/, ""), r.executables[0].stats);
    }
  for (const l of fs.readFileSync(jsonl, "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(l), name = r.file.split("/").pop().replace(/\.tint\.spv$/, "");
    if (r.error) { console.log(`${name}: ERROR ${r.error}`); continue; }
    if (!r.executables) { console.log(`${name}: pipeline created, no statistics (${r.note ?? ""})`); continue; }
    const ng = nagaStats.get(name);
    for (const e of r.executables)
      console.log(`${name}: ${pick(e.stats).map(([k, v]) => `${k}=${v}${ng && k in ng ? ` (naga ${ng[k]})` : ""}`).join(", ")}`);
  }' "$OUT/tint-stats.jsonl" "$OUT/pipeline-stats.jsonl"
if [ -n "${TINT_KEEP:-}" ]; then mkdir -p "$TINT_KEEP" && cp "$W"/spv/*.tint.spv* "$TINT_KEEP/" 2>/dev/null; fi
rm -rf "$W"
echo "run-tint: ${#spvs[@]} of ${#files[@]} kernel(s) dumped and assembled; vk-stats exit $rc; results in $OUT"
[ ${#failed[@]} = 0 ] && [ $rc = 0 ]
