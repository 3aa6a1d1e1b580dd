package ovmf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// TDVFDescriptor is TDVF_DESCRIPTOR, the header of the TDX metadata (Intel TDX
// Virtual Firmware Design Guide, section 11.1, table 11-2; edk2
// OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm; QEMU hw/i386/tdvf.c). The
// footer table's TDXMetadataGUID entry holds a uint32: the descriptor's
// distance from the end of the image.
type TDVFDescriptor struct {
	Signature            [4]byte // "TDVF"
	Length               uint32  // descriptor plus all section entries, in bytes
	Version              uint32  // 1
	NumberOfSectionEntry uint32
}

// TDVFSection is TDVF_SECTION (TDVF Design Guide, table 11-3): one range of
// guest memory that the VMM adds to the TD before it runs, optionally
// initialised from the image and measured into MRTD.
type TDVFSection struct {
	DataOffset     uint32          // where the section's bytes start in the image
	RawDataSize    uint32          // how many bytes the image holds for it (0: none)
	MemoryAddress  uint64          // guest physical address, page aligned
	MemoryDataSize uint64          // bytes of guest memory, page aligned
	Type           TDVFSectionType // what the memory is for
	Attributes     TDVFAttributes  // MR.EXTEND, PAGE.AUG
}

// End returns the first guest physical address after the section.
func (s TDVFSection) End() uint64 { return s.MemoryAddress + s.MemoryDataSize }

// HasData reports whether the section is initialised from the image.
func (s TDVFSection) HasData() bool { return s.RawDataSize != 0 }

// TDVFSectionType is TDVF_SECTION.Type (TDVF Design Guide, table 11-4).
type TDVFSectionType uint32

// TDVF section types.
const (
	TDVFSectionBFV          TDVFSectionType = 0 // boot firmware volume: code, measured
	TDVFSectionCFV          TDVFSectionType = 1 // configuration firmware volume: the variable store
	TDVFSectionTDHOB        TDVFSectionType = 2 // where the VMM writes the TD HOB
	TDVFSectionTempMem      TDVFSectionType = 3 // temporary memory (stacks, page tables), zeroed
	TDVFSectionPermMem      TDVFSectionType = 4 // permanent memory, usually added with PAGE.AUG
	TDVFSectionPayload      TDVFSectionType = 5 // a payload (kernel) carried in the image
	TDVFSectionPayloadParam TDVFSectionType = 6 // the payload's parameters
)

var tdvfSectionNames = [...]string{"BFV", "CFV", "TD_HOB", "TempMem", "PermMem", "Payload", "PayloadParam"}

// String names the section type as the TDVF Design Guide does.
func (t TDVFSectionType) String() string {
	if int(t) < len(tdvfSectionNames) {
		return tdvfSectionNames[t]
	}
	return fmt.Sprintf("unknown(%#x)", uint32(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t TDVFSectionType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// TDVFAttributes is TDVF_SECTION.Attributes (TDVF Design Guide, table 11-3).
type TDVFAttributes uint32

// TDVF section attributes.
const (
	// TDVFAttrMRExtend asks the VMM to measure the section's contents with
	// TDH.MR.EXTEND after adding its pages.
	TDVFAttrMRExtend TDVFAttributes = 1 << 0
	// TDVFAttrPageAug lets the VMM add the pages with TDH.MEM.PAGE.AUG, which
	// is not measured, instead of TDH.MEM.PAGE.ADD.
	TDVFAttrPageAug TDVFAttributes = 1 << 1

	tdvfKnownAttrs = TDVFAttrMRExtend | TDVFAttrPageAug
)

// String lists the attribute names, "MR.EXTEND|PAGE.AUG", or "0".
func (a TDVFAttributes) String() string {
	var parts []string
	if a&TDVFAttrMRExtend != 0 {
		parts = append(parts, "MR.EXTEND")
	}
	if a&TDVFAttrPageAug != 0 {
		parts = append(parts, "PAGE.AUG")
	}
	if rest := a &^ tdvfKnownAttrs; rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(rest)))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// MarshalText implements encoding.TextMarshaler.
func (a TDVFAttributes) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Layout of the TDX metadata (TDVF Design Guide, section 11.1).
const (
	// TDVFDescriptorSize is binary.Size(TDVFDescriptor{}).
	TDVFDescriptorSize = 16
	// TDVFSectionSize is binary.Size(TDVFSection{}).
	TDVFSectionSize = 32
	// TDVFVersion is the only TDVF_DESCRIPTOR.Version defined.
	TDVFVersion = 1

	tdvfSignature   = "TDVF"
	tdvfPointerSize = 4 // the footer entry's uint32 offset from the end
	// maxGPA bounds guest physical addresses: TDX guests have at most 52
	// address bits (GPAW).
	maxGPA = 1 << 52
)

// TDVFMetadataGUID is the GUID edk2 puts just before the TDVF descriptor
// (IntelTdxMetadata.asm, TdxMetadataGuid). QEMU does not check it; neither
// does ParseTDVF.
var TDVFMetadataGUID = MustParseGUID("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae")

// Errors callers branch on.
var (
	// ErrNoTDVFMetadata reports firmware without TDX metadata: it cannot be
	// launched as a TD.
	ErrNoTDVFMetadata = errors.New("firmware has no TDX metadata (TDVF descriptor): it is not a TDX firmware (TDVF/OVMF built with TDX support)")
	// ErrTDVFSectionOutsideImage reports a section whose bytes lie past the
	// end of the image, as in the CODE half of a split OVMF build.
	ErrTDVFSectionOutsideImage = errors.New("TDVF section data lies outside the image")
)

// TDVFMetadata is the parsed TDX metadata of an image.
type TDVFMetadata struct {
	// Offset is where the descriptor starts in the image.
	Offset int64
	// Sections in the order the image lists them, which is the order the VMM
	// adds them to the TD.
	Sections []TDVFSection
}

// Section returns the first section of type t.
func (m *TDVFMetadata) Section(t TDVFSectionType) (TDVFSection, bool) {
	for _, s := range m.Sections {
		if s.Type == t {
			return s, true
		}
	}
	return TDVFSection{}, false
}

// TDVFMetadata parses the image's TDX metadata. It returns ErrNoTDVFMetadata
// when the footer table has no TDX metadata entry.
func (img *Image) TDVFMetadata() (*TDVFMetadata, error) {
	e, ok := img.Entry(TDXMetadataGUID)
	if !ok {
		return nil, ErrNoTDVFMetadata
	}
	return ParseTDVFMetadata(img.data, e)
}

// ParseTDVF finds the TDX metadata through the footer table at the end of
// image and parses it. It needs no more of the image than its size, the
// footer table and the metadata: it works on any byte slice.
func ParseTDVF(image []byte) (*TDVFMetadata, error) {
	entries, err := ParseFooterTable(image)
	if errors.Is(err, ErrNoFooterTable) {
		return nil, fmt.Errorf("%w: %w", ErrNoTDVFMetadata, err)
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.GUID == TDXMetadataGUID {
			return ParseTDVFMetadata(image, e)
		}
	}
	return nil, ErrNoTDVFMetadata
}

// ParseTDVFMetadata reads the TDVF descriptor and sections that the footer
// table entry points at, and checks them as QEMU (hw/i386/tdvf.c) and the
// TDVF Design Guide require: signature, version, a length that matches the
// section count, page-aligned sections that neither wrap nor overlap, and
// image data that lies inside the image.
func ParseTDVFMetadata(image []byte, entry TableEntry) (*TDVFMetadata, error) {
	if len(entry.Data) < tdvfPointerSize {
		return nil, fmt.Errorf("TDX metadata entry at %#x: %d bytes, want %d", entry.Offset, len(entry.Data), tdvfPointerSize)
	}
	size := int64(len(image))
	fromEnd := int64(binary.LittleEndian.Uint32(entry.Data))
	if fromEnd < TDVFDescriptorSize || fromEnd > size {
		return nil, fmt.Errorf("TDX metadata entry at %#x: offset %#x from the end of a %#x-byte image, want %#x to %#x", entry.Offset, fromEnd, size, TDVFDescriptorSize, size)
	}
	start := size - fromEnd
	m, err := parseTDVFAt(image[start:], start)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(size); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalTDVF parses the bytes Marshal returns: a descriptor followed by
// its sections. at is where b starts in the image, for error messages and
// TDVFMetadata.Offset. It checks the structure only; Validate checks the
// sections against an image.
func UnmarshalTDVF(b []byte, at int64) (*TDVFMetadata, error) { return parseTDVFAt(b, at) }

func parseTDVFAt(b []byte, at int64) (*TDVFMetadata, error) {
	var d TDVFDescriptor
	if len(b) < TDVFDescriptorSize {
		return nil, fmt.Errorf("TDVF descriptor at %#x: %d bytes left, want %d", at, len(b), TDVFDescriptorSize)
	}
	if _, err := binary.Decode(b, binary.LittleEndian, &d); err != nil {
		return nil, fmt.Errorf("TDVF descriptor at %#x: %w", at, err)
	}
	if string(d.Signature[:]) != tdvfSignature {
		return nil, fmt.Errorf("TDVF descriptor at %#x: signature %q, want %q", at, d.Signature[:], tdvfSignature)
	}
	if d.Version != TDVFVersion {
		return nil, fmt.Errorf("TDVF descriptor at %#x: version %d, want %d", at, d.Version, TDVFVersion)
	}
	if d.NumberOfSectionEntry == 0 {
		return nil, fmt.Errorf("TDVF descriptor at %#x: 0 sections, want at least 1", at)
	}
	// 64-bit arithmetic: 2^32-1 sections do not overflow, and are refused
	// before anything is allocated for them.
	want := TDVFDescriptorSize + int64(d.NumberOfSectionEntry)*TDVFSectionSize
	if want > int64(len(b)) {
		return nil, fmt.Errorf("TDVF descriptor at %#x: %d sections need %d bytes, only %d left in the image", at, d.NumberOfSectionEntry, want, len(b))
	}
	if int64(d.Length) != want {
		return nil, fmt.Errorf("TDVF descriptor at %#x: length %d for %d sections, want %d", at, d.Length, d.NumberOfSectionEntry, want)
	}
	m := &TDVFMetadata{Offset: at, Sections: make([]TDVFSection, d.NumberOfSectionEntry)}
	if _, err := binary.Decode(b[TDVFDescriptorSize:want], binary.LittleEndian, m.Sections); err != nil {
		return nil, fmt.Errorf("TDVF sections at %#x: %w", at+TDVFDescriptorSize, err)
	}
	return m, nil
}

// Validate checks the sections against an image of imageSize bytes. Errors
// for data past the end of the image wrap ErrTDVFSectionOutsideImage.
func (m *TDVFMetadata) Validate(imageSize int64) error {
	hobs := 0
	for i, s := range m.Sections {
		where := fmt.Sprintf("TDVF section %d (%s) at %#x", i, s.Type, m.Offset+TDVFDescriptorSize+int64(i)*TDVFSectionSize)
		if s.Type > TDVFSectionPayloadParam {
			return fmt.Errorf("%s: type %d, want 0 to %d", where, uint32(s.Type), TDVFSectionPayloadParam)
		}
		if s.Attributes&^tdvfKnownAttrs != 0 {
			return fmt.Errorf("%s: attributes %#x, want only MR.EXTEND (0x1) and PAGE.AUG (0x2)", where, uint32(s.Attributes))
		}
		if s.MemoryAddress%PageSize != 0 {
			return fmt.Errorf("%s: memory address %#x is not 4 KiB aligned", where, s.MemoryAddress)
		}
		if s.MemoryDataSize == 0 || s.MemoryDataSize%PageSize != 0 {
			return fmt.Errorf("%s: memory size %#x, want a non-zero multiple of 4 KiB", where, s.MemoryDataSize)
		}
		if s.MemoryDataSize > maxGPA || s.MemoryAddress > maxGPA-s.MemoryDataSize {
			return fmt.Errorf("%s: memory %#x+%#x wraps or ends past the 52-bit guest physical address space", where, s.MemoryAddress, s.MemoryDataSize)
		}
		if uint64(s.RawDataSize) > s.MemoryDataSize {
			return fmt.Errorf("%s: raw data size %#x is larger than memory size %#x", where, s.RawDataSize, s.MemoryDataSize)
		}
		switch s.Type {
		case TDVFSectionBFV, TDVFSectionCFV:
			if s.RawDataSize == 0 {
				return fmt.Errorf("%s: raw data size 0, want the volume's size", where)
			}
		case TDVFSectionTDHOB, TDVFSectionTempMem:
			if s.RawDataSize != 0 {
				return fmt.Errorf("%s: raw data size %#x, want 0", where, s.RawDataSize)
			}
		}
		if s.Type == TDVFSectionTDHOB {
			hobs++
			if hobs > 1 {
				return fmt.Errorf("%s: a second TD_HOB section, want at most one", where)
			}
		}
		if s.RawDataSize != 0 {
			// QEMU copies MemoryDataSize bytes from DataOffset; sections with
			// fewer image bytes than memory are not modelled.
			if uint64(s.RawDataSize) != s.MemoryDataSize {
				return fmt.Errorf("%s: raw data size %#x differs from memory size %#x, want them equal", where, s.RawDataSize, s.MemoryDataSize)
			}
			if end := int64(s.DataOffset) + int64(s.RawDataSize); end > imageSize {
				return fmt.Errorf("%w: %s: data %#x+%#x ends at %#x, past the end of the %#x-byte image", ErrTDVFSectionOutsideImage, where, s.DataOffset, s.RawDataSize, end, imageSize)
			}
		}
	}
	// Overlaps: sort a copy by address and compare neighbours.
	idx := make([]int, len(m.Sections))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		sa, sb := m.Sections[a].MemoryAddress, m.Sections[b].MemoryAddress
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return a - b
	})
	for k := 1; k < len(idx); k++ {
		p, q := m.Sections[idx[k-1]], m.Sections[idx[k]]
		if q.MemoryAddress < p.End() {
			return fmt.Errorf("TDVF sections %d (%s, %#x+%#x) and %d (%s, %#x+%#x) overlap", idx[k-1], p.Type, p.MemoryAddress, p.MemoryDataSize, idx[k], q.Type, q.MemoryAddress, q.MemoryDataSize)
		}
	}
	return nil
}

// Marshal is the inverse of UnmarshalTDVF: the descriptor followed by the
// section entries, as they sit in an image.
func (m *TDVFMetadata) Marshal() []byte {
	d := TDVFDescriptor{
		Length:               uint32(TDVFDescriptorSize + len(m.Sections)*TDVFSectionSize),
		Version:              TDVFVersion,
		NumberOfSectionEntry: uint32(len(m.Sections)),
	}
	copy(d.Signature[:], tdvfSignature)
	out := make([]byte, 0, d.Length)
	// Appending fixed-size values to a slice cannot fail.
	out, _ = binary.Append(out, binary.LittleEndian, &d)
	out, _ = binary.Append(out, binary.LittleEndian, m.Sections)
	return out
}
