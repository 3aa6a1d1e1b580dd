#!/usr/bin/env bash
# Builds the browser verifier (web/, README "In a browser"): web/wasm
# compiled to WebAssembly as measure.wasm, and the Go toolchain's
# JavaScript support file wasm_exec.js copied from its GOROOT, both into
# web/ or, given a directory, into that directory with the page's own files
# (index.html, app.js, style.css), which makes it a complete static site.
#
# The build is reproducible: -trimpath and -buildvcs=false keep paths and
# the working tree's state out of the binary, so the same source and Go
# version give the same bytes (the revision passed with -X is the commit's).
# Neither output is committed (web/.gitignore): measure.wasm is 13 MB.
#
#   scripts/build-web.sh            # web/measure.wasm, web/wasm_exec.js
#   scripts/build-web.sh /tmp/site  # a whole site in /tmp/site
#   scripts/build-web.sh --check    # and again with an empty build cache: the same bytes?
#   go build -tags measure_web ./cmd/measure   # then: measure serve-web
set -euo pipefail
cd "$(dirname "$0")/.."
check=
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
out=${1:-web}
mkdir -p "$out"
goroot=$(go env GOROOT)
support=$goroot/lib/wasm/wasm_exec.js # Go 1.24 and later
[ -f "$support" ] || support=$goroot/misc/wasm/wasm_exec.js
[ -f "$support" ] || { echo "build-web: no wasm_exec.js in $goroot/lib/wasm or $goroot/misc/wasm" >&2; exit 1; }
rev=$(git rev-parse HEAD 2>/dev/null || echo devel)
tmp=$(mktemp "$out/.measure.wasm.XXXXXX")
trap 'rm -f "$tmp"' EXIT
GOOS=js GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags="-s -w -X main.revision=$rev" -o "$tmp" ./web/wasm
chmod 0644 "$tmp"
mv "$tmp" "$out/measure.wasm"
install -m 0644 "$support" "$out/wasm_exec.js"
if [ "$(cd "$out" && pwd -P)" != "$(cd web && pwd -P)" ]; then
  install -m 0644 web/index.html web/app.js web/style.css "$out/"
fi
if [ -n "$check" ]; then
  # Everything compiled anew: an empty build cache.
  cache=$(mktemp -d)
  again=$(mktemp)
  GOCACHE=$cache GOOS=js GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags="-s -w -X main.revision=$rev" -o "$again" ./web/wasm
  chmod -R u+w "$cache" && rm -rf "$cache"
  if ! cmp -s "$again" "$out/measure.wasm"; then
    echo "build-web: not reproducible: a build with an empty cache differs from $out/measure.wasm" >&2
    rm -f "$again"
    exit 1
  fi
  rm -f "$again"
  echo "build-web: reproducible: a build with an empty build cache gives the same $(sha256sum <"$out/measure.wasm" | cut -c1-64)" >&2
fi
raw=$(wc -c <"$out/measure.wasm")
gz=$(gzip -9 -n -c "$out/measure.wasm" | wc -c)
echo "build-web: $out/measure.wasm $raw bytes ($gz gzip -9), $(go env GOVERSION); wasm_exec.js from $support" >&2
