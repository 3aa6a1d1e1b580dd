// Package igvmtest builds IGVM files for tests and fuzz seeds: the inverse
// of package igvm's Parse.
package igvmtest

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/measure-cc/measure/ovmf/igvm"
)

// Record is one variable header. Body is one of igvm's header structs (by
// value or pointer) or raw []byte. Data, if set, is placed in the file data
// section and the body's FileOffset (PageData, ParameterArea, VPContext)
// set to it.
type Record struct {
	Type igvm.HeaderType
	Body any
	Data []byte
}

// File describes an IGVM file to build.
type File struct {
	Version      uint32 // 0 means 1
	Architecture uint32 // version 2 only
	Records      []Record
	// Trailer is appended after the records' data (file data nobody references).
	Trailer []byte
}

func pad8(n int) int { return (n + 7) &^ 7 }

func bodyBytes(body any) []byte {
	if b, ok := body.([]byte); ok {
		return b
	}
	b, err := binary.Append(nil, binary.LittleEndian, body)
	if err != nil {
		panic(err)
	}
	return b
}

// Build returns the file's bytes with sizes, offsets and checksum filled in.
func (f File) Build() []byte {
	version := f.Version
	if version == 0 {
		version = igvm.FormatVersion1
	}
	fixedSize := igvm.FixedHeaderSize
	if version == igvm.FormatVersion2 {
		fixedSize = igvm.FixedHeaderV2Size
	}
	varSize := 0
	for _, r := range f.Records {
		varSize += 8 + pad8(len(bodyBytes(r.Body)))
	}
	dataStart := fixedSize + varSize
	var vars, data []byte
	for _, r := range f.Records {
		body := r.Body
		if r.Data != nil {
			off := uint32(dataStart + len(data))
			switch b := body.(type) {
			case igvm.PageData:
				b.FileOffset = off
				body = b
			case igvm.ParameterArea:
				b.FileOffset = off
				body = b
			case igvm.VPContext:
				b.FileOffset = off
				body = b
			default:
				panic("igvmtest: Data on a record without a file offset")
			}
			data = append(data, r.Data...)
		}
		bb := bodyBytes(body)
		vars = binary.LittleEndian.AppendUint32(vars, uint32(r.Type))
		vars = binary.LittleEndian.AppendUint32(vars, uint32(len(bb)))
		vars = append(vars, bb...)
		vars = append(vars, make([]byte, pad8(len(bb))-len(bb))...)
	}
	data = append(data, f.Trailer...)
	out := make([]byte, fixedSize, dataStart+len(data))
	le := binary.LittleEndian
	le.PutUint32(out[0x00:], igvm.Magic)
	le.PutUint32(out[0x04:], version)
	le.PutUint32(out[0x08:], uint32(fixedSize))
	le.PutUint32(out[0x0C:], uint32(varSize))
	le.PutUint32(out[0x10:], uint32(dataStart+len(data)))
	if version == igvm.FormatVersion2 {
		le.PutUint32(out[0x18:], f.Architecture)
		le.PutUint32(out[0x1C:], igvm.PageSize)
	}
	out = append(out, vars...)
	le.PutUint32(out[0x14:], crc32.ChecksumIEEE(out))
	return append(out, data...)
}

// Fix recomputes the total size and checksum of b in place after a test
// edited it, so that the edit reaches the checks behind them.
func Fix(b []byte) []byte {
	le := binary.LittleEndian
	if len(b) < igvm.FixedHeaderSize {
		return b
	}
	le.PutUint32(b[0x10:], uint32(len(b)))
	fixed := igvm.FixedHeaderSize
	if le.Uint32(b[0x04:]) == igvm.FormatVersion2 && len(b) >= igvm.FixedHeaderV2Size {
		fixed = igvm.FixedHeaderV2Size
	}
	start, size := int(le.Uint32(b[0x08:])), int(le.Uint32(b[0x0C:]))
	if start < fixed || start+size > len(b) || start+size < start {
		return b
	}
	le.PutUint32(b[0x14:], 0)
	crc := crc32.NewIEEE()
	crc.Write(b[:fixed])
	crc.Write(b[start : start+size])
	le.PutUint32(b[0x14:], crc.Sum32())
	return b
}

// Page returns a 4 KiB page filled with v.
func Page(v byte) []byte {
	p := make([]byte, igvm.PageSize)
	for i := range p {
		p[i] = v
	}
	return p
}

// SNPFile is a small file for an SEV-SNP platform (mask 1) and a VSM
// platform (mask 2), with one header of every type igvm reads.
func SNPFile() File {
	vsmContext := make([]byte, 4+0x20)
	vsmContext[0] = 1 // one register
	return File{Records: []Record{
		{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1, SharedGPABoundary: 1 << 46}},
		{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, HighestVTL: 2, PlatformType: igvm.PlatformVSMIsolation, PlatformVersion: 1}},
		{Type: igvm.TypeGuestPolicy, Body: igvm.GuestPolicy{Policy: 0x30000, CompatibilityMask: 1}},
		{Type: igvm.TypeRelocatableRegion, Body: igvm.RelocatableRegion{CompatibilityMask: 2, VTL: 2, RelocationAlignment: 0x200000, RelocationRegionGPA: 0x1000000, RelocationRegionSize: 0x200000}},
		{Type: igvm.TypePageTableRelocation, Body: igvm.PageTableRelocation{CompatibilityMask: 2, GPA: 0x800000, Size: 0x10000, UsedSize: 0x3000}},
		{Type: igvm.TypeParameterArea, Body: igvm.ParameterArea{NumberOfBytes: 0x2000, ParameterAreaIndex: 0}},
		{Type: igvm.TypeVPCountParameter, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0}},
		{Type: igvm.TypeSRAT, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x10}},
		{Type: igvm.TypeMADT, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x100}},
		{Type: igvm.TypeMMIORanges, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x200}},
		{Type: igvm.TypeMemoryMap, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x300}},
		{Type: igvm.TypeCommandLine, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x400}},
		{Type: igvm.TypeSLIT, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x500}},
		{Type: igvm.TypePPTT, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x600}},
		{Type: igvm.TypeDeviceTree, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x700}},
		{Type: igvm.TypeEnvironmentInfoParam, Body: igvm.Parameter{ParameterAreaIndex: 0, ByteOffset: 0x800}},
		{Type: igvm.TypeParameterInsert, Body: igvm.ParameterInsert{GPA: 0x7000, CompatibilityMask: 1, ParameterAreaIndex: 0}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x1000, CompatibilityMask: 1}, Data: Page(0xaa)},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x2000, CompatibilityMask: 3}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x3000, CompatibilityMask: 1, Flags: igvm.PageFlagUnmeasured}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x4000, CompatibilityMask: 1, DataType: igvm.PageDataSecrets}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x5000, CompatibilityMask: 1, DataType: igvm.PageDataCPUIDData}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x200000, CompatibilityMask: 2, Flags: igvm.PageFlag2MB | igvm.PageFlagShared}, Data: Page(0x55)},
		{Type: igvm.TypeRequiredMemory, Body: igvm.RequiredMemory{GPA: 0x100000, CompatibilityMask: 1, NumberOfBytes: 0x10000, Flags: 1}},
		{Type: igvm.TypeErrorRange, Body: igvm.ErrorRange{GPA: 0x9000, CompatibilityMask: 1, SizeBytes: 0x1000}},
		{Type: igvm.TypeSNPIDBlock, Body: igvm.SNPIDBlock{CompatibilityMask: 1, LD: [48]byte{1, 2, 3}, Version: 1, IDKeyAlgorithm: 1}},
		{Type: igvm.TypeVBSMeasurement, Body: igvm.VBSMeasurement{CompatibilityMask: 2, Version: 1, BootDigestAlgo: 1, SigningAlgo: 1}},
		{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 1}, Data: Page(0)},
		{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 2}, Data: vsmContext},
		{Type: igvm.TypeOptionalBit | 0x3ff, Body: []byte{1, 2, 3}},
	}}
}
