#!/bin/sh
# Slow path of the firmware builder: real mmdebstrap, real edk2 builds.
# Needs bubblewrap, mmdebstrap, network access to deb.debian.org, ~3 GB under the cache and,
# on 2 cores, ~1 min for the toolchain and 5-11 min per OVMF build.
#
#   scripts/build-ovmf-integration.sh                 # Debian's OVMF, bit for bit, then --check
#   RECIPES=debian-trixie,amdsev scripts/build-ovmf-integration.sh
#
# Environment: MEASURE_CACHE (default /var/cache/measure), RECIPES (the
# recipes to --check, default debian-trixie), OUT (default /tmp/measure-out).
set -eu
cd "$(dirname "$0")/.."
export MEASURE_CACHE="${MEASURE_CACHE:-/var/cache/measure}"
RECIPES="${RECIPES:-debian-trixie}"
OUT="${OUT:-/tmp/measure-out}"

go build -o "$OUT/measure" ./cmd/measure
M="$OUT/measure"

echo "== debian-trixie against Debian's shipped files"
/usr/bin/time -f "%e s" "$M" build ovmf --recipe debian-trixie --cache "$MEASURE_CACHE" --out "$OUT/debian-trixie"
(cd "$OUT/debian-trixie" && sha256sum -c <<SUMS
14954040cc754ade0c625ac3470ea46d4c14318b5b1396de4ef77090203d76db  OVMF.fd
624e06de18b4fa535e90db7160d00d3d07d206422b89999bf1e27d920264e4e0  OVMF_CODE_4M.fd
5d2ac383371b408398accee7ec27c8c09ea5b74a0de0ceea6513388b15be5d1e  OVMF_VARS_4M.fd
SUMS
)

for r in $(echo "$RECIPES" | tr , ' '); do
	echo "== --check $r"
	/usr/bin/time -f "%e s" "$M" build ovmf --check --recipe "$r" --cache "$MEASURE_CACHE" --out "$OUT/check-$r"
done

# The Go integration tests cover the same ground through the library.
if [ "${GO_TESTS:-0}" = 1 ]; then
	MEASURE_CHECK_RECIPES="$RECIPES" go test -tags integration -timeout 4h -v ./builders/firmware -run Integration
fi
