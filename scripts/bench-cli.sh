#!/usr/bin/env bash
# Times measure as a whole process against the physical bound, hashing the
# file with a public tool, back to back in one run (issue 13's acceptance):
#
#   snp       measure snp --ovmf trixie-OVMF.fd --vcpus 4 --vcpu-type EPYC-v4
#             against sha384sum of the file            target <= 1.3
#   tdx       measure tdx --ovmf trixie-OVMF.fd (hex)
#             against sha384sum of the file            target <= 1.3
#   tdx-json  measure tdx --ovmf trixie-OVMF.fd --output json
#             against tdx (hex) plus xz -t of the DXE volume's LZMA stream
#                                                       target <= 1.3
#   peak RSS of measure snp against the file's size    target <= size + 8 MiB
#   --version, for the cost of starting the binary.
#
# measure is built as scripts/release builds it (static: CGO_ENABLED=0,
# -trimpath; the front build, -tags measure_front, with measure-full beside
# it), and the full build (what go install gives) is timed too, for
# --version and snp. Each sample runs a command LOOP times in a shell loop (a
# process of ~10 ms is below the clock's resolution otherwise); samples of
# the two sides alternate, A B A B ..., so both see the same machine, and
# the ratio is taken sample by sample. It prints the median time per run of
# each side and the median ratio; quote ratios, not times: the machines are
# shared and noisy.
#
# usage: scripts/bench-cli.sh [SAMPLES [LOOP]]   (default 11 and 20; needs
# sha384sum, xz and GNU time)
set -euo pipefail
samples=${1:-11}
loop=${2:-20}
top=$(cd "$(dirname "$0")/.." && pwd)
for c in sha384sum xz; do
  command -v "$c" >/dev/null || { echo "bench-cli: $c not found (coreutils, xz-utils)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench-cli: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$top"
fw="$top/testdata/fixtures/trixie-OVMF.fd"
m="$tmp/measure"
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-buildid=" -tags measure_front -o "$m" ./cmd/measure
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-buildid=" -o "$tmp/measure-full" ./cmd/measure
if file "$m" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "bench-cli: $m is dynamically linked, want static" >&2
  exit 1
fi
# The DXE volume's LZMA stream, as the ovmf/fv tests extract it.
go test -c -o "$tmp/fv.test" ./ovmf/fv
(cd ovmf/fv && MEASURE_LZMA_EXTRACT="$tmp" "$tmp/fv.test" -test.run '^TestLZMAFile$' >/dev/null)
dxe="$tmp/trixie-OVMF.lzma"
[ -s "$dxe" ] || { echo "bench-cli: no LZMA stream extracted from $fw" >&2; exit 1; }

# loop CMD...: runs CMD $loop times, prints the seconds per run.
TIMEFORMAT='%3R'
loop() {
  local t
  t=$({ time for _ in $(seq "$loop"); do "$@" >/dev/null 2>&1; done; } 2>&1)
  awk -v t="$t" -v n="$loop" 'BEGIN {printf "%.6f\n", t / n}'
}

# median of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

snp=("$m" snp --ovmf "$fw" --vcpus 4 --vcpu-type EPYC-v4)
tdx=("$m" tdx --ovmf "$fw")
tdxjson=("$m" tdx --ovmf "$fw" --output json)
# Check the commands before timing them.
"${snp[@]}" >/dev/null
"${tdx[@]}" >/dev/null
"${tdxjson[@]}" >/dev/null
xz --format=lzma -t "$dxe"

for _ in $(seq "$samples"); do
  loop sha384sum "$fw" >>"$tmp/sha"
  loop "${snp[@]}" >>"$tmp/snp"
  loop "${tdx[@]}" >>"$tmp/tdx"
  loop xz --format=lzma -t "$dxe" >>"$tmp/xz"
  loop "${tdxjson[@]}" >>"$tmp/tdxjson"
  loop "$m" --version >>"$tmp/version"
  loop "$tmp/measure-full" --version >>"$tmp/fullversion"
  loop "$tmp/measure-full" "${snp[@]:1}" >>"$tmp/fullsnp"
done

# report NAME A B...: the medians of A and of the sum of the Bs, and the
# median of the per-sample ratios A / sum(B).
report() {
  local name=$1 a=$2
  shift 2
  paste -d' ' "$tmp/$a" "${@/#/$tmp/}" >"$tmp/pair"
  printf '%-9s %7.2f ms  vs %-26s %7.2f ms  ratio %5.2f\n' "$name" \
    "$(cut -d' ' -f1 "$tmp/pair" | awk '{print $1 * 1000}' | median)" "$*" \
    "$(awk '{s = 0; for (i = 2; i <= NF; i++) s += $i; print s * 1000}' "$tmp/pair" | median)" \
    "$(awk '{s = 0; for (i = 2; i <= NF; i++) s += $i; if (s < 1e-6) s = 1e-6; print $1 / s}' "$tmp/pair" | median)"
}
echo "medians of $samples samples of $loop runs each, per run:"
report snp snp sha
report tdx tdx sha
report tdx-json tdxjson tdx xz
printf '%-9s %7.2f ms\n' --version "$(awk '{print $1 * 1000}' "$tmp/version" | median)"
echo "the full build (go install ./cmd/measure: every command in one binary):"
report full-snp fullsnp sha
printf '%-9s %7.2f ms\n' --version "$(awk '{print $1 * 1000}' "$tmp/fullversion" | median)"

# Peak RSS (GNU time's maximum resident set size) of one measure snp.
rss=()
for _ in $(seq "$samples"); do
  /usr/bin/time -f '%M' -o "$tmp/rss" "${snp[@]}" >/dev/null
  rss+=("$(cat "$tmp/rss")")
done
size_kib=$(( $(stat -c %s "$fw") / 1024 ))
printf 'peak RSS of snp: %d KiB (median), file %d KiB, target <= %d KiB\n' \
  "$(printf '%s\n' "${rss[@]}" | median)" "$size_kib" "$(( size_kib + 8192 ))"
