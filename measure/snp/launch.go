// Package snp computes the launch digests that AMD SEV, SEV-ES and SEV-SNP
// hardware reports for a guest started from an OVMF image: the SEV-SNP
// MEASUREMENT (SHA-384 chained over PAGE_INFO, SEV-SNP Firmware ABI
// specification section 8.17), and the SEV and SEV-ES SHA-256 launch digests
// over the launch update data.
//
// It models what QEMU (and EC2's and GCE's VMMs) hand to the firmware: the
// image's pages below 4 GiB, the sections its SEV metadata declares, the SEV
// hashes table for measured direct boot, and one VMSA page per vCPU. It does
// not read files or verify attestation reports. Standard library only.
package snp

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	"github.com/measure-cc/measure/ovmf"
)

// MaxVCPUs bounds the vCPU count of a configuration.
const MaxVCPUs = 4096

// Config is what varies between launches of the same firmware.
type Config struct {
	VCPUs int
	// VCPUSig is the CPUID Fn0000_0001 EAX signature of the vCPU model.
	// EC2 and GCE ignore it.
	VCPUSig uint32
	VMM     VMMType
	// GuestFeatures is the VMSA SEV_FEATURES value (SNP only); 0x1 (SNPActive)
	// is what QEMU and the Linux guest use.
	GuestFeatures uint64
	// Profile is the VMM's initial vCPU state in one period (see Profiles);
	// "" is the VMM's profile of today. A profile of another VMM type is an
	// error wrapping ErrProfile.
	Profile Profile
}

// Sentinel errors callers branch on.
var (
	ErrNoSEVMetadata  = errors.New("firmware has no SEV metadata: QEMU refuses to launch it under SEV-SNP")
	ErrNoResetBlock   = errors.New("firmware has no SEV-ES reset block: it cannot start under SEV-ES or SEV-SNP")
	ErrNoKernelHashes = errors.New("firmware has no SNP_KERNEL_HASHES section: it cannot measure a kernel under SEV-SNP; use an AmdSevX64 build")
)

// Measurer computes digests for many configurations of one firmware, kernel
// and seed, sharing all the work they have in common: the firmware pages are
// hashed once, the metadata pages once per VMM type, each distinct VMSA page
// once, and the VMSA chain of n+1 vCPUs extends that of n.
// A Measurer is not safe for concurrent use.
type Measurer struct {
	img    *ovmf.Image
	kernel *KernelHashes
	seed   *SNPDigest

	firmware *SNPDigest
	prefix   map[VMMType]SNPDigest
	chains   map[vmsaChainKey][]SNPDigest
	vmsas    vmsaCache

	sevPrefix hash.Hash // SHA-256 over firmware (and hashes table), SEV/SEV-ES
	esChains  map[vmsaChainKey]*esChain
}

type vmsaChainKey struct {
	vmm      VMMType
	profile  Profile
	sig      uint32
	features uint64
}

// NewMeasurer returns a Measurer for img. kernel, when non-nil, is measured
// direct boot. seed, when non-nil, replaces the SNP digest of the firmware
// pages (a precomputed FirmwareDigest); it applies to SNP only.
func NewMeasurer(img *ovmf.Image, kernel *KernelHashes, seed *SNPDigest) *Measurer {
	return &Measurer{
		img: img, kernel: kernel, seed: seed,
		prefix:   map[VMMType]SNPDigest{},
		chains:   map[vmsaChainKey][]SNPDigest{},
		vmsas:    vmsaCache{},
		esChains: map[vmsaChainKey]*esChain{},
	}
}

// FirmwareDigest returns the SNP launch digest after the firmware pages alone:
// sev-snp-measure's "OVMF hash", usable as a seed.
func FirmwareDigest(img *ovmf.Image) SNPDigest {
	var g gctx
	g.normalPages(img.GPA(), img.Data())
	return g.ld
}

// SNP returns the SEV-SNP launch digest for cfg.
func (m *Measurer) SNP(cfg Config) (SNPDigest, error) {
	if err := checkVCPUs(cfg.VCPUs); err != nil {
		return SNPDigest{}, err
	}
	profile, err := LookupProfile(cfg.VMM, cfg.Profile)
	if err != nil {
		return SNPDigest{}, err
	}
	prefix, err := m.snpPrefix(cfg.VMM)
	if err != nil {
		return SNPDigest{}, err
	}
	bsp, ap, err := m.vmsaParams(cfg, profile, cfg.GuestFeatures)
	if err != nil {
		return SNPDigest{}, err
	}
	key := vmsaChainKey{cfg.VMM, profile.Name, bsp.vcpuSig, cfg.GuestFeatures}
	chain := m.chains[key]
	if len(chain) < cfg.VCPUs {
		g := gctx{ld: prefix}
		if len(chain) > 0 {
			g.ld = chain[len(chain)-1]
		}
		for n := len(chain); n < cfg.VCPUs; n++ {
			p := ap
			if n == 0 {
				p = bsp
			}
			g.vmsaPage(m.vmsas.sha384(p))
			chain = append(chain, g.ld)
		}
		m.chains[key] = chain
	}
	return chain[cfg.VCPUs-1], nil
}

// snpPrefix returns the digest after the firmware and metadata pages.
func (m *Measurer) snpPrefix(vmm VMMType) (SNPDigest, error) {
	if d, ok := m.prefix[vmm]; ok {
		return d, nil
	}
	md := m.img.SEVMetadata()
	if md == nil {
		return SNPDigest{}, ErrNoSEVMetadata
	}
	if err := md.Validate(); err != nil {
		return SNPDigest{}, err
	}
	var hashesPage []byte
	if m.kernel != nil {
		if !md.Has(ovmf.SectionSNPKernelHashes) {
			return SNPDigest{}, ErrNoKernelHashes
		}
		d, err := checkHashTable(m.img)
		if err != nil {
			return SNPDigest{}, err
		}
		// QEMU (target/i386/sev.c snp_launch_update_kernel_hashes) zeroes the
		// section and copies the table to the table address's offset in its page.
		hashesOffset := int(d.Base % pageSize)
		for _, s := range md.Sections {
			if s.Type == ovmf.SectionSNPKernelHashes && hashesOffset+paddedHashTableSize > int(s.Size) {
				return SNPDigest{}, fmt.Errorf("SNP_KERNEL_HASHES section at %#x: %#x bytes, too small for the hashes table at offset %#x", s.GPA, s.Size, hashesOffset)
			}
		}
		hashesPage = append(make([]byte, hashesOffset), m.kernel.Table()...)
	}
	if m.firmware == nil {
		fw := FirmwareDigest(m.img)
		if m.seed != nil {
			fw = *m.seed
		}
		m.firmware = &fw
	}
	g := gctx{ld: *m.firmware}
	for _, s := range md.Sections {
		gpa := uint64(s.GPA)
		switch s.Type {
		case ovmf.SectionSNPSecMem:
			if vmm == VMMGCE {
				// GCE adds the pre-validated memory as unmeasured pages.
				g.emptyPages(PageUnmeasured, gpa, s.Size)
			} else {
				g.emptyPages(PageZero, gpa, s.Size)
			}
		case ovmf.SectionSNPSecrets:
			g.emptyPages(PageSecrets, gpa, s.Size)
		case ovmf.SectionCPUID:
			if vmm != VMMEC2 { // EC2 adds the CPUID page last, below
				g.emptyPages(PageCPUID, gpa, s.Size)
			}
		case ovmf.SectionSVSMCAA:
			g.emptyPages(PageZero, gpa, s.Size)
		case ovmf.SectionSNPKernelHashes:
			if hashesPage != nil {
				g.hashesSection(gpa, s.Size, hashesPage)
			} else {
				g.emptyPages(PageZero, gpa, s.Size)
			}
		}
	}
	if vmm == VMMEC2 {
		for _, s := range md.Sections {
			if s.Type == ovmf.SectionCPUID {
				g.emptyPages(PageCPUID, uint64(s.GPA), s.Size)
			}
		}
	}
	m.prefix[vmm] = g.ld
	return g.ld, nil
}

// hashesSection measures a kernel-hashes section of size bytes at gpa as
// QEMU fills it: zeros with head (the table at its offset) at the start, all
// NORMAL pages. Pages past head are hashed once, so a hostile size costs no
// memory.
func (g *gctx) hashesSection(gpa uint64, size uint32, head []byte) {
	pages := make([]byte, (len(head)+pageSize-1)/pageSize*pageSize)
	copy(pages, head)
	g.normalPages(gpa, pages)
	zero := sha512.Sum384(make([]byte, pageSize))
	for off := uint64(len(pages)); off < uint64(size); off += pageSize {
		g.update(PageNormal, gpa+off, &zero)
	}
}

// vmsaParams returns the BSP's and the APs' VMSA inputs under profile, the
// VMM's (LookupProfile).
func (m *Measurer) vmsaParams(cfg Config, profile ProfileInfo, features uint64) (bsp, ap vmsaParams, err error) {
	eip, ok := m.img.SEVESResetEIP()
	if !ok {
		return bsp, ap, ErrNoResetBlock
	}
	if eip == 0 && cfg.VCPUs > 1 {
		return bsp, ap, fmt.Errorf("firmware's SEV-ES reset block gives AP reset address 0: it cannot start %d vCPUs", cfg.VCPUs)
	}
	sig := cfg.VCPUSig
	if !profile.State.RDXIsCPUSignature {
		sig = 0 // not in the VMSA; keeps one chain for all vCPU types
	}
	bsp = vmsaParams{eip: bspEIP, bsp: true, vcpuSig: sig, sevFeatures: features, state: profile.State}
	ap = vmsaParams{eip: eip, vcpuSig: sig, sevFeatures: features, state: profile.State}
	return bsp, ap, nil
}

// SEVES returns the SEV-ES launch digest for cfg: SHA-256 over the firmware,
// the hashes table (measured direct boot) and one VMSA per vCPU, whose
// SEV_FEATURES is 0. cfg.GuestFeatures is ignored.
func (m *Measurer) SEVES(cfg Config) (SEVDigest, error) {
	if err := checkVCPUs(cfg.VCPUs); err != nil {
		return SEVDigest{}, err
	}
	profile, err := LookupProfile(cfg.VMM, cfg.Profile)
	if err != nil {
		return SEVDigest{}, err
	}
	bsp, ap, err := m.vmsaParams(cfg, profile, 0)
	if err != nil {
		return SEVDigest{}, err
	}
	key := vmsaChainKey{cfg.VMM, profile.Name, bsp.vcpuSig, 0}
	c := m.esChains[key]
	if c == nil {
		prefix, err := m.sevFirmware()
		if err != nil {
			return SEVDigest{}, err
		}
		c = &esChain{h: prefix}
		m.esChains[key] = c
	}
	for n := len(c.digests); n < cfg.VCPUs; n++ {
		if n == 0 {
			c.h.Write(newVMSA(bsp).Marshal())
		} else {
			if c.apPage == nil {
				c.apPage = newVMSA(ap).Marshal()
			}
			c.h.Write(c.apPage)
		}
		var d SEVDigest
		c.h.Sum(d[:0]) // Sum does not change the running state
		c.digests = append(c.digests, d)
	}
	return c.digests[cfg.VCPUs-1], nil
}

// esChain is a running SEV-ES digest and its value after each vCPU.
type esChain struct {
	h       hash.Hash
	apPage  []byte
	digests []SEVDigest
}

// SEV returns the SEV (plain, no SEV-ES) launch digest: SHA-256 over the
// firmware and, for measured direct boot, the hashes table.
func (m *Measurer) SEV() (SEVDigest, error) {
	h, err := m.sevFirmware()
	if err != nil {
		return SEVDigest{}, err
	}
	var d SEVDigest
	h.Sum(d[:0])
	return d, nil
}

// sevFirmware returns a fresh SHA-256 state over the firmware and hashes
// table, hashing the firmware only once per Measurer.
func (m *Measurer) sevFirmware() (hash.Hash, error) {
	if m.sevPrefix == nil {
		h := sha256.New()
		h.Write(m.img.Data())
		if m.kernel != nil {
			if _, err := checkHashTable(m.img); err != nil {
				return nil, err
			}
			h.Write(m.kernel.Table())
		}
		m.sevPrefix = h
	}
	return m.sevPrefix.(hash.Cloner).Clone()
}

func checkVCPUs(n int) error {
	if n < 1 || n > MaxVCPUs {
		return fmt.Errorf("vCPU count %d, want 1 to %d", n, MaxVCPUs)
	}
	return nil
}
