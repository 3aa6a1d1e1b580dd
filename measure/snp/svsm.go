package snp

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
)

// SVSM mode: a flat COCONUT-SVSM binary launched below OVMF, the pre-IGVM
// layout of coconut-svsm/qemu 0e64fb84 (target/i386/sev.c) that
// virtee/sev-snp-measure models as --mode snp:svsm (sevsnpmeasure/guest.py
// svsm_calc_launch_digest, ovmf.py SVSM, vmsa.py VMSA_SVSM, v0.0.8 on).
// Memory below 4 GiB, from the top: OVMF_CODE (the firmware image), the
// OVMF_VARS area (its size only), then the SVSM binary.
//
// The launch measures, in order: every OVMF page (NORMAL; OVMF's own SEV
// metadata is not used), every SVSM page (NORMAL), the SVSM's SEV metadata
// sections as QEMU adds them without a kernel, and one VMSA per vCPU, all
// identical, starting the SVSM in 32-bit protected mode at its entry point.

// SVSMSEVFeatures is the VMSA SEV_FEATURES of every SVSM vCPU: SNPActive
// only. sev-snp-measure hard-codes it; --guest-features does not apply.
const SVSMSEVFeatures = 0x1

// VMSA values of the SVSM's initial state (sevsnpmeasure/vmsa.py VMSA_SVSM,
// from coconut-svsm/qemu 0e64fb84): flat 4 GiB segments, protected mode.
const (
	svsmCodeSelector = 0x08
	svsmDataSelector = 0x10
	svsmAttrCode     = 0xc9b // attrCode with G and D/B set: 32-bit, 4 KiB granularity
	svsmAttrData     = 0xc93 // attrData with G and D/B set
	svsmSegLimit     = 0xffffffff
	svsmCR0          = 0x11 // CR0.PE | CR0.ET
)

// Errors of SVSM mode callers branch on.
var (
	// ErrNoSVSMInfo reports an SVSM binary without the SVSM_INFO footer
	// entry that gives its entry point.
	ErrNoSVSMInfo = errors.New("SVSM binary has no SVSM_INFO footer table entry: its entry point is unknown")
	// ErrSVSMFCWQuirk reports the sev-snp-measure FCW quirk asked for with
	// a profile it does not apply to.
	ErrSVSMFCWQuirk = fmt.Errorf("%w: the sev-snp-measure FCW quirk applies to profile %s only", ErrProfile, ProfileQEMUInit2)
)

// SVSMConfig is what varies between SVSM launches of one layout.
type SVSMConfig struct {
	VCPUs int
	// VCPUSig is the CPUID Fn0000_0001 EAX signature, the VMSA's RDX.
	VCPUSig uint32
	// Profile is a QEMU launch profile; it decides MXCSR and FCW, nothing
	// else (the SVSM's segments and control registers are its own). ""
	// is QEMU's default, ProfileQEMUInit2.
	Profile Profile
	// SevSnpMeasureFCW reproduces sev-snp-measure v0.0.10 and later
	// (ae95e59 to at least 8f2b337), whose SVSM VMSA under
	// ProfileQEMUInit2 has MXCSR 0x1f80 but FCW 0: it passes fcw= where
	// the field is x87_fcw, so the value never reaches the page. No KVM
	// produces that state; it is for comparing with that tool's output.
	// With another profile it is an error wrapping ErrSVSMFCWQuirk.
	SevSnpMeasureFCW bool
}

// SVSMLayout is where QEMU maps the images of an SVSM launch.
type SVSMLayout struct {
	OVMFGPA uint64 // OVMF_CODE: 4 GiB - its size
	VarsGPA uint64 // OVMF_VARS: below OVMF_CODE
	SVSMGPA uint64 // the SVSM binary: below OVMF_VARS
	// EntryPoint is the SVSM's first instruction: SVSMGPA plus the offset
	// in the SVSM_INFO entry. Every vCPU's RIP.
	EntryPoint uint64
}

// SVSMMeasurer computes SVSM-mode digests for one OVMF, SVSM binary and
// OVMF_VARS size; the pages are hashed once. It is not safe for concurrent
// use.
type SVSMMeasurer struct {
	layout SVSMLayout
	prefix SNPDigest
	chains map[svsmChainKey][]SNPDigest
}

type svsmChainKey struct {
	sig   uint32
	state InitialState
}

// NewSVSMMeasurer lays out firmware (OVMF_CODE), an OVMF_VARS area of
// varsSize bytes and svsm below 4 GiB as QEMU does, and measures their
// pages and the SVSM's metadata sections. varsSize must be a non-zero
// multiple of 4 KiB (SNP_LAUNCH_UPDATE takes whole pages).
func NewSVSMMeasurer(firmware, svsm *ovmf.Image, varsSize uint64) (*SVSMMeasurer, error) {
	if varsSize == 0 || varsSize%pageSize != 0 {
		return nil, fmt.Errorf("OVMF_VARS size %#x, want a non-zero multiple of 4 KiB", varsSize)
	}
	l := SVSMLayout{OVMFGPA: firmware.GPA()}
	if varsSize > l.OVMFGPA || l.OVMFGPA-varsSize < uint64(svsm.Size()) {
		return nil, fmt.Errorf("OVMF_VARS size %#x and SVSM size %#x do not fit below OVMF at %#x", varsSize, svsm.Size(), l.OVMFGPA)
	}
	l.VarsGPA = l.OVMFGPA - varsSize
	l.SVSMGPA = l.VarsGPA - uint64(svsm.Size())
	info, ok := svsm.Entry(ovmf.SVSMInfoGUID)
	if !ok {
		return nil, ErrNoSVSMInfo
	}
	if len(info.Data) < 4 {
		return nil, fmt.Errorf("SVSM_INFO entry at %#x: %d bytes, want at least 4", info.Offset, len(info.Data))
	}
	// coconut-svsm/qemu 0e64fb84 target/i386/sev.c: the first uint32 is
	// the entry point's offset in the SVSM binary.
	l.EntryPoint = l.SVSMGPA + uint64(binary.LittleEndian.Uint32(info.Data))

	var g gctx
	g.normalPages(l.OVMFGPA, firmware.Data())
	g.normalPages(l.SVSMGPA, svsm.Data())
	// Without SEV metadata sev-snp-measure adds no section; so do we.
	if md := svsm.SEVMetadata(); md != nil {
		if err := md.Validate(); err != nil {
			return nil, fmt.Errorf("SVSM binary: %w", err)
		}
		for _, s := range md.Sections {
			// QEMU semantics, no kernel (sev-snp-measure passes none): the
			// section GPAs are absolute, not relative to the SVSM.
			gpa := uint64(s.GPA)
			switch s.Type {
			case ovmf.SectionSNPSecMem, ovmf.SectionSVSMCAA, ovmf.SectionSNPKernelHashes:
				g.emptyPages(PageZero, gpa, s.Size)
			case ovmf.SectionSNPSecrets:
				g.emptyPages(PageSecrets, gpa, s.Size)
			case ovmf.SectionCPUID:
				g.emptyPages(PageCPUID, gpa, s.Size)
			}
		}
	}
	return &SVSMMeasurer{layout: l, prefix: g.ld, chains: map[svsmChainKey][]SNPDigest{}}, nil
}

// Layout returns where the images are mapped and the SVSM's entry point.
func (m *SVSMMeasurer) Layout() SVSMLayout { return m.layout }

// SNP returns the SEV-SNP launch digest of cfg.
func (m *SVSMMeasurer) SNP(cfg SVSMConfig) (SNPDigest, error) {
	v, st, err := m.vmsa(cfg)
	if err != nil {
		return SNPDigest{}, err
	}
	key := svsmChainKey{cfg.VCPUSig, st}
	chain := m.chains[key]
	if len(chain) < cfg.VCPUs {
		g := gctx{ld: m.prefix}
		if len(chain) > 0 {
			g.ld = chain[len(chain)-1]
		}
		h := sha512.Sum384(v.Marshal())
		for n := len(chain); n < cfg.VCPUs; n++ {
			g.vmsaPage(&h)
			chain = append(chain, g.ld)
		}
		m.chains[key] = chain
	}
	return chain[cfg.VCPUs-1], nil
}

// VMSA returns the save area of every vCPU of cfg (they are identical).
func (m *SVSMMeasurer) VMSA(cfg SVSMConfig) (*VMSA, error) {
	v, _, err := m.vmsa(cfg)
	return v, err
}

func (m *SVSMMeasurer) vmsa(cfg SVSMConfig) (*VMSA, InitialState, error) {
	if err := checkVCPUs(cfg.VCPUs); err != nil {
		return nil, InitialState{}, err
	}
	st, err := svsmState(cfg)
	if err != nil {
		return nil, InitialState{}, err
	}
	return newSVSMVMSA(m.layout.EntryPoint, cfg.VCPUSig, st), st, nil
}

// svsmState returns the MXCSR and FCW of cfg's profile, with the
// sev-snp-measure quirk applied when asked for.
func svsmState(cfg SVSMConfig) (InitialState, error) {
	p, err := LookupProfile(VMMQEMU, cfg.Profile)
	if err != nil {
		return InitialState{}, err
	}
	st := InitialState{MXCSR: p.State.MXCSR, X87FCW: p.State.X87FCW}
	if cfg.SevSnpMeasureFCW {
		if p.Name != ProfileQEMUInit2 {
			return InitialState{}, fmt.Errorf("%w, not %s", ErrSVSMFCWQuirk, p.Name)
		}
		st.X87FCW = 0
	}
	return st, nil
}

// newSVSMVMSA builds the SVSM's initial save area (sevsnpmeasure/vmsa.py
// VMSA_SVSM.build_save_area): flat 32-bit segments, CR0.PE, RIP the full
// entry point, SEV_FEATURES SVSMSEVFeatures, VMPL 0. Only MXCSR and FCW come
// from st.
func newSVSMVMSA(entry uint64, sig uint32, st InitialState) *VMSA {
	data := SegmentRegister{Selector: svsmDataSelector, Attrib: svsmAttrData, Limit: svsmSegLimit}
	return &VMSA{
		ES:          data,
		CS:          SegmentRegister{Selector: svsmCodeSelector, Attrib: svsmAttrCode, Limit: svsmSegLimit},
		SS:          data,
		DS:          data,
		FS:          data,
		GS:          SegmentRegister{Attrib: attrData, Limit: segLimitReal},
		GDTR:        SegmentRegister{Limit: segLimitReal},
		IDTR:        SegmentRegister{Limit: segLimitReal},
		LDTR:        SegmentRegister{Attrib: attrLDT, Limit: segLimitReal},
		TR:          SegmentRegister{Attrib: attrTSS, Limit: segLimitReal},
		EFER:        efeSVME,
		CR4:         cr4MCE,
		CR0:         svsmCR0,
		DR7:         dr7Reset,
		DR6:         dr6Reset,
		RFLAGS:      rflagsReset,
		RIP:         entry,
		GPAT:        gpatDefault,
		RDX:         uint64(sig),
		SEVFeatures: SVSMSEVFeatures,
		XCR0:        xcr0Reset,
		MXCSR:       st.MXCSR,
		X87FCW:      st.X87FCW,
	}
}
