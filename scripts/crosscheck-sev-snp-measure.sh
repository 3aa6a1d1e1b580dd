#!/usr/bin/env bash
# Differential test against virtee/sev-snp-measure (Python), which the user
# provides: runs both tools over a grid of firmware images, modes, vCPU counts,
# vCPU signatures, VMM types, guest features and direct-boot inputs, and prints
# a vectors TSV (id, args, expected, note) whose expected values come from
# sev-snp-measure, plus a summary of agreement on stderr.
#
# usage: scripts/crosscheck-sev-snp-measure.sh SEV_SNP_MEASURE_DIR FIXTURES_DIR > vectors.tsv
#   SEV_SNP_MEASURE_DIR  a checkout of virtee/sev-snp-measure (run with python3)
#   FIXTURES_DIR         the directory with debian/ and upstream/ fixtures
set -euo pipefail
ssm=${1:?usage: $0 SEV_SNP_MEASURE_DIR FIXTURES_DIR}
fx=${2:?usage: $0 SEV_SNP_MEASURE_DIR FIXTURES_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d)/measure
(cd "$top" && go build -o "$bin" ./cmd/measure)

declare -A images=(
  [BOOKWORM_OVMF]=$fx/debian/bookworm-OVMF.fd
  [BOOKWORM_CODE]=$fx/debian/bookworm-OVMF_CODE.fd
  [TRIXIE_OVMF]=$fx/debian/trixie-OVMF.fd
  [AMDSEV_SUFFIX]=$fx/upstream/ovmf_AmdSev_suffix.bin
  [OVMFX64_SUFFIX]=$fx/upstream/ovmf_OvmfX64_suffix.bin
)
KERNEL=$fx/debian/vmlinuz-6.1.0-56-cloud-amd64
INITRD=$fx/test-initrd.cpio
INITRD1M=$fx/zero-initrd-1MiB.bin
agree=0 differ=0 n=0

# row ID MEASURE_ARGS -- SSM_ARGS: prints a TSV row and compares the tools.
row() {
  local id=$1; shift
  local margs=() sargs=()
  while [ "$1" != "--" ]; do margs+=("$1"); shift; done; shift
  sargs=("$@")
  local want got
  want=$(cd "$ssm" && python3 sev-snp-measure.py "${sargs[@]}" 2>/dev/null) || want=ERROR
  case "$want" in *[!0-9a-f]*|"") want=ERROR ;; esac
  got=$(env "${envs[@]}" "$bin" $(eval echo "${margs[@]}") 2>/dev/null) || got=ERROR
  n=$((n+1))
  if [ "$want" = "$got" ]; then agree=$((agree+1)); else differ=$((differ+1)); echo "differ: $id: sev-snp-measure $want, measure $got" >&2; fi
  printf '%s\t%s\t%s\t\n' "$id" "${margs[*]}" "$want"
}

printf 'id\targs\texpected\tnote\n'
envs=()
for name in BOOKWORM_OVMF BOOKWORM_CODE TRIXIE_OVMF AMDSEV_SUFFIX OVMFX64_SUFFIX; do
  envs+=("$name=${images[$name]}")
done
envs+=("KERNEL=$KERNEL" "INITRD=$INITRD" "INITRD1M=$INITRD1M")
export "${envs[@]}"

for name in BOOKWORM_OVMF TRIXIE_OVMF AMDSEV_SUFFIX OVMFX64_SUFFIX BOOKWORM_CODE; do
  img=${images[$name]}
  lc=$(echo "$name" | tr 'A-Z_' 'a-z-')
  row "gen-sev-$lc" sev --ovmf "\$$name" -- --mode sev --ovmf "$img"
  row "gen-ovmfhash-$lc" snp-ovmf-hash --ovmf "\$$name" -- --mode snp:ovmf-hash --ovmf "$img"
  for sig in 0x800f12 0x830f10 0xa00f11 0xa10f10 0xb00f00; do
    for v in 1 2 7 64; do
      row "gen-seves-$lc-$sig-$v" seves --vcpus $v --vcpu-sig $sig --ovmf "\$$name" -- --mode seves --vcpus $v --vcpu-sig $sig --ovmf "$img"
      for gf in 0x1 0x21; do
        row "gen-snp-qemu-$lc-$sig-$v-$gf" snp --vcpus $v --vcpu-sig $sig --guest-features $gf --ovmf "\$$name" -- --mode snp --vcpus $v --vcpu-sig $sig --guest-features $gf --ovmf "$img"
      done
    done
  done
  for vmm in ec2 gce; do
    for v in 1 3 96; do
      row "gen-snp-$vmm-$lc-$v" snp --vcpus $v --vmm-type $vmm --ovmf "\$$name" -- --mode snp --vcpus $v --vmm-type $vmm --ovmf "$img"
    done
  done
done
# Measured direct boot with the AmdSevX64 suffix: initrd and command line variants.
for mode in sev seves snp; do
  vflags=""; [ $mode = sev ] || vflags="--vcpus 2 --vcpu-type EPYC-Milan"
  row "gen-$mode-kernel-only" $mode $vflags --ovmf '$AMDSEV_SUFFIX' --kernel '$KERNEL' -- --mode $mode $vflags --ovmf "${images[AMDSEV_SUFFIX]}" --kernel "$KERNEL"
  row "gen-$mode-kernel-initrd1m" $mode $vflags --ovmf '$AMDSEV_SUFFIX' --kernel '$KERNEL' --initrd '$INITRD1M' -- --mode $mode $vflags --ovmf "${images[AMDSEV_SUFFIX]}" --kernel "$KERNEL" --initrd "$INITRD1M"
  row "gen-$mode-kernel-append" $mode $vflags --ovmf '$AMDSEV_SUFFIX' --kernel '$KERNEL' --initrd '$INITRD' --append 'root=/dev/vda1' -- --mode $mode $vflags --ovmf "${images[AMDSEV_SUFFIX]}" --kernel "$KERNEL" --initrd "$INITRD" --append "root=/dev/vda1"
done
for vmm in ec2 gce; do
  row "gen-snp-$vmm-kernel" snp --vcpus 4 --vmm-type $vmm --ovmf '$AMDSEV_SUFFIX' --kernel '$KERNEL' --initrd '$INITRD' -- --mode snp --vcpus 4 --vmm-type $vmm --ovmf "${images[AMDSEV_SUFFIX]}" --kernel "$KERNEL" --initrd "$INITRD"
done
echo "$n rows: $agree agree, $differ differ" >&2
