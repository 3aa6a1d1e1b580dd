// Package tdx computes, from an OVMF/TDVF firmware image and the VMM's
// configuration, the measurements an Intel TDX module and the TD's firmware
// report for a guest started by QEMU/KVM: MRTD (TDX Module ABI:
// TDH.MEM.PAGE.ADD and TDH.MR.EXTEND over the sections of the TDVF metadata)
// and the predicted event log of RTMR0 to RTMR3 for QEMU direct boot (the TD
// HOB, the configuration firmware volume, UEFI variables, ACPI tables, the
// kernel's Authenticode digest, the EFI stub's command line and initrd).
//
// Every input that changes a value is a field of Config: page-add order,
// QEMU version, memory size, kernel-header patching, the ACPI tables QEMU
// generated. Whatever cannot be derived from the inputs is reported as not
// computable, with the reason, never guessed.
//
// It does not read files, verify quotes or parse CCEL event logs.
// Standard library only.
package tdx

import (
	"encoding/hex"
	"fmt"
)

// Digest is a SHA-384 value: MRTD, an RTMR or an event digest.
type Digest [48]byte

// String returns lower-case hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler as lower-case hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it takes 96 hex digits.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDigest parses 48 bytes written as 96 hex digits.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("digest %q: %d hex digits, want %d", s, len(s), 2*len(d))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest %q: %w", s, err)
	}
	return d, nil
}
