package ovmf_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// trixieTDVF is the TDVF metadata GUID, descriptor and sections copied from
// Debian trixie's OVMF.fd (ovmf 2025.02-8+deb13u1, sha256 14954040...), at
// 0x3ff630: raw bytes, independent of our marshal code.
const trixieTDVF = "f3f9eae98e16d544a8eb7f4d8738f6ae54445646d00000000100000006000000" +
	"0040080000c037000040c8ff0000000000c03700000000000000000001000000" +
	"00000000004008000000c0ff0000000000400800000000000100000000000000" +
	"0000000000000000001081000000000000f00000000000000300000000000000" +
	"000000000000000000b080000000000000200000000000000300000000000000" +
	"0000000000000000009080000000000000200000000000000200000000000000" +
	"0000000000000000000080000000000000600000000000000300000000000000"

// trixieSections is what the bytes above mean (TDVF Design Guide, table 11-3).
var trixieSections = []ovmf.TDVFSection{
	{DataOffset: 0x84000, RawDataSize: 0x37c000, MemoryAddress: 0xffc84000, MemoryDataSize: 0x37c000, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
	{DataOffset: 0, RawDataSize: 0x84000, MemoryAddress: 0xffc00000, MemoryDataSize: 0x84000, Type: ovmf.TDVFSectionCFV},
	{MemoryAddress: 0x811000, MemoryDataSize: 0xf000, Type: ovmf.TDVFSectionTempMem},
	{MemoryAddress: 0x80b000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem},
	{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTDHOB},
	{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: ovmf.TDVFSectionTempMem},
}

func TestTDVFLayoutSizes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"TDVFDescriptor", ovmf.TDVFDescriptor{}, ovmf.TDVFDescriptorSize},
		{"TDVFSection", ovmf.TDVFSection{}, ovmf.TDVFSectionSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := binary.Size(tc.v); got != tc.want {
				t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
			}
		})
	}
}

func TestTDVFMetadataGUIDBytes(t *testing.T) {
	raw, _ := hex.DecodeString("f3f9eae98e16d544a8eb7f4d8738f6ae")
	if !reflect.DeepEqual(ovmf.TDVFMetadataGUID[:], raw) {
		t.Errorf("TDVFMetadataGUID = % x, want % x", ovmf.TDVFMetadataGUID[:], raw)
	}
}

func TestUnmarshalTDVFRawBytes(t *testing.T) {
	raw, err := hex.DecodeString(trixieTDVF)
	if err != nil {
		t.Fatal(err)
	}
	if got := ovmf.GUID(raw[:16]); got != ovmf.TDVFMetadataGUID {
		t.Errorf("GUID before the descriptor = %s, want %s", got, ovmf.TDVFMetadataGUID)
	}
	m, err := ovmf.UnmarshalTDVF(raw[16:], 0x3ff640)
	if err != nil {
		t.Fatalf("UnmarshalTDVF: %v", err)
	}
	if !reflect.DeepEqual(m.Sections, trixieSections) {
		t.Errorf("UnmarshalTDVF sections = %+v, want %+v", m.Sections, trixieSections)
	}
	if err := m.Validate(4 << 20); err != nil {
		t.Errorf("Validate(4 MiB) = %v, want nil", err)
	}
	if got := m.Marshal(); !reflect.DeepEqual(got, raw[16:]) {
		t.Errorf("Marshal() = %x, want the image's bytes %x", got, raw[16:])
	}
}

// fixture reads a Debian fixture from ../shared/fixtures, skipping the
// test when it is absent.
func fixture(t testing.TB, name string) []byte { return ovmftest.SharedFixture(t, "debian", name) }

func TestParseTDVFRealImages(t *testing.T) {
	bookworm := []ovmf.TDVFSection{
		{DataOffset: 0x20000, RawDataSize: 0x1e0000, MemoryAddress: 0xffe20000, MemoryDataSize: 0x1e0000, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		{DataOffset: 0, RawDataSize: 0x20000, MemoryAddress: 0xffe00000, MemoryDataSize: 0x20000, Type: ovmf.TDVFSectionCFV},
		{MemoryAddress: 0x810000, MemoryDataSize: 0x10000, Type: ovmf.TDVFSectionTempMem},
		{MemoryAddress: 0x80b000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem},
		{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTDHOB},
		{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: ovmf.TDVFSectionTempMem},
	}
	tests := []struct {
		file       string
		wantOffset int64
		want       []ovmf.TDVFSection
		wantErr    error
	}{
		{"bookworm-OVMF.fd", 0x1ff7c0, bookworm, nil},
		{"trixie-OVMF.fd", 0x3ff640, trixieSections, nil},
		{"trixie-OVMF_CODE_4M.fd", 0, nil, ovmf.ErrTDVFSectionOutsideImage},
		{"bookworm-OVMF_CODE.fd", 0, nil, ovmf.ErrTDVFSectionOutsideImage},
		{"bookworm-OVMF_CODE_4M.fd", 0, nil, ovmf.ErrNoTDVFMetadata},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := fixture(t, tc.file)
			img, err := ovmf.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			m, err := img.TDVFMetadata()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("TDVFMetadata() error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TDVFMetadata(): %v", err)
			}
			if m.Offset != tc.wantOffset || !reflect.DeepEqual(m.Sections, tc.want) {
				t.Errorf("TDVFMetadata() = %#x %+v, want %#x %+v", m.Offset, m.Sections, tc.wantOffset, tc.want)
			}
		})
	}
}

func TestTDVFRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		img  ovmftest.TDVF
	}{
		{"default 1 MiB", ovmftest.TDVF{Size: 1 << 20}},
		{"default 4 MiB", ovmftest.TDVF{Size: 4 << 20, Seed: 7}},
		{"one page", ovmftest.TDVF{Size: 4096, Sections: []ovmf.TDVFSection{
			{RawDataSize: 4096, MemoryAddress: 0xfffff000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		}}},
		{"all types", ovmftest.TDVF{Size: 8192, Sections: []ovmf.TDVFSection{
			{RawDataSize: 4096, MemoryAddress: 0xffffe000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionCFV},
			{DataOffset: 4096, RawDataSize: 4096, MemoryAddress: 0xfffff000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
			{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB},
			{MemoryAddress: 0x2000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTempMem},
			{MemoryAddress: 0x100000, MemoryDataSize: 0x100000, Type: ovmf.TDVFSectionPermMem, Attributes: ovmf.TDVFAttrPageAug},
			{DataOffset: 0, RawDataSize: 4096, MemoryAddress: 0x3000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionPayload, Attributes: ovmf.TDVFAttrMRExtend},
			{MemoryAddress: 0x4000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionPayloadParam},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := ovmftest.MustTDVFImage(tc.img)
			m, err := ovmf.ParseTDVF(data)
			if err != nil {
				t.Fatalf("ParseTDVF: %v", err)
			}
			want := tc.img.Sections
			if want == nil {
				want = ovmftest.TDVFSections(tc.img.Size)
			}
			if !reflect.DeepEqual(m.Sections, want) {
				t.Errorf("ParseTDVF sections = %+v, want %+v", m.Sections, want)
			}
			again, err := ovmf.UnmarshalTDVF(m.Marshal(), m.Offset)
			if err != nil {
				t.Fatalf("UnmarshalTDVF(Marshal()): %v", err)
			}
			if !reflect.DeepEqual(again, m) {
				t.Errorf("UnmarshalTDVF(Marshal()) = %+v, want %+v", again, m)
			}
			img, err := ovmf.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			viaImage, err := img.TDVFMetadata()
			if err != nil || !reflect.DeepEqual(viaImage, m) {
				t.Errorf("Image.TDVFMetadata() = %+v, %v, want %+v", viaImage, err, m)
			}
		})
	}
}

// withDescriptor returns a 2-page image whose metadata descriptor fields and
// sections are given raw, for hostile inputs that Marshal cannot produce.
func withDescriptor(t *testing.T, sig string, length, version, n uint32, secs []ovmf.TDVFSection) []byte {
	t.Helper()
	data := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: secs})
	m, err := ovmf.ParseTDVF(data)
	if err != nil {
		// Hostile sections: find the descriptor by its signature instead.
		i := strings.Index(string(data), "TDVF")
		if i < 0 {
			t.Fatalf("no descriptor in the synthetic image: %v", err)
		}
		m = &ovmf.TDVFMetadata{Offset: int64(i)}
	}
	d := data[m.Offset:]
	copy(d[0:4], sig)
	binary.LittleEndian.PutUint32(d[4:], length)
	binary.LittleEndian.PutUint32(d[8:], version)
	binary.LittleEndian.PutUint32(d[12:], n)
	return data
}

func bfv(off, size uint32, gpa uint64) ovmf.TDVFSection {
	return ovmf.TDVFSection{DataOffset: off, RawDataSize: size, MemoryAddress: gpa, MemoryDataSize: uint64(size), Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend}
}

func TestParseTDVFErrors(t *testing.T) {
	ok := []ovmf.TDVFSection{bfv(0, 8192, 0xffffe000)}
	build := func(secs ...ovmf.TDVFSection) []byte {
		return ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: secs})
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
		is      error
	}{
		{"no footer table", make([]byte, 8192), "no OVMF footer table", ovmf.ErrNoTDVFMetadata},
		{"bad signature", withDescriptor(t, "FVDT", 48, 1, 1, ok), `signature "FVDT", want "TDVF"`, nil},
		{"version 2", withDescriptor(t, "TDVF", 48, 2, 1, ok), "version 2, want 1", nil},
		{"zero sections", withDescriptor(t, "TDVF", 16, 1, 0, ok), "0 sections, want at least 1", nil},
		{"2^32-1 sections", withDescriptor(t, "TDVF", 48, 1, 0xffffffff, ok), "4294967295 sections need 137438953456 bytes", nil},
		{"length mismatch", withDescriptor(t, "TDVF", 80, 1, 1, ok), "length 80 for 1 sections, want 48", nil},
		{"data beyond the file", build(bfv(4096, 8192, 0xffffe000)), "ends at 0x3000, past the end of the 0x2000-byte image", ovmf.ErrTDVFSectionOutsideImage},
		{"data offset huge", build(bfv(0xfffff000, 4096, 0xffffe000)), "past the end", ovmf.ErrTDVFSectionOutsideImage},
		{"GPA wraps", build(bfv(0, 8192, 0xfffffffffffff000)), "wraps or ends past the 52-bit", nil},
		{"GPA beyond 52 bits", build(bfv(0, 8192, 1<<52)), "wraps or ends past the 52-bit", nil},
		{"huge memory size", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 1 << 63, Type: ovmf.TDVFSectionTempMem}), "wraps", nil},
		{"overlap", build(bfv(0, 8192, 0xffffe000), ovmf.TDVFSection{MemoryAddress: 0xfffff000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem}), "overlap", nil},
		{"unaligned address", build(bfv(0, 8192, 0xffffe800)), "is not 4 KiB aligned", nil},
		{"unaligned size", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 0x800, Type: ovmf.TDVFSectionTempMem}), "want a non-zero multiple of 4 KiB", nil},
		{"empty section", build(ovmf.TDVFSection{MemoryAddress: 0x1000, Type: ovmf.TDVFSectionTempMem}), "want a non-zero multiple of 4 KiB", nil},
		{"unknown type", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: 9}), "type 9, want 0 to 6", nil},
		{"unknown attribute", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTempMem, Attributes: 4}), "attributes 0x4", nil},
		{"raw larger than memory", build(ovmf.TDVFSection{RawDataSize: 8192, MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionBFV}), "raw data size 0x2000 is larger than memory size 0x1000", nil},
		{"raw smaller than memory", build(ovmf.TDVFSection{RawDataSize: 4096, MemoryAddress: 0x1000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionBFV}), "differs from memory size", nil},
		{"BFV without data", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionBFV}), "raw data size 0, want", nil},
		{"TD HOB with data", build(ovmf.TDVFSection{RawDataSize: 4096, MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB}), "raw data size 0x1000, want 0", nil},
		{"two TD HOBs", build(ovmf.TDVFSection{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB}, ovmf.TDVFSection{MemoryAddress: 0x2000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB}), "a second TD_HOB", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ovmf.ParseTDVF(tc.data)
			if err == nil {
				t.Fatalf("ParseTDVF = %+v, want error containing %q", m, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTDVF error = %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("ParseTDVF error = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestParseTDVFPointer(t *testing.T) {
	data := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: []ovmf.TDVFSection{bfv(0, 8192, 0xffffe000)}})
	entries, err := ovmf.ParseFooterTable(data)
	if err != nil {
		t.Fatal(err)
	}
	e := entries[0]
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"short entry", nil, "2 bytes, want 4"},
		{"zero offset", []byte{0, 0, 0, 0}, "offset 0x0 from the end"},
		{"past the start", []byte{0, 0, 1, 0}, "offset 0x10000 from the end of a 0x2000-byte image"},
		{"too close to the end", []byte{8, 0, 0, 0}, "offset 0x8 from the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entry := e
			entry.Data = tc.data
			if tc.data == nil {
				entry.Data = []byte{1, 2}
			}
			_, err := ovmf.ParseTDVFMetadata(data, entry)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTDVFMetadata error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestTDVFStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ovmf.TDVFSectionBFV.String(), "BFV"},
		{ovmf.TDVFSectionPayloadParam.String(), "PayloadParam"},
		{ovmf.TDVFSectionType(42).String(), "unknown(0x2a)"},
		{ovmf.TDVFAttributes(0).String(), "0"},
		{(ovmf.TDVFAttrMRExtend | ovmf.TDVFAttrPageAug).String(), "MR.EXTEND|PAGE.AUG"},
		{ovmf.TDVFAttributes(5).String(), "MR.EXTEND|0x4"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}

// FuzzParseTDVF feeds arbitrary images to the parser. It must never panic,
// and what it accepts must survive Marshal and UnmarshalTDVF unchanged and
// validate again.
func FuzzParseTDVF(f *testing.F) {
	f.Add(ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 4096, Sections: []ovmf.TDVFSection{
		{RawDataSize: 4096, MemoryAddress: 0xfffff000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
	}}))
	f.Add(ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: []ovmf.TDVFSection{
		{RawDataSize: 4096, MemoryAddress: 0xffffe000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionCFV},
		{DataOffset: 4096, RawDataSize: 4096, MemoryAddress: 0xfffff000, MemoryDataSize: 4096, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTDHOB},
		{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: ovmf.TDVFSectionTempMem},
	}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ovmf.ParseTDVF(data)
		if err != nil {
			return
		}
		again, err := ovmf.UnmarshalTDVF(m.Marshal(), m.Offset)
		if err != nil {
			t.Fatalf("UnmarshalTDVF(Marshal()) of accepted metadata: %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip = %+v, want %+v", again, m)
		}
		if err := again.Validate(int64(len(data))); err != nil {
			t.Fatalf("Validate after round trip: %v", err)
		}
	})
}
