package snp

import (
	"fmt"
	"strings"
)

// VMMType is the hypervisor that builds the initial vCPU state. VMMs differ
// in VMSA register values (and each VMM's values by period: see Profile), in
// when they add the CPUID page (EC2) and in how they add the SNP
// pre-validated memory (GCE).
type VMMType int

// VMM types, named as sev-snp-measure names them.
const (
	VMMQEMU VMMType = iota // QEMU/KVM
	VMMEC2                 // Amazon EC2
	VMMGCE                 // Google Compute Engine
)

// VMMTypes lists every VMM type.
var VMMTypes = []VMMType{VMMQEMU, VMMEC2, VMMGCE}

// String returns the lower-case name.
func (v VMMType) String() string {
	switch v {
	case VMMQEMU:
		return "qemu"
	case VMMEC2:
		return "ec2"
	case VMMGCE:
		return "gce"
	}
	return fmt.Sprintf("vmm(%d)", int(v))
}

// MarshalText implements encoding.TextMarshaler.
func (v VMMType) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// ParseVMMType parses qemu, ec2 or gce, ignoring case.
func ParseVMMType(s string) (VMMType, error) {
	for _, v := range VMMTypes {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("VMM type %q is unknown, want qemu, ec2 or gce", s)
}
