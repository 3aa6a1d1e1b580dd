#!/bin/sh
# The slow guest checks: `measure build guest --check` (firmware, kernel and
# initramfs built twice and compared), then, on build a: the reference
# values against `measure snp` run on the same files, the QEMU boot test and
# the digest-changes test. Needs root, qemu-system-x86 and, the first time,
# Debian's archive. Times of each stage are printed.
#
#   sudo scripts/guest-integration.sh
#   sudo OUT=/tmp/guest JOBS=2 BOOT_FIRMWARE=testdata/fixtures/trixie-OVMF.fd scripts/guest-integration.sh
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-/var/cache/measure/guest-check}
JOBS=${JOBS:-0}
RECIPE=${RECIPE:-minimal}
# AmdSevX64 refuses -kernel blobs without SEV (no hashes table), so the TCG
# boot uses an OVMF without the blob verifier: Debian's, which the
# debian-trixie firmware recipe reproduces bit for bit.
BOOT_FIRMWARE=${BOOT_FIRMWARE:-testdata/fixtures/trixie-OVMF.fd}
BIN=$(mktemp -d)/measure
go build -o "$BIN" ./cmd/measure

t0=$(date +%s)
"$BIN" build guest --recipe "$RECIPE" --check --out "$OUT" --jobs "$JOBS"
echo "build guest --check: $(( $(date +%s) - t0 )) s"
A=$OUT/a
sha256sum "$OUT"/a/OVMF.fd "$OUT"/b/OVMF.fd "$OUT"/a/bzImage "$OUT"/b/bzImage \
	"$OUT"/a/initramfs.cpio.gz "$OUT"/b/initramfs.cpio.gz "$OUT"/a/reference-values.json "$OUT"/b/reference-values.json

# The reference values equal what `measure snp` prints for the same files.
fail=0
for t in EPYC-v4 EPYC-Milan EPYC-Genoa; do
	for n in 1 2 4; do
		d=$("$BIN" snp --ovmf "$A/OVMF.fd" --kernel "$A/bzImage" --initrd "$A/initramfs.cpio.gz" \
			--append "$(cat "$A/cmdline")" --vcpus "$n" --vcpu-type "$t")
		if grep -q "\"$d\"" "$A/reference-values.json"; then
			echo "snp $t x$n: $d (in reference-values.json)"
		else
			echo "snp $t x$n: $d NOT in reference-values.json" >&2
			fail=1
		fi
	done
done
[ $fail = 0 ]

t0=$(date +%s)
GUEST_DIR=$A BOOT_FIRMWARE=$(realpath "$BOOT_FIRMWARE") go test -count=1 -tags integration -run Integration -v ./builders/guest
echo "integration tests: $(( $(date +%s) - t0 )) s"
