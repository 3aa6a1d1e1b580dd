package ovmf_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGUIDMixedEndian(t *testing.T) {
	// The footer GUID as it sits in bookworm-OVMF.fd at 0x1fffd0 (xxd).
	raw, _ := hex.DecodeString("de82b596b21ff745baeaa366c55a082d")
	img := readFixture(t, "bookworm-OVMF.fd")
	if got := img[0x1fffd0 : 0x1fffd0+16]; string(got) != string(raw) {
		t.Fatalf("fixture bytes at 0x1fffd0 = %x, want %x", got, raw)
	}
	if got := ovmf.FooterTableGUID; string(got[:]) != string(raw) {
		t.Errorf("FooterTableGUID bytes = %x, want %x", got[:], raw)
	}
	if got, want := ovmf.FooterTableGUID.String(), "96b582de-1fb2-45f7-baea-a366c55a082d"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	var g ovmf.GUID
	if err := g.UnmarshalText([]byte("96B582DE-1FB2-45F7-BAEA-A366C55A082D")); err != nil || g != ovmf.FooterTableGUID {
		t.Errorf("UnmarshalText(upper case) = %s, %v", g, err)
	}
	for _, bad := range []string{"", "96b582de1fb245f7baeaa366c55a082d", "96b582de-1fb2-45f7-baea-a366c55a082", "zzb582de-1fb2-45f7-baea-a366c55a082d"} {
		if _, err := ovmf.ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded, want an error", bad)
		}
	}
}

func TestLayoutSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want int
	}{
		{"SEVMetadataHeader", ovmf.SEVMetadataHeader{}, 16},
		{"SEVMetadataSection", ovmf.SEVMetadataSection{}, 12},
		{"SEVHashTableDescriptor", ovmf.SEVHashTableDescriptor{}, 8},
	} {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestParseRealImages checks the parser on real images against values read
// from the images by hand (xxd) and from edk2's ResetVector sources.
func TestParseRealImages(t *testing.T) {
	secMem := func(gpa, size uint32) ovmf.SEVMetadataSection {
		return ovmf.SEVMetadataSection{GPA: gpa, Size: size, Type: ovmf.SectionSNPSecMem}
	}
	tests := []struct {
		file         string
		shared       bool
		resetEIP     uint32
		hashTable    ovmf.SEVHashTableDescriptor
		sections     []ovmf.SEVMetadataSection
		noSEV        bool
		tdx          bool
		entriesCount int
	}{
		{
			file: "bookworm-OVMF.fd", resetEIP: 0x80b004, tdx: true, entriesCount: 5,
			sections: []ovmf.SEVMetadataSection{
				secMem(0x800000, 0x9000), secMem(0x80a000, 0x3000),
				{GPA: 0x80d000, Size: 0x1000, Type: ovmf.SectionSNPSecrets},
				{GPA: 0x80e000, Size: 0x1000, Type: ovmf.SectionCPUID},
				secMem(0x80f000, 0x11000),
			},
		},
		{file: "bookworm-OVMF_CODE_4M.fd", resetEIP: 0x808004, // xxd: 04808000 at 0x37bfb8
			noSEV: true, entriesCount: 3},
		{
			file: "upstream/ovmf_AmdSev_suffix.bin", shared: true, resetEIP: 0x80b004, tdx: true, entriesCount: 5,
			hashTable: ovmf.SEVHashTableDescriptor{Base: 0x810c00, Size: 0x400},
			sections: []ovmf.SEVMetadataSection{
				secMem(0x800000, 0x9000), secMem(0x80a000, 0x3000),
				{GPA: 0x80d000, Size: 0x1000, Type: ovmf.SectionSNPSecrets},
				{GPA: 0x80e000, Size: 0x1000, Type: ovmf.SectionCPUID},
				{GPA: 0x80f000, Size: 0x1000, Type: ovmf.SectionSVSMCAA},
				{GPA: 0x810000, Size: 0x1000, Type: ovmf.SectionSNPKernelHashes},
				secMem(0x811000, 0xf000),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var data []byte
			if tc.shared {
				b, err := os.ReadFile("../../shared/fixtures/" + tc.file)
				if err != nil {
					t.Skipf("shared fixture absent: %v", err)
				}
				data = b
			} else {
				data = readFixture(t, tc.file)
			}
			img, err := ovmf.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := len(img.Entries()); got != tc.entriesCount {
				t.Errorf("%d footer entries, want %d", got, tc.entriesCount)
			}
			if eip, ok := img.SEVESResetEIP(); !ok || eip != tc.resetEIP {
				t.Errorf("SEVESResetEIP() = %#x, %v, want %#x", eip, ok, tc.resetEIP)
			}
			if tc.hashTable.Base != 0 {
				if d := img.SEVHashTable(); d == nil || *d != tc.hashTable {
					t.Errorf("SEVHashTable() = %+v, want %+v", d, tc.hashTable)
				}
			}
			md := img.SEVMetadata()
			if tc.noSEV {
				if md != nil {
					t.Errorf("SEVMetadata() = %+v, want none", md)
				}
			} else if md == nil {
				t.Fatal("SEVMetadata() = nil")
			} else {
				if diff := cmp.Diff(tc.sections, md.Sections); diff != "" {
					t.Errorf("sections (-want +got):\n%s", diff)
				}
				if err := md.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
			if got := img.HasTDXMetadata(); got != tc.tdx {
				t.Errorf("HasTDXMetadata() = %v, want %v", got, tc.tdx)
			}
			if got, want := img.GPA(), uint64(1<<32-len(data)); got != want {
				t.Errorf("GPA() = %#x, want %#x", got, want)
			}
		})
	}
}

func TestFooterTableRoundTrip(t *testing.T) {
	for _, name := range []string{"bookworm-OVMF.fd", "trixie-OVMF.fd", "bookworm-OVMF_CODE_4M.fd"} {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			entries, err := ovmf.ParseFooterTable(data)
			if err != nil {
				t.Fatal(err)
			}
			table, err := ovmf.MarshalFooterTable(entries)
			if err != nil {
				t.Fatal(err)
			}
			end := len(data) - ovmf.BytesAfterFooterTable
			if got := data[end-len(table) : end]; string(got) != string(table) {
				t.Errorf("MarshalFooterTable(ParseFooterTable(image)) differs from the image's table:\n got %x\nwant %x", table, got)
			}
		})
	}
}

func TestSEVMetadataRoundTrip(t *testing.T) {
	data := readFixture(t, "trixie-OVMF.fd")
	img, err := ovmf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	md := img.SEVMetadata()
	raw := md.Marshal()
	if got := data[md.Offset : md.Offset+int64(len(raw))]; string(got) != string(raw) {
		t.Errorf("Marshal() = %x, want the image's bytes %x", raw, got)
	}
}

func TestSynthetic(t *testing.T) {
	spec := ovmftest.AmdSev()
	img, err := ovmf.Parse(spec.MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec.SEV, img.SEVMetadata().Sections); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if d := img.SEVHashTable(); d == nil || *d != *spec.HashTable {
		t.Errorf("SEVHashTable() = %+v, want %+v", d, spec.HashTable)
	}
	if eip, ok := img.SEVESResetEIP(); !ok || eip != *spec.ResetEIP {
		t.Errorf("SEVESResetEIP() = %#x, %v", eip, ok)
	}
}

// corrupt returns a copy of b with v written little-endian at off.
func corrupt(b []byte, off int, v any) []byte {
	c := append([]byte(nil), b...)
	if _, err := binary.Encode(c[off:], binary.LittleEndian, v); err != nil {
		panic(err)
	}
	return c
}

func TestParseErrors(t *testing.T) {
	good := ovmftest.AmdSev().MustBuild()
	size := len(good)
	footer := size - ovmf.BytesAfterFooterTable - ovmf.EntryHeaderSize // uint16 length of the footer
	img, err := ovmf.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	mdOff := int(img.SEVMetadata().Offset)
	mdEntry, _ := img.Entry(ovmf.SEVMetadataGUID)
	resetEntry, _ := img.Entry(ovmf.SEVESResetBlockGUID)
	smallSpec := ovmftest.AmdSev()
	smallSpec.Size = 4096
	small := smallSpec.MustBuild()
	smallFooter := len(small) - ovmf.BytesAfterFooterTable - ovmf.EntryHeaderSize
	dup := ovmftest.AmdSev()
	dup.Extra = []ovmf.TableEntry{{GUID: ovmf.SEVESResetBlockGUID, Data: []byte{1, 2, 3, 4}}}
	shortMD := ovmftest.AmdSev()
	shortMD.SEV = nil
	shortMD.Extra = []ovmf.TableEntry{{GUID: ovmf.SEVMetadataGUID, Data: []byte{1, 2}}}

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "firmware is empty"},
		{"not a page multiple", good[:size-1], "not a multiple of 4 KiB"},
		{"too large", make([]byte, ovmf.MaxImageSize+4096), "more than the"},
		{"footer length past the start", corrupt(small, smallFooter, uint16(0xffff)), "footer table at"},
		{"footer length past the entries", corrupt(good, footer, uint16(0xffff)), "footer table entry at"},
		{"footer length below header", corrupt(good, footer, uint16(3)), "footer table at"},
		{"entry length zero", corrupt(good, footer-ovmf.EntryHeaderSize, uint16(0)), "length 0, want 18"},
		{"entry length past table", corrupt(good, footer-ovmf.EntryHeaderSize, uint16(0x1000)), "footer table entry at"},
		{"duplicate GUID", dup.MustBuild(), "appears at"},
		{"short reset block", corrupt(good, int(resetEntry.Offset)+4, uint16(18+2)), "footer table entry"},
		{"metadata pointer past start", corrupt(good, int(mdEntry.Offset), uint32(size+16)), "offset"},
		{"metadata pointer zero", corrupt(good, int(mdEntry.Offset), uint32(0)), "offset 0x0"},
		{"metadata pointer into footer", corrupt(good, int(mdEntry.Offset), uint32(8)), "offset 0x8"},
		{"metadata short entry", shortMD.MustBuild(), "2 bytes, want 4"},
		{"bad signature", corrupt(good, mdOff, [4]byte{'X', 'S', 'E', 'V'}), `signature "XSEV"`},
		{"version 2", corrupt(good, mdOff+8, uint32(2)), "version 2, want 1"},
		{"2^32-1 sections", corrupt(good, mdOff+12, uint32(0xffffffff)), "sections, want"},
		{"size below items", corrupt(good, mdOff+4, uint32(16)), "size 16 for 7 sections"},
		{"size past end", corrupt(good, mdOff+4, uint32(1<<31)), "for 7 sections"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ovmf.Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNoFooterTable(t *testing.T) {
	data := ovmftest.Image{NoFooter: true}.MustBuild()
	img, err := ovmf.Parse(data)
	if err != nil {
		t.Fatalf("Parse(image without footer) = %v, want success", err)
	}
	if img.Entries() != nil || img.SEVMetadata() != nil || img.HasTDXMetadata() {
		t.Errorf("image without footer reports entries %v, metadata %v", img.Entries(), img.SEVMetadata())
	}
	if _, err := ovmf.ParseFooterTable(data); !errors.Is(err, ovmf.ErrNoFooterTable) {
		t.Errorf("ParseFooterTable error = %v, want ErrNoFooterTable", err)
	}
}

func TestValidate(t *testing.T) {
	sec := func(gpa, size uint32, typ ovmf.SectionType) ovmf.SEVMetadataSection {
		return ovmf.SEVMetadataSection{GPA: gpa, Size: size, Type: typ}
	}
	tests := []struct {
		name     string
		sections []ovmf.SEVMetadataSection
		wantErr  string
	}{
		{"ok", []ovmf.SEVMetadataSection{sec(0x800000, 0x1000, ovmf.SectionSNPSecMem), sec(0x801000, 0x1000, ovmf.SectionCPUID)}, ""},
		{"unknown type", []ovmf.SEVMetadataSection{sec(0x800000, 0x1000, 7)}, "type 0x7 is unknown"},
		{"zero size", []ovmf.SEVMetadataSection{sec(0x800000, 0, ovmf.SectionSNPSecMem)}, "size 0x0"},
		{"partial page", []ovmf.SEVMetadataSection{sec(0x800000, 0x1800, ovmf.SectionSNPSecMem)}, "size 0x1800"},
		{"unaligned", []ovmf.SEVMetadataSection{sec(0x800010, 0x1000, ovmf.SectionSNPSecrets)}, "not 4 KiB aligned"},
		{"past 4 GiB", []ovmf.SEVMetadataSection{sec(0xfffff000, 0x2000, ovmf.SectionSNPSecMem)}, "passes 4 GiB"},
		{"4 GiB section", []ovmf.SEVMetadataSection{sec(0x2000, 0xfffff000, ovmf.SectionSNPSecMem)}, "passes 4 GiB"},
		{"ends at 4 GiB", []ovmf.SEVMetadataSection{sec(0x1000, 0xfffff000, ovmf.SectionSNPSecMem)}, ""},
		{"overlap", []ovmf.SEVMetadataSection{sec(0x800000, 0x2000, ovmf.SectionSNPSecMem), sec(0x801000, 0x1000, ovmf.SectionCPUID)}, "overlap"},
		{"same page twice", []ovmf.SEVMetadataSection{sec(0x800000, 0x1000, ovmf.SectionSNPSecrets), sec(0x800000, 0x1000, ovmf.SectionSNPSecrets)}, "overlap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&ovmf.SEVMetadata{Sections: tc.sections}).Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
