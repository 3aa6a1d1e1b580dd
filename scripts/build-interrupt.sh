#!/bin/sh
# SIGTERM in the middle of a real edk2 build: measure must exit 143 with one
# line, every process of the build (host uid 1879048192 when run as root)
# must be gone within 5 s, and the work tree must be removed. Then a second
# build on the same cache must not trust anything the first left.
#
#   scripts/build-interrupt.sh                # MEASURE_CACHE (default /var/cache/measure)
set -eu
cd "$(dirname "$0")/.."
CACHE="${MEASURE_CACHE:-/var/cache/measure}"
OUT="${OUT:-/tmp/measure-interrupt}"
rm -rf "$OUT"; mkdir -p "$OUT"
go build -o "$OUT/measure" ./cmd/measure
"$OUT/measure" build ovmf --recipe debian-trixie --cache "$CACHE" --out "$OUT/out" 2> "$OUT/stderr" &
pid=$!
# Wait until the edk2 build step runs.
i=0
until grep -q 'step firmware debian-trixie: build$' "$OUT/stderr"; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "the build step did not start"; cat "$OUT/stderr"; exit 1; }
	sleep 1
done
sleep 20
before=$(ps -e -o uid= | grep -c '^ *1879048192$' || true)
echo "processes of the sandbox user before SIGTERM: $before"
t0=$(date +%s.%N)
kill -TERM $pid
set +e; wait $pid; code=$?; set -e
t1=$(date +%s.%N)
echo "exit status $code after $(echo "$t1 - $t0" | bc) s"
tail -1 "$OUT/stderr"
[ $code = 143 ] || { echo "FAIL: exit $code, want 143"; exit 1; }
n=0
while [ "$(ps -e -o uid= | grep -c '^ *1879048192$' || true)" != 0 ]; do
	n=$((n + 1)); [ $n -lt 50 ] || { echo "FAIL: processes of the build left 5 s after measure exited:"; ps -e -o pid,uid,args | awk '$2 == 1879048192'; exit 1; }
	sleep 0.1
done
echo "no process of the build left $(echo "$n * 0.1" | bc) s after measure exited"
left=$(find "$CACHE/work" -mindepth 1 -maxdepth 1 ! -name '*.keep' | wc -l)
[ "$left" = 0 ] || { echo "FAIL: $left work trees left in $CACHE/work"; ls "$CACHE/work"; exit 1; }
[ ! -e "$OUT/out/OVMF.fd" ] || { echo "FAIL: an output was written"; exit 1; }
echo "PASS: interrupted build left no process, no work tree and no output"
