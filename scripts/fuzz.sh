#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each) and copies the
# inputs the fuzzer found interesting into the packages' testdata/fuzz, so
# that `go test` replays them as seeds.
#
# usage: scripts/fuzz.sh [SECONDS [PACKAGE...]]
# Minimisation is off: on these inputs it can stall for minutes per input.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cache=$(go env GOCACHE)/fuzz
mod=$(go list -m)
shift || true
for pkg in $(go list "${@:-./...}"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== $pkg $target (${secs}s)"
    go test -run XXX -fuzz "^${target}\$" -fuzztime "${secs}s" -fuzzminimizetime 0 -parallel 2 "$pkg" 2>&1 | grep -E 'execs:|FAIL|PASS|ok' | tail -3
    src="$cache/$pkg/$target"
    if [ -d "$src" ]; then
      mkdir -p "$dir/testdata/fuzz/$target"
      cp -n "$src"/* "$dir/testdata/fuzz/$target/" 2>/dev/null || true
    fi
  done
done
