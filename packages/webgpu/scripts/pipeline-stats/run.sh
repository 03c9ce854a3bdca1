#!/usr/bin/env bash
# On the GPU machine, from the repo root (carry "out/pipeline-stats" and ".device"):
#   bash .device/on-device.sh bash out/pipeline-stats/run.sh [FILE.spv...]
# Default: every kernel of spv/list.txt (build.sh's variants, in order). Writes to $OUT (default: ./pipeline-stats-out):
#   pipeline-stats.jsonl  one line per kernel (vk-stats), pipeline-stats.err  vk-stats's stderr,
#   index.json            the variants' tiles and workgroup memory, NAME.spv.ir.txt  internal representations
#                         (SASS-like text, if the driver gives any) of the first IR_MAX (4) kernels, gzipped over 8 MiB.
# Extra vk-stats options: VK_STATS_ARGS (e.g. "--no-robust").
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$PWD/pipeline-stats-out}
mkdir -p "$OUT"
# NVIDIA: no disk cache, so that every pipeline is compiled here (statistics come from this compile).
export __GL_SHADER_DISK_CACHE=0
[ -x "$D/vk-stats" ] || chmod +x "$D/vk-stats"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  if [ -f "$D/spv/list.txt" ]; then
    while read -r f; do [ -n "$f" ] && files+=("$D/spv/$f"); done < "$D/spv/list.txt"
  else
    files=("$D"/spv/*.spv)
  fi
fi
cp "$D/spv/index.json" "$OUT/index.json" 2>/dev/null
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
IR=$(mktemp -d)
# shellcheck disable=SC2086
timeout "${VK_STATS_TIMEOUT:-300}" "$D/vk-stats" --ir-dir "$IR" ${VK_STATS_ARGS:-} "${files[@]}" > "$OUT/pipeline-stats.jsonl" 2> "$OUT/pipeline-stats.err"
rc=$?
cat "$OUT/pipeline-stats.err" >&2
n=0
for f in "${files[@]}"; do
  t="$IR/$(basename "$f").ir.txt"
  [ -f "$t" ] || continue
  [ "$n" -lt "${IR_MAX:-4}" ] || break
  if [ "$(stat -c %s "$t")" -gt 8388608 ]; then gzip -c "$t" > "$OUT/$(basename "$t").gz"; else cp "$t" "$OUT/"; fi
  n=$((n + 1))
done
rm -rf "$IR"
# A short table on stdout: each kernel's statistics (node is on PATH through .device/on-device.sh).
if command -v node >/dev/null; then
  node -e '
    for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
      const r = JSON.parse(l), name = r.file.split("/").pop();
      if (r.error) { console.log(`${name}: ERROR ${r.error}`); continue; }
      for (const e of r.executables ?? []) console.log(`${name}: ${Object.entries(e.stats).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    }' "$OUT/pipeline-stats.jsonl"
else
  cat "$OUT/pipeline-stats.jsonl"
fi
echo "vk-stats exit $rc; results in $OUT ($n IR file(s))"
exit $rc
