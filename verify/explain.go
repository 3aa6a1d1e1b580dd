package verify

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
)

// Guest-feature (VMSA SEV_FEATURES) bits, AMD64 APM Vol. 2 Table 15-34 and
// Linux arch/x86/include/asm/svm.h (SVM_SEV_FEAT_*).
const (
	FeatureSNPActive           uint64 = 1 << 0
	FeatureRestrictedInjection uint64 = 1 << 3
	FeatureDebugSwap           uint64 = 1 << 5
	FeatureSecureTSC           uint64 = 1 << 9
)

// CommonGuestFeatures are the SEV_FEATURES values explain tries by default;
// docs/compare.md says where each comes from.
var CommonGuestFeatures = []uint64{
	FeatureSNPActive,                                                 // 0x1: QEMU with upstream KVM; sev-snp-measure's default
	FeatureSNPActive | FeatureDebugSwap,                              // 0x21: hosts whose KVM adds DebugSwap by itself
	FeatureSNPActive | FeatureSecureTSC,                              // 0x201: Secure TSC offered to the guest
	FeatureSNPActive | FeatureDebugSwap | FeatureSecureTSC,           // 0x221: both
	FeatureSNPActive | FeatureRestrictedInjection,                    // 0x9: restricted injection (paravisors, SVSM)
	FeatureSNPActive | FeatureRestrictedInjection | FeatureDebugSwap, // 0x29
}

// DefaultMaxVCPUs is the largest vCPU count explain tries by default.
const DefaultMaxVCPUs = 512

// Space is the set of launch configurations a search covers.
type Space struct {
	// MaxVCPUs: vCPU counts 1 to MaxVCPUs (DefaultMaxVCPUs when 0).
	MaxVCPUs int
	// CPUTypes are the QEMU vCPU models (snp.CPUTypes() when nil). Models
	// with the same CPUID signature measure alike and are searched once.
	CPUTypes []snp.CPUType
	// VMMs are the VMM types (snp.VMMTypes when nil).
	VMMs []snp.VMMType
	// GuestFeatures are the SEV_FEATURES values (CommonGuestFeatures when
	// nil).
	GuestFeatures []uint64
}

func (s Space) withDefaults() Space {
	if s.MaxVCPUs == 0 {
		s.MaxVCPUs = DefaultMaxVCPUs
	}
	if s.CPUTypes == nil {
		s.CPUTypes = snp.CPUTypes()
	}
	if s.VMMs == nil {
		s.VMMs = snp.VMMTypes
	}
	if s.GuestFeatures == nil {
		s.GuestFeatures = CommonGuestFeatures
	}
	return s
}

// Boot is one measured-direct-boot variant: nil Hashes is a launch without
// a kernel.
type Boot struct {
	// Kernel, Initrd and Cmdline say which of the given inputs are in the
	// hashes table; a missing initrd is measured as no bytes and a missing
	// command line as the empty string.
	Kernel, Initrd, Cmdline bool
	Hashes                  *snp.KernelHashes
}

// String describes the variant.
func (b Boot) String() string {
	if !b.Kernel {
		return "no measured direct boot"
	}
	s := []string{"kernel"}
	if b.Initrd {
		s = append(s, "initrd")
	}
	if b.Cmdline {
		s = append(s, "command line")
	}
	return "measured direct boot of the given " + strings.Join(s, ", ")
}

// BootVariants returns the variants explain tries for the given inputs:
// no kernel at all, and, when kh is set, the kernel with every subset of
// the initrd and command line that were given (hasInitrd, hasCmdline), so
// that a provider that dropped one is caught.
func BootVariants(kh *snp.KernelHashes, hasInitrd, hasCmdline bool) []Boot {
	out := []Boot{{}}
	if kh == nil {
		return out
	}
	noInitrd := sha256.Sum256(nil)
	noCmdline := sha256.Sum256([]byte{0})
	for _, withInitrd := range []bool{true, false} {
		for _, withCmdline := range []bool{true, false} {
			if (withInitrd && !hasInitrd) || (withCmdline && !hasCmdline) {
				continue
			}
			h := *kh
			if !withInitrd {
				h.Initrd = noInitrd
			}
			if !withCmdline {
				h.Cmdline = noCmdline
			}
			out = append(out, Boot{Kernel: true, Initrd: withInitrd, Cmdline: withCmdline, Hashes: &h})
		}
	}
	return out
}

// Explainer searches the launch configurations of one firmware for those
// that reproduce a measurement. It shares the work between configurations
// (see measure.Measurer) and between searches: the first search computes every
// digest of the space, later ones only compare. Not safe for concurrent use.
type Explainer struct {
	space    Space
	boots    []Boot
	measurer []*measure.Measurer
	sigs     []cpuSig
}

type cpuSig struct {
	sig   uint32
	names []string
}

// NewExplainer prepares a search over space for img with each of boots
// (BootVariants). The firmware pages are hashed once for all of them.
func NewExplainer(img *ovmf.Image, boots []Boot, space Space) *Explainer {
	e := &Explainer{space: space.withDefaults(), boots: boots}
	seed := measure.SNPFirmwareDigest(img)
	for _, b := range boots {
		e.measurer = append(e.measurer, measure.NewMeasurer(img, nil, measure.Options{SNPFirmwareDigest: &seed, KernelHashes: b.Hashes}))
	}
	idx := map[uint32]int{}
	for _, c := range e.space.CPUTypes {
		s := c.Signature()
		i, ok := idx[s]
		if !ok {
			i = len(e.sigs)
			idx[s] = i
			e.sigs = append(e.sigs, cpuSig{sig: s})
		}
		e.sigs[i].names = append(e.sigs[i].names, c.Name)
	}
	return e
}

// Found is one configuration that reproduces the measurement.
type Found struct {
	Config snp.Config `json:"-"`
	// VCPUTypes are the QEMU models with the configuration's signature
	// (empty for EC2 and GCE, which do not measure it).
	VCPUTypes []string `json:"vcpu_types,omitempty"`
	Boot      Boot     `json:"-"`
}

// Explanation is the outcome of a search.
type Explanation struct {
	// Found holds every configuration that reproduces the measurement:
	// one, or several only when they measure identically.
	Found []Found
	// Searched counts the configurations tried (models with the same
	// signature count once); Skipped says which parts of the space the
	// firmware cannot launch, and why.
	Searched int
	Skipped  []string
}

// Explain searches the space for configurations whose SEV-SNP launch
// digest equals measurement. When there are none it returns the
// explanation (what was searched) and an error wrapping ErrNoConfiguration.
func (e *Explainer) Explain(measurement snp.SNPDigest) (*Explanation, error) {
	want, err := measure.NewValue(measure.Measurement, measure.SHA384, measurement[:])
	if err != nil {
		return nil, err
	}
	ex := &Explanation{}
	skipped := map[string]bool{}
	for bi, m := range e.measurer {
		boot := e.boots[bi]
		for _, vmm := range e.space.VMMs {
			sigs := e.sigs
			if vmm != snp.VMMQEMU {
				sigs = []cpuSig{{}} // EC2 and GCE do not measure the signature
			}
			for _, s := range sigs {
				for _, f := range e.space.GuestFeatures {
					for n := 1; n <= e.space.MaxVCPUs; n++ {
						cfg := snp.Config{VCPUs: n, VCPUSig: s.sig, VMM: vmm, GuestFeatures: f}
						r, err := m.Measure(measure.SNP{VMM: vmm, VCPUs: n, CPU: measure.CPU{Signature: s.sig}, GuestFeatures: f})
						if err != nil {
							what := "launches without a kernel"
							if boot.Kernel {
								what = "measured direct boot"
							}
							if n > 1 {
								what += fmt.Sprintf(" with %d vCPUs or more", n)
							}
							skipped[fmt.Sprintf("%s: %v", what, err)] = true
							break
						}
						ex.Searched++
						if v, _ := r.Value(measure.Measurement); v == want {
							ex.Found = append(ex.Found, Found{Config: cfg, VCPUTypes: s.names, Boot: boot})
						}
					}
				}
			}
		}
	}
	for s := range skipped {
		ex.Skipped = append(ex.Skipped, s)
	}
	sortStrings(ex.Skipped)
	if len(ex.Found) == 0 {
		return ex, fmt.Errorf("%w: no configuration of this firmware gives MEASUREMENT %x (searched %d configurations)", ErrNoConfiguration, measurement[:], ex.Searched)
	}
	return ex, nil
}
