package ovmf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// SEVMetadataHeader is OVMF_SEV_METADATA (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm,
// OvmfPkg/Include/WorkArea.h): the "ASEV" header that precedes the section
// descriptors. The footer table's SEVMetadataGUID entry holds a uint32: the
// header's distance from the end of the image.
type SEVMetadataHeader struct {
	Signature [4]byte // "ASEV"
	Size      uint32  // header plus all descriptors, in bytes
	Version   uint32  // 1
	NumItems  uint32
}

// SEVMetadataSection is OVMF_SEV_METADATA_SECTION_DESC: one memory range
// that the VMM must add to the guest at launch, typed by SectionType.
type SEVMetadataSection struct {
	GPA  uint32
	Size uint32
	Type SectionType
}

// SectionType is the kind of an SEV metadata section
// (edk2 OvmfPkg/Include/WorkArea.h, OVMF_SECTION_TYPE).
type SectionType uint32

// SEV metadata section types.
const (
	SectionSNPSecMem       SectionType = 1    // pre-validated memory, measured as zero pages
	SectionSNPSecrets      SectionType = 2    // the SNP secrets page
	SectionCPUID           SectionType = 3    // the SNP CPUID page
	SectionSVSMCAA         SectionType = 4    // the SVSM calling area, zero pages
	SectionSNPKernelHashes SectionType = 0x10 // the SEV hashes table page(s) for measured direct boot
)

// String names the section type as edk2 does.
func (t SectionType) String() string {
	switch t {
	case SectionSNPSecMem:
		return "SNP_SEC_MEM"
	case SectionSNPSecrets:
		return "SNP_SECRETS"
	case SectionCPUID:
		return "CPUID"
	case SectionSVSMCAA:
		return "SVSM_CAA"
	case SectionSNPKernelHashes:
		return "SNP_KERNEL_HASHES"
	}
	return fmt.Sprintf("unknown(%#x)", uint32(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t SectionType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

const (
	sevMetadataSignature   = "ASEV"
	sevMetadataVersion     = 1
	sevMetadataHeaderSize  = 16 // binary.Size(SEVMetadataHeader{})
	sevMetadataSectionSize = 12 // binary.Size(SEVMetadataSection{})
	sevMetadataPointerSize = 4  // the footer entry's uint32 offset from the end
	pageSize               = 4096
	fourGiB                = 1 << 32
)

// SEVMetadata is the parsed SEV metadata of an image.
type SEVMetadata struct {
	// Offset is where the header starts in the image.
	Offset   int64
	Sections []SEVMetadataSection
}

// parseSEVMetadata reads the SEV metadata that the footer entry data points at.
func parseSEVMetadata(image []byte, entry TableEntry) (*SEVMetadata, error) {
	if len(entry.Data) < sevMetadataPointerSize {
		return nil, fmt.Errorf("SEV metadata entry at %#x: %d bytes, want %d", entry.Offset, len(entry.Data), sevMetadataPointerSize)
	}
	size := int64(len(image))
	fromEnd := int64(binary.LittleEndian.Uint32(entry.Data))
	start := size - fromEnd
	if fromEnd < sevMetadataHeaderSize || start < 0 || fromEnd > size {
		return nil, fmt.Errorf("SEV metadata entry at %#x: offset %#x from the end of a %#x-byte image, want %#x to %#x", entry.Offset, fromEnd, size, sevMetadataHeaderSize, size)
	}
	var hdr SEVMetadataHeader
	if _, err := binary.Decode(image[start:], binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("SEV metadata at %#x: %w", start, err)
	}
	if string(hdr.Signature[:]) != sevMetadataSignature {
		return nil, fmt.Errorf("SEV metadata at %#x: signature %q, want %q", start, hdr.Signature[:], sevMetadataSignature)
	}
	if hdr.Version != sevMetadataVersion {
		return nil, fmt.Errorf("SEV metadata at %#x: version %d, want %d", start, hdr.Version, sevMetadataVersion)
	}
	avail := size - start
	want := sevMetadataHeaderSize + int64(hdr.NumItems)*sevMetadataSectionSize
	if int64(hdr.Size) < want || int64(hdr.Size) > avail {
		return nil, fmt.Errorf("SEV metadata at %#x: size %d for %d sections, want %d to %d", start, hdr.Size, hdr.NumItems, want, avail)
	}
	md := &SEVMetadata{Offset: start, Sections: make([]SEVMetadataSection, hdr.NumItems)}
	if _, err := binary.Decode(image[start+sevMetadataHeaderSize:], binary.LittleEndian, md.Sections); err != nil {
		return nil, fmt.Errorf("SEV metadata at %#x: %w", start, err)
	}
	return md, nil
}

// Marshal is the inverse of parsing: the header and section descriptors.
func (m *SEVMetadata) Marshal() []byte {
	var buf bytes.Buffer
	hdr := SEVMetadataHeader{
		Size:     uint32(sevMetadataHeaderSize + len(m.Sections)*sevMetadataSectionSize),
		Version:  sevMetadataVersion,
		NumItems: uint32(len(m.Sections)),
	}
	copy(hdr.Signature[:], sevMetadataSignature)
	// Writes to a bytes.Buffer of fixed-size values cannot fail.
	_ = binary.Write(&buf, binary.LittleEndian, hdr)
	_ = binary.Write(&buf, binary.LittleEndian, m.Sections)
	return buf.Bytes()
}

// Has reports whether a section of type t is declared.
func (m *SEVMetadata) Has(t SectionType) bool {
	if m == nil {
		return false
	}
	for _, s := range m.Sections {
		if s.Type == t {
			return true
		}
	}
	return false
}

// Validate checks what an SNP launch needs of the sections: a known type,
// a page-aligned GPA, a non-zero size that is a multiple of 4 KiB, an end
// at or below 4 GiB, and no two sections overlapping. It runs in
// O(n log n) for n sections.
func (m *SEVMetadata) Validate() error {
	for i, s := range m.Sections {
		switch s.Type {
		case SectionSNPSecMem, SectionSNPSecrets, SectionCPUID, SectionSVSMCAA, SectionSNPKernelHashes:
		default:
			return fmt.Errorf("SEV metadata section %d: type %#x is unknown", i, uint32(s.Type))
		}
		if s.GPA%pageSize != 0 {
			return fmt.Errorf("SEV metadata section %d (%s): GPA %#x is not 4 KiB aligned", i, s.Type, s.GPA)
		}
		if s.Size == 0 || s.Size%pageSize != 0 {
			return fmt.Errorf("SEV metadata section %d (%s): size %#x, want a non-zero multiple of 4 KiB", i, s.Type, s.Size)
		}
		if uint64(s.GPA)+uint64(s.Size) > fourGiB {
			return fmt.Errorf("SEV metadata section %d (%s): GPA %#x + size %#x passes 4 GiB", i, s.Type, s.GPA, s.Size)
		}
	}
	order := make([]int, len(m.Sections))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return m.Sections[order[a]].GPA < m.Sections[order[b]].GPA })
	for k := 1; k < len(order); k++ {
		i, j := order[k-1], order[k]
		a, b := m.Sections[i], m.Sections[j]
		if uint64(a.GPA)+uint64(a.Size) > uint64(b.GPA) {
			if i > j {
				i, j, a, b = j, i, b, a
			}
			return fmt.Errorf("SEV metadata sections %d (%s at %#x) and %d (%s at %#x) overlap", i, a.Type, a.GPA, j, b.Type, b.GPA)
		}
	}
	return nil
}
