# Shared steps of scripts/main.sh and scripts/test.sh: install what is missing, then build.
# Sourced from the repository root. Everything here is idempotent and safe to rerun.

export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
export DEBIAN_FRONTEND=noninteractive
# WebGPU on lavapipe (CPU): LLVM compiles every kernel shape at its first dispatch, and a cold compile of the quick
# set's kernels takes many minutes on 2 cores. Tests need correct code, not fast code, so unless the caller chose
# otherwise: skip LLVM's optimization passes (Mesa's flag is `nopt`; the `no_opt` set here until 2026-11-22 is not a
# flag and did nothing) and compile for 4-wide instead of 8-wide vectors. Measured cold on this 2-core machine, one
# d40 f16 backward case: 83 s as before, 61 s with nopt, 27 s with 128-bit vectors, 19 s with both; the results are
# checked against the oracle either way. (Mesa's disk cache makes warm runs take seconds.)
export GALLIVM_PERF=${GALLIVM_PERF:-nopt}
export LP_NATIVE_VECTOR_WIDTH=${LP_NATIVE_VECTOR_WIDTH:-128}
# lavapipe's subgroup size is its vector width / 32, but Mesa's shader disk cache does not key on the width: a kernel
# compiled for 4-lane subgroups was reused by an 8-lane run and gave wrong results (2026-11-22, k-split test). So each
# width gets its own cache directory, unless the caller chose one.
export MESA_SHADER_CACHE_DIR=${MESA_SHADER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mesa_shader_cache_lp$LP_NATIVE_VECTOR_WIDTH}

say() { printf '\n== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# apt is usable when we are root (or have password-less sudo) and apt-get exists.
APT=""
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then APT="apt-get"; elif sudo -n true 2>/dev/null; then APT="sudo -n apt-get"; fi
fi
APT_UPDATED=0
apt_install() { # apt_install [apt-get install args...]; never fails the caller
  [ -n "$APT" ] || { warn "apt is not usable here (not root, no sudo): cannot install $*"; return 1; }
  if [ "$APT_UPDATED" = 0 ]; then
    $APT update -qq >/dev/null 2>&1 || warn "apt-get update failed"
    APT_UPDATED=1
  fi
  $APT install -y -qq --no-install-recommends "$@" >/tmp/flashattn-apt.log 2>&1 || {
    warn "apt-get install $* failed (see /tmp/flashattn-apt.log):"; tail -3 /tmp/flashattn-apt.log >&2; return 1; }
}

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# System packages the backends need where the machine lacks them: Mesa >= 25 lavapipe (WebGPU through Dawn on the
# CPU), hipcc + HIP headers (ROCm code objects), NumPy (the CLI's .npy test compares against NumPy).
ensure_system_deps() {
  say "system packages"
  local mesa; mesa="$(deb_version mesa-vulkan-drivers)"
  if [ -z "$mesa" ] || [ "${mesa%%.*}" -lt 25 ] 2>/dev/null; then
    if grep -qs 'bookworm' /etc/os-release; then
      if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && [ -n "$APT" ]; then
        echo 'deb http://deb.debian.org/debian bookworm-backports main' | ${APT%apt-get}tee /etc/apt/sources.list.d/backports.list >/dev/null
        APT_UPDATED=0
      fi
      echo "installing mesa-vulkan-drivers from bookworm-backports (lavapipe, for WebGPU on the CPU)"
      apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1 || true
    else
      echo "installing mesa-vulkan-drivers (lavapipe, for WebGPU on the CPU)"
      apt_install mesa-vulkan-drivers libvulkan1 || true
    fi
  fi
  echo "mesa-vulkan-drivers: $(deb_version mesa-vulkan-drivers || true)"
  if ! command -v hipcc >/dev/null 2>&1 || [ -z "$(deb_version libamdhip64-dev)" ]; then
    echo "installing hipcc and libamdhip64-dev (ROCm code objects)"
    apt_install hipcc libamdhip64-dev || true
  fi
  echo "hipcc: $(command -v hipcc || echo missing)"
  if ! python3 -c 'import numpy' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1; then
    echo "installing python3-numpy"
    apt_install python3 python3-numpy || true
  fi
  echo "nvcc: $(command -v nvcc || echo 'missing (the cuda addon is not built; backend cuda shows why)')"
}

# npm dependencies: installed when node_modules is missing or package.json/package-lock.json changed since.
ensure_npm_deps() {
  say "npm dependencies"
  local stamp=node_modules/.flashattn-install-stamp want
  want="$(cat package.json package-lock.json packages/*/package.json apps/*/package.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "up to date"
  else
    # npm ci when the lock file is in sync; npm install otherwise. Install scripts are approved in package.json.
    if ! npm ci --no-audit --no-fund --loglevel=error 2>/tmp/flashattn-npm-ci.log; then
      echo "npm ci refused the lock file ($(grep -m1 'npm error' /tmp/flashattn-npm-ci.log | cut -c1-120)); running npm install"
      npm install --no-audit --no-fund --loglevel=error || { echo "npm install failed" >&2; return 1; }
    fi
    want="$(cat package.json package-lock.json packages/*/package.json apps/*/package.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
    echo "$want" >"$stamp"
  fi
  for tool in bun deno; do
    if ! npx --no-install "$tool" --version >/dev/null 2>&1; then
      echo "$tool binary missing; re-running its install script"
      npm rebuild "$tool" >/dev/null 2>&1 || true
    fi
    printf '%s: %s\n' "$tool" "$(npx --no-install "$tool" --version 2>&1 | head -1)"
  done
}

# Build every workspace with turbo. A package that has no sources yet is left out (and the CLI shows that backend
# as unavailable with that reason) instead of failing the build of everything else.
build_all() {
  say "build (turbo)"
  local filters=() missing=()
  for d in packages/*/ apps/*/; do
    local name; name="$(node -p "require('./${d}package.json').name")"
    if [ -f "${d}src/index.ts" ] || [ -f "${d}src/main.ts" ]; then filters+=("--filter=$name"); else missing+=("$name"); fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    npx turbo run build --output-logs=errors-only
  else
    echo "not built (no src/index.ts yet): ${missing[*]}"
    npx turbo run build --output-logs=errors-only --only "${filters[@]}"
  fi
}
