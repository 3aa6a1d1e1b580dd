package tdx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// fixture reads a Debian fixture from ../shared/fixtures, skipping the test
// when it is absent.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", name))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return b
}

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
