package igvm_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf/igvm"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
)

// TestLayoutSizes checks every struct against the size of its igvm_defs
// counterpart (igvm_defs/src/lib.rs@igvm_defs-v0.4.0).
func TestLayoutSizes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"IGVM_VHS_SUPPORTED_PLATFORM", igvm.SupportedPlatform{}, 16},
		{"IGVM_VHS_GUEST_POLICY", igvm.GuestPolicy{}, 16},
		{"IGVM_VHS_RELOCATABLE_REGION", igvm.RelocatableRegion{}, 48},
		{"IGVM_VHS_PAGE_TABLE_RELOCATION", igvm.PageTableRelocation{}, 32},
		{"IGVM_VHS_PARAMETER_AREA", igvm.ParameterArea{}, 16},
		{"IGVM_VHS_PAGE_DATA", igvm.PageData{}, 24},
		{"IGVM_VHS_PARAMETER_INSERT", igvm.ParameterInsert{}, 16},
		{"IGVM_VHS_PARAMETER", igvm.Parameter{}, 8},
		{"IGVM_VHS_VP_CONTEXT", igvm.VPContext{}, 20},
		{"IGVM_VHS_REQUIRED_MEMORY", igvm.RequiredMemory{}, 24},
		{"IGVM_VHS_ERROR_RANGE", igvm.ErrorRange{}, 16},
		{"IGVM_VHS_SNP_ID_BLOCK_SIGNATURE", igvm.SNPSignature{}, 144},
		{"IGVM_VHS_SNP_ID_BLOCK_PUBLIC_KEY", igvm.SNPPublicKey{}, 152},
		{"IGVM_VHS_SNP_ID_BLOCK", igvm.SNPIDBlock{}, 0x2B8},
		{"IGVM_VHS_VBS_MEASUREMENT", igvm.VBSMeasurement{}, 864},
	}
	for _, tc := range tests {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSNPIDBlockOffsets checks the ID block's field offsets against the
// facts table (docs/research/launch-profiles-facts.md section 5.1).
func TestSNPIDBlockOffsets(t *testing.T) {
	blk := igvm.SNPIDBlock{CompatibilityMask: 0x11111111, AuthorKeyEnabled: 0x22, Version: 0x33333333,
		IDKeyAlgorithm: 0x44444444, AuthorKeyAlgorithm: 0x55555555}
	blk.LD[0], blk.FamilyID[0], blk.ImageID[0] = 0x66, 0x77, 0x88
	blk.IDPublicKey.QX[0], blk.AuthorKeySignature.R[0], blk.AuthorPublicKey.Curve = 0x99, 0xaa, 0xbbbbbbbb
	b, err := binary.Append(nil, binary.LittleEndian, blk)
	if err != nil {
		t.Fatal(err)
	}
	for off, want := range map[int]byte{0x00: 0x11, 0x04: 0x22, 0x08: 0x66, 0x38: 0x77, 0x48: 0x88, 0x58: 0x33,
		0x60: 0x44, 0x64: 0x55, 0xF8 + 8: 0x99, 0x190: 0xaa, 0x220: 0xbb} {
		if b[off] != want {
			t.Errorf("ID block byte %#x = %#x, want %#x", off, b[off], want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, version := range []uint32{igvm.FormatVersion1, igvm.FormatVersion2} {
		src := igvmtest.SNPFile()
		src.Version = version
		src.Architecture = igvm.ArchX64
		b := src.Build()
		f, err := igvm.Parse(b)
		if err != nil {
			t.Fatalf("Parse(version %d) = %v", version, err)
		}
		if got, want := len(f.Platforms)+len(f.Initialization)+len(f.Directives)+len(f.Skipped), len(src.Records); got != want {
			t.Fatalf("version %d: %d headers, want %d", version, got, want)
		}
		if len(f.Platforms) != 2 || len(f.Initialization) != 3 || len(f.Skipped) != 1 {
			t.Errorf("version %d: %d platforms, %d init, %d skipped, want 2, 3, 1", version, len(f.Platforms), len(f.Initialization), len(f.Skipped))
		}
		if f.Skipped[0].Type != igvm.TypeOptionalBit|0x3ff || f.Skipped[0].Length != 3 {
			t.Errorf("skipped = %+v, want type 0x800003ff length 3", f.Skipped[0])
		}
		// Rebuild from what was parsed: the bytes must be the same.
		var again igvmtest.File
		again.Version, again.Architecture = version, igvm.ArchX64
		all := append(append(append([]igvm.Header{}, f.Platforms...), f.Initialization...), f.Directives...)
		for _, h := range all {
			again.Records = append(again.Records, igvmtest.Record{Type: h.Type, Body: h.Body})
		}
		again.Records = append(again.Records, igvmtest.Record{Type: f.Skipped[0].Type, Body: b[f.Skipped[0].Offset+8 : f.Skipped[0].Offset+8+3]})
		start := int(f.Header.VariableHeaderOffset + f.Header.VariableHeaderSize)
		again.Trailer = b[start:]
		if got := again.Build(); string(got) != string(b) {
			t.Errorf("version %d: rebuilt file differs from the original", version)
		}
		// Data is reachable through its offsets.
		var pd *igvm.PageData
		for _, d := range f.Directives {
			if p, ok := d.Body.(*igvm.PageData); ok && p.FileOffset != 0 {
				pd = p
				break
			}
		}
		data, err := f.Data(pd.FileOffset, igvm.PageSize)
		if err != nil || len(data) != igvm.PageSize || data[0] != 0xaa {
			t.Errorf("Data(page at %#x) = %d bytes starting %x, %v; want 4096 bytes of 0xaa", pd.GPA, len(data), data[:min(1, len(data))], err)
		}
	}
}

// TestChecksumCoverage: the CRC covers the fixed header (checksum zeroed)
// and the variable headers, not the file data (igvm/src/lib.rs@igvm-v0.4.0).
func TestChecksumCoverage(t *testing.T) {
	b := igvmtest.SNPFile().Build()
	end := int(binary.LittleEndian.Uint32(b[8:]) + binary.LittleEndian.Uint32(b[12:]))
	for i := 0; i < end; i++ {
		if i >= 0x10 && i < 0x14 {
			continue // total file size: its own check
		}
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		if _, err := igvm.Parse(c); err == nil {
			t.Fatalf("Parse with byte %#x flipped succeeded, want an error", i)
		}
	}
	c := append([]byte(nil), b...)
	c[len(c)-1] ^= 0xff // file data
	if _, err := igvm.Parse(c); err != nil {
		t.Errorf("Parse with file data changed = %v, want success (data is outside the checksum)", err)
	}
}

func edit(fn func(f *igvmtest.File)) []byte {
	f := igvmtest.SNPFile()
	fn(&f)
	return f.Build()
}

func replace(i int, r igvmtest.Record) func(f *igvmtest.File) {
	return func(f *igvmtest.File) { f.Records[i] = r }
}

func TestParseErrors(t *testing.T) {
	good := igvmtest.SNPFile().Build()
	raw := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	le := binary.LittleEndian
	pd := func(p igvm.PageData) igvmtest.Record { return igvmtest.Record{Type: igvm.TypePageData, Body: p} }
	tests := []struct {
		name    string
		file    []byte
		want    error
		wantErr string
	}{
		{"empty", nil, igvm.ErrTruncated, "shorter than the 24-byte fixed header"},
		{"magic", raw(func(b []byte) []byte { b[0] = 'X'; return b }), igvm.ErrMalformed, "magic at 0x0"},
		{"version 3", raw(func(b []byte) []byte { le.PutUint32(b[4:], 3); return igvmtest.Fix(b) }), igvm.ErrUnsupported, "format version at 0x4 is 3"},
		{"v2 arch", edit(func(f *igvmtest.File) { f.Version, f.Architecture = 2, 7 }), igvm.ErrMalformed, "architecture at 0x18 is 7"},
		{"v2 page size", raw(func(b []byte) []byte {
			b = edit(func(f *igvmtest.File) { f.Version = 2 })
			le.PutUint32(b[0x1c:], 0x10000)
			return igvmtest.Fix(b)
		}), igvm.ErrUnsupported, "page size at 0x1c is 65536"},
		{"total size", raw(func(b []byte) []byte { return b[:len(b)-1] }), igvm.ErrTruncated, "total file size at 0x10"},
		{"checksum", raw(func(b []byte) []byte { b[0x14] ^= 1; return b }), igvm.ErrMalformed, "checksum at 0x14"},
		{"offset unaligned", raw(func(b []byte) []byte { le.PutUint32(b[8:], 25); return igvmtest.Fix(b) }), igvm.ErrMalformed, "variable header offset 0x19"},
		{"offset in fixed header", raw(func(b []byte) []byte { le.PutUint32(b[8:], 16); return igvmtest.Fix(b) }), igvm.ErrMalformed, "variable header offset 0x10"},
		{"section past end", raw(func(b []byte) []byte { le.PutUint32(b[12:], uint32(len(b))); return b }), igvm.ErrTruncated, "past the file end"},
		{"length past section", raw(func(b []byte) []byte { le.PutUint32(b[28:], 1<<20); return igvmtest.Fix(b) }), igvm.ErrTruncated, "runs past the end of the variable headers"},
		{"padding", edit(func(f *igvmtest.File) {
			f.Records = append(f.Records, igvmtest.Record{Type: igvm.TypeOptionalBit | 1, Body: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}})
		}), nil, ""},
		{"padding not zero", raw(func(b []byte) []byte {
			b = edit(func(f *igvmtest.File) {
				f.Records = append(f.Records, igvmtest.Record{Type: igvm.TypeOptionalBit | 5, Body: []byte{1}})
			})
			end := le.Uint32(b[8:]) + le.Uint32(b[12:])
			b[end-1] = 9
			return igvmtest.Fix(b)
		}), igvm.ErrMalformed, "padding byte"},
		{"unknown required type", edit(func(f *igvmtest.File) {
			f.Records = append(f.Records, igvmtest.Record{Type: 0x3ff, Body: []byte{}})
		}), igvm.ErrUnsupported, "type 0x3ff is not one this reader knows"},
		{"reserved 0x306", edit(func(f *igvmtest.File) {
			f.Records = append(f.Records, igvmtest.Record{Type: igvm.TypeReserved306, Body: []byte{}})
		}), igvm.ErrUnsupported, "reserved_0x306"},
		{"corim (after 0.4.0)", edit(replace(2, igvmtest.Record{Type: igvm.TypeCorimDocument, Body: []byte{}})), igvm.ErrUnsupported, "corim_document"},
		{"platform after directive", edit(func(f *igvmtest.File) {
			f.Records = append(f.Records, f.Records[0])
		}), igvm.ErrMalformed, "a platform header after the directive section"},
		{"init after directive", edit(func(f *igvmtest.File) {
			f.Records = append(f.Records, f.Records[2])
		}), igvm.ErrMalformed, "an initialization header after the directive section"},
		{"wrong length", edit(replace(2, igvmtest.Record{Type: igvm.TypeGuestPolicy, Body: make([]byte, 24)})), igvm.ErrMalformed, "guest_policy at 0x48: length 24, want 16"},
		{"mask two bits", edit(replace(0, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 5, PlatformType: 2, PlatformVersion: 1}})), igvm.ErrMalformed, "want exactly one bit"},
		{"mask twice", edit(replace(1, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: 3, PlatformVersion: 1}})), igvm.ErrMalformed, "declared twice"},
		{"vtl 1", edit(replace(1, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, HighestVTL: 1, PlatformType: 1, PlatformVersion: 1}})), igvm.ErrMalformed, "highest VTL 1"},
		{"platform type 9", edit(replace(1, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, PlatformType: 9, PlatformVersion: 1}})), igvm.ErrUnsupported, "platform type 9"},
		{"platform version 2", edit(replace(1, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, PlatformType: 1, PlatformVersion: 2}})), igvm.ErrMalformed, "platform version 2"},
		{"vsm shared boundary", edit(replace(1, igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, PlatformType: 1, PlatformVersion: 1, SharedGPABoundary: 1}})), igvm.ErrMalformed, "shared GPA boundary"},
		{"policy reserved", edit(replace(2, igvmtest.Record{Type: igvm.TypeGuestPolicy, Body: igvm.GuestPolicy{CompatibilityMask: 1, Reserved: 1}})), igvm.ErrMalformed, "reserved field is 0x1"},
		{"relocation vtl", edit(replace(3, igvmtest.Record{Type: igvm.TypeRelocatableRegion, Body: igvm.RelocatableRegion{CompatibilityMask: 2, VTL: 3}})), igvm.ErrMalformed, "VTL 3"},
		{"pt relocation reserved", edit(replace(4, igvmtest.Record{Type: igvm.TypePageTableRelocation, Body: igvm.PageTableRelocation{CompatibilityMask: 2, Reserved: 1}})), igvm.ErrMalformed, "reserved field is 0x1"},
		{"area size", edit(replace(5, igvmtest.Record{Type: igvm.TypeParameterArea, Body: igvm.ParameterArea{NumberOfBytes: 0x1001}})), igvm.ErrMalformed, "size 0x1001"},
		{"area data past end", edit(replace(5, igvmtest.Record{Type: igvm.TypeParameterArea, Body: igvm.ParameterArea{NumberOfBytes: 0x2000, FileOffset: 0xfffff000}})), igvm.ErrTruncated, "past the file end"},
		{"area twice", edit(replace(6, igvmtest.Record{Type: igvm.TypeParameterArea, Body: igvm.ParameterArea{NumberOfBytes: 0x1000}})), igvm.ErrMalformed, "parameter area index 0 declared twice"},
		{"parameter undeclared", edit(replace(7, igvmtest.Record{Type: igvm.TypeSRAT, Body: igvm.Parameter{ParameterAreaIndex: 4}})), igvm.ErrMalformed, "parameter area index 4 is not declared"},
		{"parameter offset outside", edit(replace(7, igvmtest.Record{Type: igvm.TypeSRAT, Body: igvm.Parameter{ByteOffset: 0x2000}})), igvm.ErrMalformed, "byte offset 0x2000"},
		{"insert undeclared", edit(replace(16, igvmtest.Record{Type: igvm.TypeParameterInsert, Body: igvm.ParameterInsert{CompatibilityMask: 1, ParameterAreaIndex: 1}})), igvm.ErrMalformed, "parameter area index 1 is not declared"},
		{"insert twice", edit(replace(17, igvmtest.Record{Type: igvm.TypeParameterInsert, Body: igvm.ParameterInsert{CompatibilityMask: 1}})), igvm.ErrMalformed, "inserted twice"},
		{"parameter after insert", edit(replace(17, igvmtest.Record{Type: igvm.TypeMADT, Body: igvm.Parameter{}})), igvm.ErrMalformed, "used after its insert"},
		{"insert unaligned", edit(replace(16, igvmtest.Record{Type: igvm.TypeParameterInsert, Body: igvm.ParameterInsert{GPA: 0x10, CompatibilityMask: 1}})), igvm.ErrMalformed, "GPA 0x10 is not 4 KiB aligned"},
		{"page reserved", edit(replace(17, pd(igvm.PageData{CompatibilityMask: 1, Reserved: 1}))), igvm.ErrMalformed, "reserved field is 0x1"},
		{"page unaligned", edit(replace(17, pd(igvm.PageData{GPA: 0x1001, CompatibilityMask: 1}))), igvm.ErrMalformed, "GPA 0x1001"},
		{"page data short", edit(replace(17, igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{CompatibilityMask: 1}, Data: []byte{1}})), nil, ""},
		{"page data in headers", edit(replace(17, pd(igvm.PageData{CompatibilityMask: 1, FileOffset: 24}))), igvm.ErrMalformed, "inside the headers"},
		{"page data past end", edit(replace(17, pd(igvm.PageData{CompatibilityMask: 1, FileOffset: 0xffffffff}))), igvm.ErrTruncated, "past the file end"},
		{"required memory reserved", edit(replace(23, igvmtest.Record{Type: igvm.TypeRequiredMemory, Body: igvm.RequiredMemory{CompatibilityMask: 1, Reserved: 2}})), igvm.ErrMalformed, "reserved field is 0x2"},
		{"required memory unaligned", edit(replace(23, igvmtest.Record{Type: igvm.TypeRequiredMemory, Body: igvm.RequiredMemory{CompatibilityMask: 1, NumberOfBytes: 5}})), igvm.ErrMalformed, "size 0x5"},
		{"vp context no data", edit(replace(27, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 1}})), igvm.ErrMalformed, "file offset is 0"},
		{"vp context undeclared mask", edit(replace(27, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 4}, Data: igvmtest.Page(0)})), igvm.ErrMalformed, "mask 0x4 names no supported platform"},
		{"vp context short", edit(replace(27, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 1}, Data: make([]byte, 100)})), igvm.ErrTruncated, "past the file end"},
		{"vsm no registers", edit(replace(28, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 2}, Data: make([]byte, 4)})), igvm.ErrMalformed, "has no registers"},
		{"vsm registers past end", edit(replace(28, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 2}, Data: []byte{0xff, 0xff, 0xff, 0xff}})), igvm.ErrTruncated, "past the file end"},
		{"vsm vp 1", edit(replace(28, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{CompatibilityMask: 2, VPIndex: 1}, Data: append([]byte{1, 0, 0, 0}, make([]byte, 32)...)})), igvm.ErrUnsupported, "VP 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := igvm.Parse(tc.file)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Parse = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse = %v, want %v containing %q", err, tc.want, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has more than one line", err)
			}
		})
	}
}

// TestPrefixesAndFlips: every proper prefix is an error; every single-bit
// flip, with size and checksum fixed up so it reaches the header checks,
// returns without panicking, and a flip without the fix-up in the headers
// is an error.
func TestPrefixesAndFlips(t *testing.T) {
	b := igvmtest.SNPFile().Build()
	for n := 0; n < len(b); n++ {
		if _, err := igvm.Parse(b[:n]); err == nil {
			t.Fatalf("Parse(first %d of %d bytes) succeeded, want an error", n, len(b))
		}
		if _, err := igvm.Parse(igvmtest.Fix(append([]byte(nil), b[:n]...))); err == nil && n < igvm.FixedHeaderSize {
			t.Fatalf("Parse(fixed-up first %d bytes) succeeded", n)
		}
	}
	end := int(binary.LittleEndian.Uint32(b[8:]) + binary.LittleEndian.Uint32(b[12:]))
	accepted := 0
	for i := 0; i < end*8; i++ {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		if _, err := igvm.Parse(igvmtest.Fix(c)); err == nil {
			accepted++
		}
	}
	t.Logf("%d of %d fixed-up bit flips in the headers still parse", accepted, end*8)
}

// TestVMSATail: an SEV-SNP VP context whose page holds anything past the
// VMSA's 0x670 bytes is refused, as igvm 0.4.0 refuses it (InvalidVmsa);
// a VSM or native context is not a VMSA.
func TestVMSATail(t *testing.T) {
	for _, c := range []struct {
		platform igvm.PlatformType
		at       int
		ok       bool
	}{
		{igvm.PlatformSEVSNP, 0x66f, true},
		{igvm.PlatformSEVSNP, 0x670, false},
		{igvm.PlatformSEVSNP, 0xfff, false},
		{igvm.PlatformNative, 0xfff, true},
	} {
		page := igvmtest.Page(0)
		page[c.at] = 1
		b := igvmtest.File{Records: []igvmtest.Record{
			{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: c.platform, PlatformVersion: 1}},
			{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 1}, Data: page},
		}}.Build()
		_, err := igvm.Parse(b)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, igvm.ErrMalformed)) {
			t.Errorf("%s VP context with byte %#x set: %v, want ok=%v", c.platform, c.at, err, c.ok)
		}
	}
}

// TestIgvmRefusesWhatIgvmRefuses: page data of an unknown type, and VP
// contexts and error ranges at GPAs not 4 KiB aligned, are refused, as
// igvm 0.4.0's IgvmDirectiveHeader::validate refuses them
// (InvalidPageDataType, UnalignedAddress); a loader cannot launch them,
// so there is no digest to give.
func TestIgvmRefusesWhatIgvmRefuses(t *testing.T) {
	platform := igvmtest.Record{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1}}
	for name, r := range map[string]igvmtest.Record{
		"page data type 4":             {Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x1000, CompatibilityMask: 1, DataType: 4}},
		"VP context at 0xFFFFFFFFF123": {Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF123, CompatibilityMask: 1}, Data: igvmtest.Page(0)},
		"error range at 0x9001":        {Type: igvm.TypeErrorRange, Body: igvm.ErrorRange{GPA: 0x9001, CompatibilityMask: 1, SizeBytes: 0x1000}},
	} {
		_, err := igvm.Parse(igvmtest.File{Records: []igvmtest.Record{platform, r}}.Build())
		if !errors.Is(err, igvm.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// The largest type and aligned addresses still parse.
	ok := []igvmtest.Record{platform,
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x1000, CompatibilityMask: 1, DataType: igvm.PageDataCPUIDXF}},
		{Type: igvm.TypeErrorRange, Body: igvm.ErrorRange{GPA: 0x9000, CompatibilityMask: 1, SizeBytes: 0x1000}},
		{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 1}, Data: igvmtest.Page(0)},
	}
	if _, err := igvm.Parse(igvmtest.File{Records: ok}.Build()); err != nil {
		t.Errorf("aligned records: %v", err)
	}
}
