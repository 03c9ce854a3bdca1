#!/usr/bin/env bash
# npm run main: set up what is missing on this machine, build, then run `flashattn conformance` on every backend the
# machine has (the CPU reference at least). Extra arguments go to conformance, e.g. `npm run main -- --full`.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_system_deps
ensure_npm_deps || exit 1
build_all || { echo "build failed" >&2; exit 1; }

say "flashattn backends"
node apps/cli/dist/main.js backends
say "flashattn conformance $*"
node apps/cli/dist/main.js conformance "$@"
