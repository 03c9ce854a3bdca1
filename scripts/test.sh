#!/usr/bin/env bash
# npm test: install what is missing, build, typecheck, vitest over every package, then `flashattn conformance`
# (quick set, every backend) under node, bun and deno, ending with the portability matrix
# runtime x backend -> pass / fail / unavailable: reason. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

T0=$SECONDS
FAILED=()
step() { # step NAME CMD...: run, time, remember failures
  local name="$1"; shift
  local t=$SECONDS
  "$@"
  local rc=$?
  printf -- '-- %s: %s in %ss\n' "$name" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")" "$((SECONDS - t))"
  [ $rc = 0 ] || FAILED+=("$name")
  return $rc
}

step "system packages" ensure_system_deps
step "npm install" ensure_npm_deps || { echo "cannot continue without dependencies" >&2; exit 1; }
step "build" build_all || { echo "cannot continue: the build failed" >&2; exit 1; }
say "typecheck"
step "typecheck" npx turbo run typecheck --output-logs=errors-only
OUT=out/test
rm -rf "$OUT" && mkdir -p "$OUT"
say "vitest"
# Its log is kept: CI shows only the end of ours, so a failure's summary is printed again at the very end.
vitest_logged() { npx vitest run 2>&1 | tee "$OUT/vitest.log"; return "${PIPESTATUS[0]}"; }
step "vitest" vitest_logged
SEED=${FLASHATTN_SEED:-$(( (RANDOM << 15 | RANDOM) ))}
run_conformance() { # run_conformance RUNTIME: the quick set under one runtime, its report, exit code and seconds
  local rt=$1 cmd t rc
  case $rt in
    node) cmd=(node apps/cli/dist/main.js) ;;
    bun) cmd=(npx --no-install bun apps/cli/dist/main.js) ;;
    deno) cmd=(npx --no-install deno run -A apps/cli/dist/main.js) ;;
  esac
  t=$SECONDS
  # One progress line per case on stderr (kept for the matrix), the case matrix on stdout; a hang ends at the timeout.
  timeout -k 10 "${FLASHATTN_CONFORMANCE_TIMEOUT:-3600}" "${cmd[@]}" conformance --seed "$SEED" \
    --report "$OUT/conformance-$rt.json" 2> >(tee "$OUT/conformance-$rt.stderr" >&2)
  rc=$?
  [ $rc = 124 ] && echo "conformance under $rt timed out after ${FLASHATTN_CONFORMANCE_TIMEOUT:-3600} s" | tee -a "$OUT/conformance-$rt.stderr" >&2
  echo "$rc" >"$OUT/conformance-$rt.exit"
  echo "$((SECONDS - t))" >"$OUT/conformance-$rt.seconds"
  printf -- '-- conformance under %s: exit %s in %ss\n' "$rt" "$rc" "$((SECONDS - t))"
}
# Deno (wgpu) runs beside node and bun (Dawn): on a cold machine most of the time is lavapipe compiling shaders on
# one core per process, and wgpu's SPIR-V differs from Dawn's, so Deno shares no shader cache with them anyway.
# Its output is printed when it ends, so the two logs do not interleave.
say "conformance under deno (quick set, seed $SEED), in the background"
run_conformance deno >"$OUT/deno.log" 2>&1 &
DENO_PID=$!
for rt in node bun; do
  say "conformance under $rt (quick set, seed $SEED)"
  run_conformance $rt
done
wait $DENO_PID
say "conformance under deno (quick set, seed $SEED): its output"
cat "$OUT/deno.log"
echo
echo "npm test: steps took $((SECONDS - T0)) s in all; conformance per runtime: $(for rt in node bun deno; do printf '%s %ss  ' "$rt" "$(cat "$OUT/conformance-$rt.seconds" 2>/dev/null || echo '?')"; done)"
say "portability matrix"
node scripts/portability.mjs "$OUT" || FAILED+=("portability matrix")
if [ ${#FAILED[@]} -gt 0 ]; then
  if [[ " ${FAILED[*]} " == *" vitest "* ]]; then
    say "vitest's failures again (whole log: $OUT/vitest.log)"
    # From vitest's "Failed Tests" banner (or its FAIL lines), colours stripped, at most 120 lines.
    sed 's/\x1b\[[0-9;]*m//g' "$OUT/vitest.log" | awk '/Failed Tests|Unhandled Errors/ { on = 1 } on' | head -120
    sed 's/\x1b\[[0-9;]*m//g' "$OUT/vitest.log" | grep -E '^ *(FAIL|×)|Test Files|Tests  ' | head -40
  fi
  echo "npm test: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "npm test: everything passed"
