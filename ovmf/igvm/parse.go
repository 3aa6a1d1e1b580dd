package igvm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"slices"
)

type section int

const (
	sectionPlatform section = iota
	sectionInit
	sectionDirective
)

func (s section) String() string {
	return [...]string{"platform", "initialization", "directive"}[s]
}

// article is "a" or "an" before the section's name.
func (s section) article() string {
	if s == sectionInit {
		return "an"
	}
	return "a"
}

// known says, for each type this package reads, its section, its exact
// length and how to make an empty body. Lengths are the sizes of the
// igvm_defs structs; igvm 0.4.0 accepts only these exact lengths.
var known = map[HeaderType]struct {
	section section
	length  uint32
	body    func() any
}{
	TypeSupportedPlatform:    {sectionPlatform, 16, func() any { return new(SupportedPlatform) }},
	TypeGuestPolicy:          {sectionInit, 16, func() any { return new(GuestPolicy) }},
	TypeRelocatableRegion:    {sectionInit, 48, func() any { return new(RelocatableRegion) }},
	TypePageTableRelocation:  {sectionInit, 32, func() any { return new(PageTableRelocation) }},
	TypeParameterArea:        {sectionDirective, 16, func() any { return new(ParameterArea) }},
	TypePageData:             {sectionDirective, 24, func() any { return new(PageData) }},
	TypeParameterInsert:      {sectionDirective, 16, func() any { return new(ParameterInsert) }},
	TypeVPContext:            {sectionDirective, 20, func() any { return new(VPContext) }},
	TypeRequiredMemory:       {sectionDirective, 24, func() any { return new(RequiredMemory) }},
	TypeVPCountParameter:     {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeSRAT:                 {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeMADT:                 {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeMMIORanges:           {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeSNPIDBlock:           {sectionDirective, 696, func() any { return new(SNPIDBlock) }},
	TypeMemoryMap:            {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeErrorRange:           {sectionDirective, 16, func() any { return new(ErrorRange) }},
	TypeCommandLine:          {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeSLIT:                 {sectionDirective, 8, func() any { return new(Parameter) }},
	TypePPTT:                 {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeVBSMeasurement:       {sectionDirective, 864, func() any { return new(VBSMeasurement) }},
	TypeDeviceTree:           {sectionDirective, 8, func() any { return new(Parameter) }},
	TypeEnvironmentInfoParam: {sectionDirective, 8, func() any { return new(Parameter) }},
}

// vbsRegisterSize is sizeof(VbsVpContextRegister); a VSM VP context is a
// u32 register count followed by that many registers.
const vbsRegisterSize = 0x20

// Parse reads an IGVM file. It checks the fixed header (magic, version,
// sizes against the file, the CRC-32), every variable header's bounds,
// padding, section order and exact length, and each structure's rules
// (reserved fields zero, alignment, masks naming a declared platform,
// parameter area indices declared, file data inside the file). Unknown
// required types are ErrUnsupported; unknown optional ones (bit 31) are
// listed in File.Skipped.
func Parse(b []byte) (*File, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: file is %d bytes, more than the %d this reader takes", ErrUnsupported, len(b), MaxFileSize)
	}
	if len(b) < FixedHeaderSize {
		return nil, fmt.Errorf("%w: file is %d bytes, shorter than the %d-byte fixed header", ErrTruncated, len(b), FixedHeaderSize)
	}
	le := binary.LittleEndian
	h := FixedHeader{
		Magic:                le.Uint32(b[offMagic:]),
		FormatVersion:        le.Uint32(b[offFormatVersion:]),
		VariableHeaderOffset: le.Uint32(b[offVarHeaderOff:]),
		VariableHeaderSize:   le.Uint32(b[offVarHeaderSize:]),
		TotalFileSize:        le.Uint32(b[offTotalFileSize:]),
		Checksum:             le.Uint32(b[offChecksum:]),
	}
	if h.Magic != Magic {
		return nil, fmt.Errorf("%w: magic at 0x0 is %#x, want %#x (\"IGVM\")", ErrMalformed, h.Magic, Magic)
	}
	switch h.FormatVersion {
	case FormatVersion1:
	case FormatVersion2:
		if len(b) < FixedHeaderV2Size {
			return nil, fmt.Errorf("%w: file is %d bytes, shorter than the %d-byte version 2 fixed header", ErrTruncated, len(b), FixedHeaderV2Size)
		}
		h.Architecture = le.Uint32(b[offArchitecture:])
		h.PageSize = le.Uint32(b[offPageSize:])
		if h.Architecture != ArchX64 && h.Architecture != ArchAArch64 {
			return nil, fmt.Errorf("%w: architecture at %#x is %d, want %d (x64) or %d (aarch64)", ErrMalformed, offArchitecture, h.Architecture, ArchX64, ArchAArch64)
		}
		if h.PageSize != PageSize {
			return nil, fmt.Errorf("%w: page size at %#x is %d, want %d", ErrUnsupported, offPageSize, h.PageSize, PageSize)
		}
	default:
		return nil, fmt.Errorf("%w: format version at %#x is %d, want %d or %d", ErrUnsupported, offFormatVersion, h.FormatVersion, FormatVersion1, FormatVersion2)
	}
	if int64(h.TotalFileSize) != int64(len(b)) {
		return nil, fmt.Errorf("%w: total file size at %#x is %d, but the file is %d bytes", ErrTruncated, offTotalFileSize, h.TotalFileSize, len(b))
	}
	start, size := int64(h.VariableHeaderOffset), int64(h.VariableHeaderSize)
	if start < int64(h.Size()) || start%variableAlignment != 0 {
		return nil, fmt.Errorf("%w: variable header offset %#x, want a multiple of %d at or after the %d-byte fixed header", ErrMalformed, start, variableAlignment, h.Size())
	}
	end := start + size
	if end > int64(len(b)) {
		return nil, fmt.Errorf("%w: variable headers at %#x, %d bytes, end at %#x, past the file end %#x", ErrTruncated, start, size, end, len(b))
	}
	crc := crc32.NewIEEE()
	fixed := make([]byte, h.Size())
	copy(fixed, b)
	le.PutUint32(fixed[offChecksum:], 0)
	crc.Write(fixed)
	crc.Write(b[start:end])
	if got := crc.Sum32(); got != h.Checksum {
		return nil, fmt.Errorf("%w: checksum at %#x is %#08x, but the CRC-32 of the headers is %#08x", ErrMalformed, offChecksum, h.Checksum, got)
	}
	f := &File{Header: h, raw: b, fileDataStart: uint32(end)}
	p := parser{f: f, areas: map[uint32]uint64{}, inserted: map[uint32]bool{}, masks: map[uint32]PlatformType{}}
	for off := start; off < end; {
		next, err := p.header(b, off, end)
		if err != nil {
			return nil, err
		}
		off = next
	}
	return f, nil
}

type parser struct {
	f        *File
	section  section
	masks    map[uint32]PlatformType // declared platform masks
	areas    map[uint32]uint64       // declared parameter areas: index -> size
	inserted map[uint32]bool         // parameter areas already inserted
}

// header reads the variable header at off and returns where the next one starts.
func (p *parser) header(b []byte, off, end int64) (int64, error) {
	le := binary.LittleEndian
	if end-off < variableTLVSize {
		return 0, fmt.Errorf("%w: variable header at %#x: %d bytes left, want %d for type and length", ErrTruncated, off, end-off, variableTLVSize)
	}
	typ := HeaderType(le.Uint32(b[off:]))
	length := le.Uint32(b[off+4:])
	body := off + variableTLVSize
	padded := (int64(length) + variableAlignment - 1) &^ (variableAlignment - 1)
	if padded > end-body {
		return 0, fmt.Errorf("%w: variable header %s at %#x: length %d (padded %d) runs past the end of the variable headers at %#x", ErrTruncated, typ, off, length, padded, end)
	}
	for i := body + int64(length); i < body+padded; i++ {
		if b[i] != 0 {
			return 0, fmt.Errorf("%w: variable header %s at %#x: padding byte at %#x is %#x, want 0", ErrMalformed, typ, off, i, b[i])
		}
	}
	next := body + padded
	hdr := Header{Type: typ, Offset: off, Length: length}
	k, ok := known[typ]
	if !ok {
		if typ&TypeOptionalBit != 0 {
			p.f.Skipped = append(p.f.Skipped, hdr)
			return next, nil
		}
		return 0, fmt.Errorf("%w: variable header at %#x: type %s is not one this reader knows, and it is not optional (bit 31 clear)", ErrUnsupported, off, typ)
	}
	if k.section < p.section {
		return 0, fmt.Errorf("%w: variable header %s at %#x: %s %s header after the %s section", ErrMalformed, typ, off, k.section.article(), k.section, p.section)
	}
	p.section = k.section
	if length != k.length {
		return 0, fmt.Errorf("%w: variable header %s at %#x: length %d, want %d", ErrMalformed, typ, off, length, k.length)
	}
	hdr.Body = k.body()
	if _, err := binary.Decode(b[body:body+int64(length)], le, hdr.Body); err != nil {
		return 0, fmt.Errorf("%w: variable header %s at %#x: %v", ErrMalformed, typ, off, err)
	}
	if err := p.check(hdr); err != nil {
		return 0, fmt.Errorf("variable header %s at %#x: %w", typ, off, err)
	}
	switch k.section {
	case sectionPlatform:
		p.f.Platforms = append(p.f.Platforms, hdr)
	case sectionInit:
		p.f.Initialization = append(p.f.Initialization, hdr)
	default:
		p.f.Directives = append(p.f.Directives, hdr)
	}
	return next, nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// check applies a structure's own rules and its references to earlier headers.
func (p *parser) check(h Header) error {
	switch b := h.Body.(type) {
	case *SupportedPlatform:
		if bits.OnesCount32(b.CompatibilityMask) != 1 {
			return malformed("compatibility mask %#x, want exactly one bit set", b.CompatibilityMask)
		}
		if _, dup := p.masks[b.CompatibilityMask]; dup {
			return malformed("compatibility mask %#x declared twice", b.CompatibilityMask)
		}
		if b.HighestVTL != 0 && b.HighestVTL != 2 {
			return malformed("highest VTL %d, want 0 or 2", b.HighestVTL)
		}
		if _, ok := platformNames[b.PlatformType]; !ok {
			return fmt.Errorf("%w: platform type %d", ErrUnsupported, b.PlatformType)
		}
		if b.PlatformVersion != PlatformVersion {
			return malformed("platform version %d, want %d", b.PlatformVersion, PlatformVersion)
		}
		if (b.PlatformType == PlatformNative || b.PlatformType == PlatformVSMIsolation) && b.SharedGPABoundary != 0 {
			return malformed("shared GPA boundary %#x on platform %s, want 0", b.SharedGPABoundary, b.PlatformType)
		}
		p.masks[b.CompatibilityMask] = b.PlatformType
	case *GuestPolicy:
		if b.Reserved != 0 {
			return malformed("reserved field is %#x, want 0", b.Reserved)
		}
	case *RelocatableRegion:
		if b.VTL != 0 && b.VTL != 2 {
			return malformed("VTL %d, want 0 or 2", b.VTL)
		}
	case *PageTableRelocation:
		if b.Reserved != 0 {
			return malformed("reserved field is %#x, want 0", b.Reserved)
		}
		if b.VTL != 0 && b.VTL != 2 {
			return malformed("VTL %d, want 0 or 2", b.VTL)
		}
	case *ParameterArea:
		if b.NumberOfBytes == 0 || b.NumberOfBytes%PageSize != 0 {
			return malformed("size %#x, want a nonzero multiple of %#x", b.NumberOfBytes, PageSize)
		}
		if _, dup := p.areas[b.ParameterAreaIndex]; dup {
			return malformed("parameter area index %d declared twice", b.ParameterAreaIndex)
		}
		if _, err := p.f.Data(b.FileOffset, b.NumberOfBytes); err != nil {
			return err
		}
		p.areas[b.ParameterAreaIndex] = b.NumberOfBytes
	case *PageData:
		if b.Reserved != 0 {
			return malformed("reserved field is %#x, want 0", b.Reserved)
		}
		if b.GPA%PageSize != 0 {
			return malformed("GPA %#x is not 4 KiB aligned", b.GPA)
		}
		// igvm 0.4.0 refuses other types (InvalidPageDataType).
		if b.DataType > PageDataCPUIDXF {
			return malformed("page data type %d, want 0 to %d (normal, secrets, CPUID data, CPUID XF)", b.DataType, PageDataCPUIDXF)
		}
		// igvm 0.4.0 reads 4 KiB of data whatever the page size.
		if _, err := p.f.Data(b.FileOffset, PageSize); err != nil {
			return err
		}
	case *ParameterInsert:
		if b.GPA%PageSize != 0 {
			return malformed("GPA %#x is not 4 KiB aligned", b.GPA)
		}
		if _, ok := p.areas[b.ParameterAreaIndex]; !ok {
			return malformed("parameter area index %d is not declared", b.ParameterAreaIndex)
		}
		if p.inserted[b.ParameterAreaIndex] {
			return malformed("parameter area index %d is inserted twice", b.ParameterAreaIndex)
		}
		p.inserted[b.ParameterAreaIndex] = true
	case *Parameter:
		if size, ok := p.areas[b.ParameterAreaIndex]; !ok {
			return malformed("parameter area index %d is not declared", b.ParameterAreaIndex)
		} else if p.inserted[b.ParameterAreaIndex] {
			return malformed("parameter area index %d is used after its insert", b.ParameterAreaIndex)
		} else if uint64(b.ByteOffset) >= size {
			return malformed("byte offset %#x is outside parameter area %d of %#x bytes", b.ByteOffset, b.ParameterAreaIndex, size)
		}
	case *VPContext:
		return p.checkVPContext(b)
	case *ErrorRange:
		if b.GPA%PageSize != 0 {
			return malformed("GPA %#x is not 4 KiB aligned", b.GPA)
		}
	case *RequiredMemory:
		if b.Reserved != 0 {
			return malformed("reserved field is %#x, want 0", b.Reserved)
		}
		if b.GPA%PageSize != 0 || b.NumberOfBytes%PageSize != 0 {
			return malformed("GPA %#x and size %#x, want both 4 KiB aligned", b.GPA, b.NumberOfBytes)
		}
	}
	return nil
}

// sevVMSASize is the size of igvm's SevVmsa (igvm/src/snp_defs.rs): the
// VMSA up to and including the YMM registers.
const sevVMSASize = 0x670

// checkVPContext checks a VP context's data: a 4 KiB page (VMSA or native
// context) or, for VSM, a register list.
func (p *parser) checkVPContext(b *VPContext) error {
	if b.FileOffset == 0 {
		return malformed("file offset is 0: a VP context needs data")
	}
	if b.GPA%PageSize != 0 {
		return malformed("VP context GPA %#x is not 4 KiB aligned", b.GPA)
	}
	platform, ok := p.masks[b.CompatibilityMask]
	if !ok {
		return malformed("compatibility mask %#x names no supported platform", b.CompatibilityMask)
	}
	if platform != PlatformVSMIsolation {
		page, err := p.f.Data(b.FileOffset, PageSize)
		if err != nil {
			return err
		}
		// igvm 0.4.0 reads an SEV-family context as its SevVmsa (0x670
		// bytes) and refuses a page with anything after it (InvalidVmsa).
		if platform == PlatformSEVSNP || platform == PlatformSEV || platform == PlatformSEVES {
			if i := slices.IndexFunc(page[sevVMSASize:], func(c byte) bool { return c != 0 }); i >= 0 {
				return malformed("VMSA of VP %d at file offset %#x has a nonzero byte at %#x, past the VMSA's %#x bytes", b.VPIndex, b.FileOffset, sevVMSASize+i, sevVMSASize)
			}
		}
		return nil
	}
	hdr, err := p.f.Data(b.FileOffset, 4)
	if err != nil {
		return err
	}
	n := uint64(binary.LittleEndian.Uint32(hdr))
	if n == 0 {
		return malformed("VSM VP context at file offset %#x has no registers", b.FileOffset)
	}
	if b.VPIndex != 0 {
		return fmt.Errorf("%w: VSM VP context for VP %d: igvm 0.4.0 reads only VP 0", ErrUnsupported, b.VPIndex)
	}
	_, err = p.f.Data(b.FileOffset, 4+n*vbsRegisterSize)
	return err
}
