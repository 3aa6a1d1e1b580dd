package fv

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/ovmf"
)

var (
	guidA   = ovmf.MustParseGUID("52c05b14-0b98-496c-bc3b-04b50211d680")
	guidB   = ovmf.MustParseGUID("9b3ada4f-ae56-4c24-8dea-f03b7558ae50")
	guidFV  = ovmf.MustParseGUID("6938079b-b503-4e3d-9d24-b28337a25806")
	guidOut = ovmf.MustParseGUID("48db5e17-707c-472d-91cd-1613e7ef51b0")
	guidSec = ovmf.MustParseGUID("ee4e5898-3914-4259-9d6e-dc7bd79403cf")
)

func TestLayoutSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want int
	}{
		{"EFI_FIRMWARE_VOLUME_HEADER", VolumeHeader{}, volumeHeaderSize},
		{"EFI_FFS_FILE_HEADER", FileHeader{}, fileHeaderSize},
	} {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// image builds an outer volume holding a file with a FIRMWARE_VOLUME_IMAGE
// section (inside a GUID-defined section) holding two named modules.
func image(peA []byte) []byte {
	inner := MarshalVolume(guidFV, 0,
		MarshalFile(guidA, 0x04, MarshalSection(SectionPE32, peA), MarshalUISection("PeiCore")),
		MarshalFile(guidB, 0x06, MarshalSection(SectionPE32, []byte("pcd")), MarshalUISection("PcdPeim")),
	)
	outer := MarshalVolume(guidOut, 0x2000,
		MarshalFile(ovmf.MustParseGUID("9e21fd93-9c72-4c15-8c4b-e77f1db2d792"), 0x0b,
			MarshalGUIDSection(guidSec, false, MarshalSection(SectionFVImage, inner))))
	return append(outer, bytes.Repeat([]byte{0xff}, 0x1000)...)
}

func TestParseRoundTrip(t *testing.T) {
	vols, err := Parse(image([]byte("core")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms := Modules(vols)
	var got []string
	for _, m := range ms {
		got = append(got, m.Name()+" "+m.Type.String()+" "+m.Path)
	}
	want := []string{
		"9e21fd93-9c72-4c15-8c4b-e77f1db2d792 FIRMWARE_VOLUME_IMAGE fv:" + guidOut.String(),
		"PeiCore PEI_CORE fv:" + guidOut.String() + "/9e21fd93-9c72-4c15-8c4b-e77f1db2d792/GUID_DEFINED/FIRMWARE_VOLUME_IMAGE/fv:" + guidFV.String(),
		"PcdPeim PEIM fv:" + guidOut.String() + "/9e21fd93-9c72-4c15-8c4b-e77f1db2d792/GUID_DEFINED/FIRMWARE_VOLUME_IMAGE/fv:" + guidFV.String(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Modules() (-want +got):\n%s", diff)
	}
	if vols[0].Header.Length != 0x2000 || vols[0].Name != guidOut {
		t.Errorf("volume = length %#x name %s, want 0x2000 %s", vols[0].Header.Length, vols[0].Name, guidOut)
	}
	// Re-marshalling the parsed file gives its bytes back.
	f := vols[0].Files[0]
	if got := MarshalFile(f.Header.Name, f.Header.Type, f.Data); !bytes.Equal(got, vols[0].Data[f.Offset:f.Offset+len(got)]) {
		t.Errorf("MarshalFile(parsed) differs from the volume's bytes")
	}
}

func TestDiff(t *testing.T) {
	a, _ := Parse(image([]byte("core")), Options{})
	b, _ := Parse(image([]byte("CORE")), Options{})
	ch := Diff(Modules(a), Modules(b))
	var got []string
	for _, c := range ch {
		got = append(got, c.Kind+" "+c.A.Name()+" "+strings.Join(c.Sections, ","))
	}
	want := []string{
		"changed 9e21fd93-9c72-4c15-8c4b-e77f1db2d792 FIRMWARE_VOLUME_IMAGE",
		"changed PeiCore PE32",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff() (-want +got):\n%s", diff)
	}
	if d := Diff(Modules(a), Modules(a)); len(d) != 0 {
		t.Errorf("Diff(a, a) = %v, want none", d)
	}
}

func TestByteRanges(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		gap   int
		want  [][2]int
		wantN int
	}{
		{"same", "abcd", "abcd", 0, nil, 0},
		{"two close", "abcdef", "xbcdex", 4, [][2]int{{0, 6}}, 2},
		{"two apart", "abcdef", "xbcdex", 1, [][2]int{{0, 1}, {5, 6}}, 2},
		{"longer", "ab", "abcd", 0, [][2]int{{2, 4}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := ByteRanges([]byte(tc.a), []byte(tc.b), tc.gap)
			if diff := cmp.Diff(tc.want, got); diff != "" || n != tc.wantN {
				t.Errorf("ByteRanges() = %v, %d, want %v, %d", got, n, tc.want, tc.wantN)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := image([]byte("core"))
	tests := []struct {
		name    string
		edit    func([]byte) []byte
		wantErr string
	}{
		{"no volume", func([]byte) []byte { return make([]byte, 0x2000) }, "no firmware volume"},
		{"length past end", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[32:], 1<<40); return b }, "length 0x10000000000"},
		{"header length", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[48:], 8); return b }, "header length 0x8"},
		{"file size", func(b []byte) []byte { b[0x60+20] = 0xff; b[0x60+21] = 0xff; return b }, "size 0x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.edit(append([]byte(nil), good...))
			_, err := Parse(b, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseRealImage parses Debian's OVMF_VARS (a volume in the clear) and
// the top level of OVMF_CODE (FVMAIN_COMPACT is LZMA: opaque here).
func TestParseRealImage(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "debian")
	code, err := os.ReadFile(filepath.Join(dir, "trixie-OVMF_CODE_4M.fd"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	vols, err := Parse(code, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 2 {
		t.Fatalf("Parse(OVMF_CODE_4M.fd) = %d volumes, want 2 (FVMAIN_COMPACT, SECFV)", len(vols))
	}
	ms := Modules(vols)
	var names []string
	for _, m := range ms {
		if m.UI != "" {
			names = append(names, m.UI)
		}
	}
	if !strings.Contains(strings.Join(names, ","), "SecMain") {
		t.Errorf("modules %v lack SecMain", names)
	}
	if !ms[0].Opaque {
		t.Errorf("FVMAIN_COMPACT's LZMA section is not marked opaque without a decompressor")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(image([]byte("core")))
	f.Add(MarshalVolume(guidFV, 0x1000, MarshalFile(guidA, 0x07, MarshalSection(SectionCompression, []byte{0, 0, 0, 0, 0}))))
	f.Fuzz(func(t *testing.T, b []byte) {
		vols, err := Parse(b, Options{Decompress: func(ovmf.GUID, []byte) ([]byte, bool, error) { return nil, false, nil }})
		if err == nil {
			Modules(vols)
		}
	})
}

func TestParseNotFFS(t *testing.T) {
	v := MarshalVolume(ovmf.GUID{}, 0x1000)
	store := ovmf.MustParseGUID("fff12b8d-7696-4c8b-a985-2747075b4f50") // EFI_SYSTEM_NV_DATA_FV_GUID
	copy(v[16:32], store[:])
	copy(v[volumeHeaderSize+2*blockMapEntry:], []byte("\x00\x00\x00\x00 variable store, not files"))
	vols, err := Parse(v, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !vols[0].NotFFS || len(vols[0].Files) != 0 {
		t.Errorf("Parse(NV store) = NotFFS %v, %d files; want true, 0", vols[0].NotFFS, len(vols[0].Files))
	}
	ms := Modules(vols)
	if len(ms) != 1 || ms[0].GUID != store {
		t.Errorf("Modules(NV store) = %+v, want one pseudo-module named %s", ms, store)
	}
}
