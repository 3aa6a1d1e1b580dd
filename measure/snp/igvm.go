package snp

import (
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/measure-cc/measure/ovmf/igvm"
)

// IGVMOptions are igvmmeasure's choices for an SEV-SNP digest.
type IGVMOptions struct {
	// NativeZero measures a NORMAL page without data as a ZERO page
	// (igvmmeasure --native-zero); by default it is a NORMAL page of
	// zeros, as QEMU's IGVM loader adds it (backends/igvm.c groups pages
	// without data as CGS_PAGE_TYPE_ZERO, which target/i386/sev.c adds
	// with SNP_LAUNCH_UPDATE as normal pages).
	NativeZero bool
}

// IGVMDigest is the SEV-SNP launch digest of an IGVM file and what went
// into it.
type IGVMDigest struct {
	Digest SNPDigest
	// Mask is the compatibility mask of the SEV-SNP platform measured.
	Mask uint32
	// Pages counts the pages measured, by page type.
	Pages map[PageType]int
	// IDBlockLD is the launch digest the file's SNP_ID_BLOCK for Mask
	// promises, nil without one.
	IDBlockLD *SNPDigest
}

// MaxIGVMPages bounds the pages MeasureIGVM measures: 16 GiB of guest
// memory, about two seconds of PAGE_INFO hashing, far beyond what a
// launch adds with SNP_LAUNCH_UPDATE. A file of 2 MiB page directives
// without data could otherwise ask for billions.
const MaxIGVMPages = 1 << 22

// ErrIGVM marks an IGVM file whose SEV-SNP digest cannot be computed the
// way igvmmeasure computes it: no SEV-SNP platform, or a directive
// igvmmeasure cannot measure.
var ErrIGVM = errors.New("igvm: cannot measure for SEV-SNP")

// MeasureIGVM returns the SEV-SNP launch digest of f as COCONUT-SVSM's
// igvmmeasure computes it (tools/igvmmeasure, igvm_measure.rs at f4bc4bc;
// docs/research/launch-profiles-facts.md section 5.2), which is what
// SNP_LAUNCH_UPDATE and SNP_LAUNCH_FINISH under QEMU/KVM make of the file's
// directives:
//
//   - The platform is the first SUPPORTED_PLATFORM of type SEV-SNP; its
//     compatibility mask selects directives (mask & directive mask != 0).
//   - PAGE_DATA: each 4 KiB page (512 of them for a 2 MiB page) as
//     UNMEASURED with the unmeasured flag, else NORMAL with the SHA-384 of
//     its data (of 4 KiB of zeros without data; ZERO with NativeZero);
//     SECRETS and CPUID data as SECRETS and CPUID pages; other data types
//     are not measured, and the shared flag is not looked at.
//   - PARAMETER_INSERT: one UNMEASURED page at its GPA, whatever the size
//     of the parameter area (QEMU inserts the whole area: they differ for
//     an area larger than 4 KiB).
//   - VP_CONTEXT of an SEV-SNP platform, whatever its mask: a VMSA page at
//     its GPA, in file order.
//   - Nothing else (parameter areas, required memory, policies, parameters)
//     changes the digest.
//
// A 2 MiB page with data is refused: igvm 0.4.0 reads 4 KiB of it, and
// igvmmeasure then stops on the length.
func MeasureIGVM(f *igvm.File, opts IGVMOptions) (*IGVMDigest, error) {
	mask, ok := uint32(0), false
	platforms := map[uint32]igvm.PlatformType{}
	for _, h := range f.Platforms {
		p := h.Body.(*igvm.SupportedPlatform)
		platforms[p.CompatibilityMask] = p.PlatformType
		if !ok && p.PlatformType == igvm.PlatformSEVSNP {
			mask, ok = p.CompatibilityMask, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: the file declares no SEV-SNP platform", ErrIGVM)
	}
	if n := igvmPages(f, mask); n > MaxIGVMPages {
		return nil, fmt.Errorf("%w: the directives measure %d pages, more than %d (16 GiB)", ErrIGVM, n, MaxIGVMPages)
	}
	d := &IGVMDigest{Mask: mask, Pages: map[PageType]int{}}
	var g gctx
	update := func(t PageType, gpa uint64, contents *[48]byte) {
		g.update(t, gpa, contents)
		d.Pages[t]++
	}
	zeroPage := sha512.Sum384(make([]byte, pageSize))
	for _, h := range f.Directives {
		switch b := h.Body.(type) {
		case *igvm.PageData:
			if b.CompatibilityMask&mask == 0 {
				continue
			}
			pages := uint64(1)
			if b.Flags&igvm.PageFlag2MB != 0 {
				pages = 512
			}
			data, err := f.Data(b.FileOffset, igvm.PageSize)
			if err != nil {
				return nil, fmt.Errorf("page data at offset %#x: %w", h.Offset, err)
			}
			if data != nil && pages != 1 {
				return nil, fmt.Errorf("%w: page data at offset %#x (GPA %#x) is a 2 MiB page with data, which igvm 0.4.0 reads as 4 KiB and igvmmeasure refuses", ErrIGVM, h.Offset, b.GPA)
			}
			if b.GPA+pages*pageSize < b.GPA {
				return nil, fmt.Errorf("%w: page data at offset %#x: GPA %#x wraps", igvm.ErrMalformed, h.Offset, b.GPA)
			}
			for i := range pages {
				gpa := b.GPA + i*pageSize
				switch b.DataType {
				case igvm.PageDataNormal:
					switch {
					case b.Flags&igvm.PageFlagUnmeasured != 0:
						update(PageUnmeasured, gpa, &zeroContents)
					case data != nil:
						sum := sha512.Sum384(data)
						update(PageNormal, gpa, &sum)
					case opts.NativeZero:
						update(PageZero, gpa, &zeroContents)
					default:
						update(PageNormal, gpa, &zeroPage)
					}
				case igvm.PageDataSecrets:
					update(PageSecrets, gpa, &zeroContents)
				case igvm.PageDataCPUIDData, igvm.PageDataCPUIDXF:
					update(PageCPUID, gpa, &zeroContents)
				}
			}
		case *igvm.ParameterInsert:
			if b.CompatibilityMask&mask != 0 {
				update(PageUnmeasured, b.GPA, &zeroContents)
			}
		case *igvm.VPContext:
			switch platforms[b.CompatibilityMask] {
			case igvm.PlatformSEVSNP:
			case igvm.PlatformSEV, igvm.PlatformSEVES:
				// igvm 0.4.0 reads an SEV-ES context as an SNP VMSA, which
				// igvmmeasure would measure, and a plain SEV one as a native
				// context; whether a loader measures either beside an SNP
				// platform is not known.
				return nil, fmt.Errorf("%w: VP context at offset %#x belongs to an %s platform, beside the SEV-SNP one", ErrIGVM, h.Offset, platforms[b.CompatibilityMask])
			default:
				continue
			}
			page, err := f.Data(b.FileOffset, igvm.PageSize)
			if err != nil {
				return nil, fmt.Errorf("VP context at offset %#x: %w", h.Offset, err)
			}
			sum := sha512.Sum384(page)
			update(PageVMSA, b.GPA, &sum)
		case *igvm.SNPIDBlock:
			if b.CompatibilityMask&mask == 0 {
				continue
			}
			if d.IDBlockLD != nil {
				return nil, fmt.Errorf("%w: a second SNP ID block for mask %#x at offset %#x", igvm.ErrMalformed, mask, h.Offset)
			}
			ld := SNPDigest(b.LD)
			d.IDBlockLD = &ld
		}
	}
	d.Digest = g.ld
	return d, nil
}

// igvmPages counts the pages MeasureIGVM would measure for mask, at most
// (every PAGE_DATA, parameter insert and VP context), before any is hashed.
func igvmPages(f *igvm.File, mask uint32) int {
	n := 0
	for _, h := range f.Directives {
		switch b := h.Body.(type) {
		case *igvm.PageData:
			if b.CompatibilityMask&mask != 0 {
				if b.Flags&igvm.PageFlag2MB != 0 {
					n += 512
				} else {
					n++
				}
			}
		case *igvm.ParameterInsert, *igvm.VPContext:
			n++
		}
	}
	return n
}
