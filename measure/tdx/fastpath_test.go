package tdx

import (
	"testing"

	"github.com/measure-cc/measure/ovmf"
)

// TestMeasureMRTDEqualsMeasure: the MRTD-only fast path gives Measure's MRTD
// for every image, page-add order and memory size.
func TestMeasureMRTDEqualsMeasure(t *testing.T) {
	for _, file := range []string{"bookworm-OVMF.fd", "trixie-OVMF.fd"} {
		img, err := ovmf.Parse(repoFixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, order := range []PageAddOrder{SinglePass, TwoPass} {
			for _, mem := range []uint64{128 << 20, 2 << 30, 5 << 30} {
				cfg := Config{QEMU: DefaultQEMUVersion, Memory: mem, PageAddOrder: order}
				fast, err := MeasureMRTD(img, cfg)
				if err != nil {
					t.Fatal(err)
				}
				full, err := Measure(img, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if fast != full.MRTD {
					t.Errorf("%s %v %d MiB: MeasureMRTD = %s, Measure().MRTD = %s", file, order, mem>>20, fast, full.MRTD)
				}
			}
		}
	}
}
