#!/bin/sh
# Boot a measured-direct-boot guest under QEMU with TCG (no SEV or TDX
# hardware needed) and wait for the init program's marker on the serial
# console.
#
#   scripts/boot-guest.sh [-b FIRMWARE] [-k KERNEL] [-i INITRD] [-a CMDLINE]
#                         [-m MARKER] [-t SECONDS] [-o SERIAL_LOG] [DIR]
#
# DIR (default out) is a `measure build guest` output directory: FIRMWARE,
# KERNEL, INITRD and CMDLINE default to DIR/OVMF.fd, DIR/bzImage,
# DIR/initramfs.cpio.gz and the content of DIR/cmdline. The firmware is
# given with -bios. Exit status: 0 when MARKER (default "measure-init:
# booted") appears on the console within SECONDS (default 180), 1 when it
# does not, 2 on a usage error. The serial log is kept (default
# DIR/serial.log) and the time to the marker printed.
set -eu

fw= kernel= initrd= cmdline= cmdline_set= marker='measure-init: booted' timeout=180 log=
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts b:k:i:a:m:t:o:h opt; do
	case $opt in
	b) fw=$OPTARG ;;
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	a) cmdline=$OPTARG; cmdline_set=1 ;;
	m) marker=$OPTARG ;;
	t) timeout=$OPTARG ;;
	o) log=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
dir=${1:-out}
: "${fw:=$dir/OVMF.fd}" "${kernel:=$dir/bzImage}" "${initrd:=$dir/initramfs.cpio.gz}" "${log:=$dir/serial.log}"
if [ -z "$cmdline_set" ]; then
	[ -f "$dir/cmdline" ] || { echo "boot-guest: no -a and no $dir/cmdline" >&2; exit 2; }
	cmdline=$(cat "$dir/cmdline")
fi
for f in "$fw" "$kernel" "$initrd"; do
	[ -f "$f" ] || { echo "boot-guest: $f: no such file" >&2; exit 2; }
done
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "boot-guest: $qemu not found (apt-get install qemu-system-x86)" >&2; exit 2; }

: > "$log"
start=$(date +%s.%N)
# -bios: the firmware image read-only at the top of 4 GiB, its variable
# store volatile. No network, no display, one serial port to the log.
"$qemu" -machine q35,accel=tcg -cpu max -smp 1 -m 512M \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-bios "$fw" -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-serial "file:$log" &
pid=$!
found=
while kill -0 "$pid" 2>/dev/null; do
	if grep -qF -- "$marker" "$log"; then
		found=1
		break
	fi
	if awk "BEGIN { exit !($(date +%s.%N) - $start > $timeout) }"; then
		break
	fi
	sleep 0.5
done
grep -qF -- "$marker" "$log" && found=1
end=$(date +%s.%N)
# The init powers the machine off; give it a moment, then stop QEMU.
for _ in 1 2 3 4 5 6; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
if [ -n "$found" ]; then
	echo "boot-guest: \"$marker\" after ${secs}s (serial log $log)"
	exit 0
fi
echo "boot-guest: no \"$marker\" within ${secs}s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
