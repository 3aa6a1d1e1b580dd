package snp

import (
	"errors"
	"fmt"
	"strings"
)

// Profile names the initial vCPU state one VMM gives SEV-ES and SEV-SNP
// guests in one period: the VMSA fields in which VMMs and host generations
// differ. Each profile belongs to one VMM type. The empty Profile is the
// VMM's profile of today (DefaultProfile), so a Config without a profile
// measures what it always has.
type Profile string

// Launch profiles. The table in profiles (and docs/profiles.md) gives for
// each the values, the period and the sources.
const (
	// ProfileQEMUInit2 is QEMU/KVM creating the guest with KVM_SEV_INIT2:
	// KVM sets the x87 and SSE reset values MXCSR 0x1f80 and FCW 0x37f.
	ProfileQEMUInit2 Profile = "qemu-kvm-sev-init2"
	// ProfileQEMUInit is QEMU/KVM creating the guest with the legacy
	// KVM_SEV_INIT or KVM_SEV_ES_INIT: MXCSR and FCW stay 0.
	ProfileQEMUInit Profile = "qemu-kvm-sev-init"
	// ProfileEC2RDX600 is Amazon EC2 with RDX 0x600 in every VMSA.
	ProfileEC2RDX600 Profile = "ec2-rdx-0x600"
	// ProfileEC2RDX0 is Amazon EC2 before it put 0x600 in RDX: RDX 0.
	ProfileEC2RDX0 Profile = "ec2-rdx-0"
	// ProfileGCE is Google Compute Engine.
	ProfileGCE Profile = "gce"
)

// ErrProfile reports a launch profile that is unknown or belongs to
// another VMM type: a usage error.
var ErrProfile = errors.New("launch profile does not apply")

// InitialState is what a profile puts in the VMSA fields in which VMMs and
// host generations differ. Every other field is the same for all profiles
// (see newVMSA).
type InitialState struct {
	// CSAttribBSP and CSAttribAP are the CS attributes of the boot and the
	// application processors (EC2 leaves the accessed bit clear on the BSP).
	CSAttribBSP, CSAttribAP uint16
	// SSAttrib and TRAttrib are the SS and TR attributes.
	SSAttrib, TRAttrib uint16
	// GPAT is the guest PAT MSR.
	GPAT uint64
	// RDXIsCPUSignature: RDX holds the vCPU model's CPUID Fn0000_0001 EAX
	// signature, as after an x86 reset; otherwise RDX is the fixed RDX.
	RDXIsCPUSignature bool
	RDX               uint64
	// MXCSR and X87FCW are the SSE control/status and x87 control words.
	MXCSR  uint32
	X87FCW uint16
}

// ProfileInfo documents one launch profile.
type ProfileInfo struct {
	Name Profile
	VMM  VMMType
	// Default: the VMM's profile when Config.Profile is empty.
	Default bool
	State   InitialState
	// Differs says in one line what sets the profile apart from the other
	// profiles of its VMM (or, for a VMM's only profile, from QEMU's).
	Differs string
	// From and Until say when hosts gave this state, as far as the sources
	// tell; "" for an open end.
	From, Until string
	// Source names the implementations and commits the values come from.
	Source string
	// KnownAnswers names the independent values that reproduce with the
	// profile (they are in this package's testdata/profiles/vectors.tsv),
	// or says that none exists.
	KnownAnswers string
}

// Values of the VMSA fields that differ between profiles.
const (
	attrCodeNoAccess = 0x9a // attrCode without the accessed bit (EC2's BSP)
	attrDataNoAccess = 0x92 // attrData without the accessed bit (EC2's SS)
	attrTSS16Busy    = 0x83 // EC2's TR: present, busy 16-bit TSS
	rdxFixedCloud    = 0x600
)

// profiles is the one table of launch profiles; Profiles returns a copy.
var profiles = [...]ProfileInfo{
	{
		Name: ProfileQEMUInit2, VMM: VMMQEMU, Default: true,
		State: InitialState{
			CSAttribBSP: attrCode, CSAttribAP: attrCode, SSAttrib: attrData, TRAttrib: attrTSS,
			GPAT: gpatDefault, RDXIsCPUSignature: true, MXCSR: mxcsrReset, X87FCW: fcwReset,
		},
		Differs: "MXCSR 0x1f80 and FCW 0x37f (the x87/SSE reset values KVM writes with KVM_SEV_INIT2)",
		From:    "host Linux 6.10 (KVM_SEV_INIT2) with a QEMU that issues it (9.1 and later, as reported; not checked against QEMU here); every upstream SEV-SNP host (Linux 6.11 and later)",
		Source:  "Linux KVM_SEV_INIT2 series (lore 20240409230743.962513-1-michael.roth@amd.com); virtee/sev-snp-measure ae95e596c3d0 (2024-04-22, v0.0.10: \"should match host Linux kernel 6.10 and newer\"); virtee/sev 19f2b94",
		KnownAnswers: "virtee/sev-snp-measure tests/test_guest.py from ae95e59 to 8f2b337 (SEV-ES and SEV-SNP); " +
			"the sev-snp-measure 8f2b337 vectors in testdata/vectors",
	},
	{
		Name: ProfileQEMUInit, VMM: VMMQEMU,
		State: InitialState{
			CSAttribBSP: attrCode, CSAttribAP: attrCode, SSAttrib: attrData, TRAttrib: attrTSS,
			GPAT: gpatDefault, RDXIsCPUSignature: true,
		},
		Differs: "MXCSR 0 and FCW 0 (legacy KVM_SEV_INIT/KVM_SEV_ES_INIT leaves the FPU state zero)",
		Until:   "hosts before Linux 6.10, or whose QEMU issues the legacy KVM_SEV_INIT; also AMD's out-of-tree SEV-SNP host kernels (6.6-based), which used guest features 0x21",
		Source:  "virtee/sev-snp-measure before ae95e596c3d0 (v0.0.9 and earlier; ae95e59's message: both fields are 0 under KVM_SEV_INIT); kata-containers src/runtime/pkg/sev/vmsa.go@259158f1 (no MXCSR/FCW)",
		KnownAnswers: "virtee/sev-snp-measure tests/test_guest.py from cdbf418 (2022-05-17) to f89f064 (2024-03-18); " +
			"kata-containers src/runtime/pkg/sev/sev_test.go@82a6ca36; virtee/sev tests/measurement.rs 2a9bbb5 to abcc77f",
	},
	{
		Name: ProfileEC2RDX600, VMM: VMMEC2, Default: true,
		State: InitialState{
			CSAttribBSP: attrCodeNoAccess, CSAttribAP: attrCode, SSAttrib: attrDataNoAccess, TRAttrib: attrTSS16Busy,
			GPAT: gpatDefault, RDX: rdxFixedCloud,
		},
		Differs: "RDX 0x600 whatever the vCPU model; FPU state zero (MXCSR 0, FCW 0), as in every EC2 profile",
		From:    "unknown: EC2 reported it by 2026-04 (virtee/sev-snp-measure PR #60, \"rdx used to be 0x0, but is now 0x600\"); the date EC2 changed is not public",
		Source:  "virtee/sev-snp-measure 4a02bf043462 (2026-04-28, PR #60 by Amazon, v0.0.13)",
		KnownAnswers: "virtee/sev-snp-measure tests/test_guest.py at 4a02bf0 and 8f2b337 (test_snp_ec2*); " +
			"the real c6a.xlarge value of aws/uefi#19 needs an OVMF build that is not public",
	},
	{
		Name: ProfileEC2RDX0, VMM: VMMEC2,
		State: InitialState{
			CSAttribBSP: attrCodeNoAccess, CSAttribAP: attrCode, SSAttrib: attrDataNoAccess, TRAttrib: attrTSS16Busy,
			GPAT: gpatDefault,
		},
		Differs: "RDX 0; FPU state zero (MXCSR 0, FCW 0)",
		Until:   "unknown (see ec2-rdx-0x600); what sev-snp-measure modelled from c96d49a (2023-03-24) to before 4a02bf0 (2026-04-28), and virtee/sev and sev-snp-measure-go still do",
		Source:  "virtee/sev-snp-measure c96d49a to 46664d0; virtee/sev src/measurement/vmsa.rs@9cf2adb (EC2); virtee/sev-snp-measure-go vmsa/vmsa.go@74f52d5",
		KnownAnswers: "virtee/sev-snp-measure tests/test_guest.py from c96d49a to 46664d0 (test_snp_ec2*); " +
			"virtee/sev tests/measurement.rs (its EC2 tests at 2a9bbb5 and at 9cf2adb)",
	},
	{
		Name: ProfileGCE, VMM: VMMGCE, Default: true,
		State: InitialState{
			CSAttribBSP: attrCode, CSAttribAP: attrCode, SSAttrib: attrData, TRAttrib: attrTSS,
			GPAT: gpatGCE, RDX: rdxFixedCloud,
		},
		Differs: "G_PAT 0x70106, RDX 0x600 whatever the vCPU model, FPU state zero (MXCSR 0, FCW 0); no earlier GCE state is known",
		Source:  "virtee/sev-snp-measure 9639a3b (2025-07-09) to 8f2b337; google/gce-tcb-verifier sev/ld_from_ovmf.go@74582c0 (VmsaV1)",
		KnownAnswers: "virtee/sev-snp-measure tests/test_guest.py from 9639a3b to 8f2b337 (test_snp_gce*); " +
			"the sev-snp-measure 8f2b337 vectors in testdata/vectors. Not modelled: the 52-bit VMSA address gce-tcb-verifier uses for Genoa",
	},
}

// Profiles returns every launch profile, each VMM's default first.
func Profiles() []ProfileInfo { return append([]ProfileInfo(nil), profiles[:]...) }

// DefaultProfile returns the profile an empty Config.Profile means for vmm:
// today's state. It returns "" for an unknown VMM type.
func DefaultProfile(vmm VMMType) Profile {
	for _, p := range profiles {
		if p.VMM == vmm && p.Default {
			return p.Name
		}
	}
	return ""
}

// ParseProfile parses a profile name, ignoring case.
func ParseProfile(s string) (Profile, error) {
	for _, p := range profiles {
		if strings.EqualFold(s, string(p.Name)) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("%w: profile %q is unknown, want one of %s", ErrProfile, s, profileNames())
}

// LookupProfile returns the profile p of vmm: the VMM's default for "", an
// error wrapping ErrProfile for a profile that is unknown or belongs to
// another VMM type.
func LookupProfile(vmm VMMType, p Profile) (ProfileInfo, error) {
	if p == "" {
		p = DefaultProfile(vmm)
		if p == "" {
			return ProfileInfo{}, fmt.Errorf("VMM type %d is unknown", int(vmm))
		}
	}
	for _, info := range profiles {
		if info.Name != p {
			continue
		}
		if info.VMM != vmm {
			return ProfileInfo{}, fmt.Errorf("%w: profile %q is a %s profile, not %s", ErrProfile, p, info.VMM, vmm)
		}
		return info, nil
	}
	return ProfileInfo{}, fmt.Errorf("%w: profile %q is unknown, want one of %s", ErrProfile, p, profileNames())
}

func profileNames() string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = string(p.Name)
	}
	return strings.Join(names, ", ")
}
