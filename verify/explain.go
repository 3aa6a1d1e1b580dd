package verify

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
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
	// nil). SEV-ES searches ignore them: its VMSAs carry SEV_FEATURES 0.
	GuestFeatures []uint64
	// Profiles are the launch profiles; each VMM type is searched with those
	// of its profiles that are listed (every profile, snp.Profiles(), when
	// nil).
	Profiles []snp.Profile
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
	if s.Profiles == nil {
		for _, p := range snp.Profiles() {
			s.Profiles = append(s.Profiles, p.Name)
		}
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
// (see measure.Measurer: the metadata pages once per VMM type, the VMSA
// chain of n+1 vCPUs extends that of n, one chain per VMM type, profile,
// vCPU signature and guest features) and between searches: the first
// search computes every digest of the space, later ones only compare. Not
// safe for concurrent use.
type Explainer struct {
	space    Space
	boots    []Boot
	seeded   bool
	measurer []*measure.Measurer
	sigs     []cpuSig
	profiles map[snp.VMMType][]snp.ProfileInfo
}

type cpuSig struct {
	sig   uint32
	names []string
}

// ErrSeedSEVES reports an SEV-ES search on an Explainer made with a
// firmware seed: the SEV-ES launch digest hashes the firmware's bytes, which
// an SEV-SNP seed does not stand for.
var ErrSeedSEVES = errors.New("an SEV-SNP firmware seed cannot explain an SEV-ES launch digest: SEV-ES hashes the firmware's own bytes")

// NewExplainer prepares a search over space for img with each of boots
// (BootVariants). The firmware pages are hashed once for all of them.
func NewExplainer(img *ovmf.Image, boots []Boot, space Space) *Explainer {
	return newExplainer(img, measure.SNPFirmwareDigest(img), false, boots, space)
}

// NewSeededExplainer is NewExplainer for a firmware known by its SEV-SNP
// seed (measure.SNPFirmwareDigest of the firmware that was launched, such
// as a cloud publishes, sev-snp-measure's "OVMF hash"): seed stands for
// every firmware page, and img supplies only what the seed does not cover,
// the layout that follows the firmware pages: the SEV metadata sections
// (zero, secrets, CPUID and kernel-hashes pages), the hashes table's place
// and the APs' reset address. img must therefore be a build with the same
// layout as the launched firmware. It explains SEV-SNP measurements only.
func NewSeededExplainer(img *ovmf.Image, seed snp.SNPDigest, boots []Boot, space Space) *Explainer {
	v, _ := measure.NewValue(measure.Measurement, measure.SHA384, seed[:]) // 48 bytes: cannot fail
	return newExplainer(img, v, true, boots, space)
}

func newExplainer(img *ovmf.Image, seed measure.Value, seeded bool, boots []Boot, space Space) *Explainer {
	e := &Explainer{space: space.withDefaults(), boots: boots, seeded: seeded, profiles: map[snp.VMMType][]snp.ProfileInfo{}}
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
	for _, vmm := range e.space.VMMs {
		for _, p := range snp.Profiles() {
			if p.VMM == vmm && slices.Contains(e.space.Profiles, p.Name) && !slices.ContainsFunc(e.profiles[vmm], func(q snp.ProfileInfo) bool { return q.Name == p.Name }) {
				e.profiles[vmm] = append(e.profiles[vmm], p)
			}
		}
	}
	return e
}

// Found is one configuration that reproduces the measurement.
type Found struct {
	// Platform is measure.PlatformSNP or measure.PlatformSEVES.
	Platform measure.Platform `json:"-"`
	// Config is the configuration; its Profile is always named, the VMM's
	// default included (snp.DefaultProfile says which that is), and its
	// GuestFeatures is 0 for SEV-ES.
	Config snp.Config `json:"-"`
	// VCPUTypes are the QEMU models with the configuration's signature
	// (empty for profiles that do not measure it: EC2's and GCE's).
	VCPUTypes []string `json:"vcpu_types,omitempty"`
	Boot      Boot     `json:"-"`
}

// Explanation is the outcome of a search.
type Explanation struct {
	// Platform is what was searched: measure.PlatformSNP for a MEASUREMENT,
	// measure.PlatformSEVES for an SEV-ES launch digest.
	Platform measure.Platform
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
	return e.explain(measure.PlatformSNP, measurement[:])
}

// ExplainSEVES searches the space for SEV-ES launches (every VMM type,
// profile, vCPU signature and count; guest features do not apply) whose
// launch digest equals digest. When there are none it returns the
// explanation and an error wrapping ErrNoConfiguration; on a seeded
// Explainer it returns ErrSeedSEVES.
func (e *Explainer) ExplainSEVES(digest snp.SEVDigest) (*Explanation, error) {
	if e.seeded {
		return nil, ErrSeedSEVES
	}
	return e.explain(measure.PlatformSEVES, digest[:])
}

func (e *Explainer) explain(platform measure.Platform, digest []byte) (*Explanation, error) {
	reg, alg, features := measure.Measurement, measure.SHA384, e.space.GuestFeatures
	if platform == measure.PlatformSEVES {
		reg, alg, features = measure.LaunchDigest, measure.SHA256, []uint64{0}
	}
	want, err := measure.NewValue(reg, alg, digest)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Platform: platform}
	skipped := map[string]bool{}
	for bi, m := range e.measurer {
		boot := e.boots[bi]
		for _, vmm := range e.space.VMMs {
			for _, p := range e.profiles[vmm] {
				sigs := e.sigs
				if !p.State.RDXIsCPUSignature {
					sigs = []cpuSig{{}} // the profile does not measure the signature
				}
				for _, s := range sigs {
					for _, f := range features {
						for n := 1; n <= e.space.MaxVCPUs; n++ {
							cfg := snp.Config{VCPUs: n, VCPUSig: s.sig, VMM: vmm, GuestFeatures: f, Profile: p.Name}
							var l measure.Launch = measure.SNP{VMM: vmm, VCPUs: n, CPU: measure.CPU{Signature: s.sig}, GuestFeatures: f, Profile: p.Name}
							if platform == measure.PlatformSEVES {
								l = measure.SEVES{VMM: vmm, VCPUs: n, CPU: measure.CPU{Signature: s.sig}, Profile: p.Name}
							}
							r, err := m.Measure(l)
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
							if v, _ := r.Value(reg); v == want {
								ex.Found = append(ex.Found, Found{Platform: platform, Config: cfg, VCPUTypes: s.names, Boot: boot})
							}
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
		return ex, fmt.Errorf("%w: no %s configuration of this firmware gives %s %x (searched %d configurations)", ErrNoConfiguration, platform, reg, digest, ex.Searched)
	}
	return ex, nil
}
