package tdx

import (
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// fixture reads a Debian fixture from ../shared/fixtures, skipping the
// test when it is absent.
func fixture(t testing.TB, name string) []byte { return ovmftest.SharedFixture(t, name) }

func mustDigest(t testing.TB, s string) Digest {
	t.Helper()
	d, err := ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMRTDVectors checks MRTD against values from independent
// implementations (../shared/vectors/README.md): google/gce-tcb-verifier for
// single-pass.
func TestMRTDVectors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		order PageAddOrder
		want  string
	}{
		{"bookworm single-pass", "debian/bookworm-OVMF.fd", SinglePass, "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47"},
		{"trixie single-pass", "debian/trixie-OVMF.fd", SinglePass, "bdc6fb145880f06f30c8b346b8dce2a99d9351b56892df22f80fcf6574caa9f9c31df8e8576d53b4d0cd1c3f28910e11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := fixture(t, tc.file)
			md, err := ovmf.ParseTDVF(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MRTD(data, md, tc.order, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustDigest(t, tc.want); got != want {
				t.Errorf("MRTD(%s, %v) = %v, want %v", tc.file, tc.order, got, want)
			}
		})
	}
}

func TestMRTDErrors(t *testing.T) {
	huge := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: []ovmf.TDVFSection{
		{RawDataSize: 8192, MemoryAddress: 0xffffe000, MemoryDataSize: 8192, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		{MemoryAddress: 1 << 40, MemoryDataSize: 1 << 48, Type: ovmf.TDVFSectionTempMem},
	}})
	tests := []struct {
		name    string
		data    []byte
		order   PageAddOrder
		wantErr string
	}{
		{"bad order", ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20}), PageAddOrder(7), "page-add order 7 is unknown"},
		{"huge temporary memory", huge, SinglePass, "more than the 1024 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md, err := ovmf.ParseTDVF(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			_, err = MRTD(tc.data, md, tc.order, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("MRTD error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestMRTDExtendedTDHOB: a TD_HOB section with MR.EXTEND is measured with
// the TD HOB QEMU writes into it (TDVF design guide: MR.EXTEND measures the
// section's content as the VMM fills it): MeasureMRTD of such an image
// equals MRTD of the same layout where that section instead carries the HOB
// bytes as image data. MRTD without a HOB refuses such an image rather than
// measure zeros.
func TestMRTDExtendedTDHOB(t *testing.T) {
	const size = 1 << 20
	secs := ovmftest.TDVFSections(size)
	hobIdx := -1
	for i := range secs {
		if secs[i].Type == ovmf.TDVFSectionTDHOB {
			secs[i].Attributes |= ovmf.TDVFAttrMRExtend
			hobIdx = i
		}
	}
	data := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: size, Sections: secs})
	img, err := ovmf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	md, err := img.TDVFMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MRTD(data, md, SinglePass, nil); err == nil || !strings.Contains(err.Error(), "TD_HOB section at 0x809000 has MR.EXTEND") {
		t.Errorf("MRTD without the HOB: %v, want a refusal", err)
	}
	for _, mem := range []uint64{128 << 20, 4 << 30} {
		for _, order := range []PageAddOrder{SinglePass, TwoPass} {
			got, err := MeasureMRTD(img, Config{Memory: mem, PageAddOrder: order})
			if err != nil {
				t.Fatal(err)
			}
			ram, err := TDRAM(md, Q35RAM(mem))
			if err != nil {
				t.Fatal(err)
			}
			hob, err := NewTDHOB(md, ram)
			if err != nil {
				t.Fatal(err)
			}
			// The same layout with the HOB as the section's image data:
			// appended after the firmware, the section typed as a volume.
			hs := secs[hobIdx]
			page := make([]byte, hs.MemoryDataSize)
			copy(page, hob.Marshal())
			alt := append(append([]byte(nil), data...), page...)
			altSecs := append([]ovmf.TDVFSection(nil), secs...)
			altSecs[hobIdx] = ovmf.TDVFSection{DataOffset: size, RawDataSize: uint32(hs.MemoryDataSize), MemoryAddress: hs.MemoryAddress, MemoryDataSize: hs.MemoryDataSize, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend}
			want, err := MRTD(alt, &ovmf.TDVFMetadata{Sections: altSecs}, order, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%d MiB %v: MRTD with an extended TD HOB = %v, want %v (the HOB as section data)", mem>>20, order, got, want)
			}
			plain, err := MeasureMRTD(mustImage(t, ovmftest.MustTDVFImage(ovmftest.TDVF{Size: size})), Config{Memory: mem, PageAddOrder: order})
			if err != nil {
				t.Fatal(err)
			}
			if plain == got {
				t.Errorf("%d MiB %v: MR.EXTEND on the TD_HOB section does not change MRTD", mem>>20, order)
			}
		}
	}
}

func mustImage(t testing.TB, data []byte) *ovmf.Image {
	t.Helper()
	img, err := ovmf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
