package snp_test

import (
	"os"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// FuzzMeasure checks that any image Parse accepts measures without a panic
// under every mode, with and without a kernel, and that an error is the only
// other outcome.
func FuzzMeasure(f *testing.F) {
	for _, name := range []string{"bookworm-OVMF.fd", "trixie-OVMF.fd", "bookworm-OVMF_CODE_4M.fd"} {
		b, err := os.ReadFile("../../testdata/fixtures/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[len(b)-4096:], uint8(3))
	}
	small := ovmftest.AmdSev()
	small.Size = 4096
	f.Add(small.MustBuild(), uint8(1))
	kh, _ := snp.NewKernelHashes(strings.NewReader("kernel"), nil, "console=ttyS0")
	f.Fuzz(func(t *testing.T, data []byte, vcpus uint8) {
		if r := len(data) % ovmf.PageSize; r != 0 || len(data) == 0 {
			data = append(make([]byte, ovmf.PageSize-r), data...)
		}
		img, err := ovmf.Parse(data)
		if err != nil {
			return
		}
		n := int(vcpus%8) + 1
		for _, k := range []*snp.KernelHashes{nil, kh} {
			m := snp.NewMeasurer(img, k, nil)
			for _, vmm := range snp.VMMTypes {
				_, _ = m.SNP(snp.Config{VCPUs: n, VCPUSig: 0x800f12, VMM: vmm, GuestFeatures: 1})
				_, _ = m.SEVES(snp.Config{VCPUs: n, VCPUSig: 0x800f12, VMM: vmm})
			}
			_, _ = m.SEV()
		}
	})
}
