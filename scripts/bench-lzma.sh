#!/usr/bin/env bash
# Times ovmf/fv's LZMA decoder against xz on the DXE volume of Debian's
# OVMF (the LzmaCustomDecompress section of testdata/fixtures/*-OVMF.fd),
# as whole processes run in turn, xz then ours, so that both see the same
# machine: `xz --format=lzma -dc FILE >/dev/null` and `xz --format=lzma -t
# FILE` against the package's test binary decoding FILE once (TestLZMAFile
# with MEASURE_LZMA_FILE). It prints, per fixture and figure, the median
# wall and CPU (user+sys) seconds, the median of the per-pair ratios
# ours/xz, and the peak RSS of each; the target is a ratio of at most 1.2
# (issue 13). It also says whether the range decoder's bit functions are
# still inlined.
#
# usage: scripts/bench-lzma.sh [RUNS]   (default 11; needs xz and GNU time)
set -euo pipefail
runs=${1:-11}
top=$(cd "$(dirname "$0")/.." && pwd)
command -v xz >/dev/null || { echo "bench-lzma: xz not found (apt-get install xz-utils)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-lzma: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$top"
inl=$(go build -gcflags=-m ./ovmf/fv 2>&1)
for f in bit bitNoBranch normalize; do
  if grep -q "can inline rangeDecoder\.$f\$" <<<"$inl"; then
    echo "rangeDecoder.$f: inlined"
  else
    echo "rangeDecoder.$f: NOT inlined (see go build -gcflags=-m=2 ./ovmf/fv)"
  fi
done
go test -c -o "$tmp/fv.test" ./ovmf/fv
(cd ovmf/fv && MEASURE_LZMA_EXTRACT="$tmp" "$tmp/fv.test" -test.run '^TestLZMAFile$' >/dev/null)

# one LABEL CMD...: runs CMD once, appends "wall cpu maxrss_kb" to
# $tmp/LABEL (bash's time for milliseconds, GNU time for the peak RSS).
TIMEFORMAT='%3R %3U %3S'
one() {
  local label=$1 t
  shift
  t=$({ time /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null 2>&1; } 2>&1)
  echo "$t $(cat "$tmp/rss")" | awk '{printf "%.3f %.3f %d\n", $1, $2 + $3, $4}' >>"$tmp/$label"
}

# median of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# report NAME A B: per figure, the medians of A and B and of the ratios
# A/B taken pair by pair (run i of A with run i of B).
report() {
  local name=$1 a=$2 b=$3
  for col in 1:wall 2:cpu; do
    local i=${col%%:*} what=${col#*:}
    printf '%-26s %-4s ours %6.3fs  xz %6.3fs  ratio %5.2f\n' "$name" "$what" \
      "$(cut -d' ' -f"$i" "$tmp/$a" | median)" "$(cut -d' ' -f"$i" "$tmp/$b" | median)" \
      "$(paste -d' ' "$tmp/$a" "$tmp/$b" | awk -v i="$i" '{y = $(i+3); if (y < 0.001) y = 0.001; print $(i) / y}' | median)"
  done
  printf '%-26s peak RSS ours %d KiB  xz %d KiB\n' "$name" \
    "$(cut -d' ' -f3 "$tmp/$a" | median)" "$(cut -d' ' -f3 "$tmp/$b" | median)"
}

for f in "$tmp"/*.lzma; do
  n=$(basename "$f" .lzma)
  # warm-up: page cache, binaries.
  xz --format=lzma -dc "$f" >/dev/null
  MEASURE_LZMA_FILE="$f" "$tmp/fv.test" -test.run '^TestLZMAFile$' >/dev/null
  for _ in $(seq "$runs"); do
    one "$n.xzd" xz --format=lzma -dc "$f"
    MEASURE_LZMA_FILE="$f" one "$n.go1" "$tmp/fv.test" -test.run '^TestLZMAFile$'
    one "$n.xzt" xz --format=lzma -t "$f"
    MEASURE_LZMA_FILE="$f" one "$n.go2" "$tmp/fv.test" -test.run '^TestLZMAFile$'
  done
  report "$n vs xz -dc" "$n.go1" "$n.xzd"
  report "$n vs xz -t" "$n.go2" "$n.xzt"
done
