package measure_test

import (
	"crypto/sha512"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
)

// The facade's benchmarks report the time of one Compute as a multiple of
// the physical bound, SHA-384 over the same bytes, timed back to back in
// each iteration (see measure/snp and measure/tdx for the platforms alone).
// Target: x-sha384 <= 1.2, the platforms' own cost plus nothing.

// BenchmarkComputeSNP: the SEV-SNP MEASUREMENT of Debian trixie's 4 MiB
// OVMF.fd with 4 vCPUs, against SHA-384 of the image.
func BenchmarkComputeSNP(b *testing.B) {
	img := loadImage(b, "trixie-OVMF.fd")
	cpu, err := measure.LookupCPU("EPYC-v4")
	if err != nil {
		b.Fatal(err)
	}
	launches := []measure.Launch{measure.SNP{VMM: measure.VMMQEMU, VCPUs: 4, CPU: cpu, GuestFeatures: 1}}
	bench(b, img, launches, img.Data())
}

// BenchmarkComputeTDX: MRTD of the same image, against SHA-384 of the bytes
// MRTD hashes (a 128-byte buffer per added page, 128+256 bytes per
// extended 256-byte chunk).
func BenchmarkComputeTDX(b *testing.B) {
	img := loadImage(b, "trixie-OVMF.fd")
	md, err := img.TDVFMetadata()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range md.Sections {
		pages := int(s.MemoryDataSize / ovmf.PageSize)
		n += pages * 128
		if s.Attributes&ovmf.TDVFAttrMRExtend != 0 {
			n += pages * 16 * (128 + 256)
		}
	}
	bench(b, img, []measure.Launch{measure.DefaultTDX()}, make([]byte, n))
}

func bench(b *testing.B, img *ovmf.Image, launches []measure.Launch, bound []byte) {
	var work, base time.Duration
	b.SetBytes(int64(len(bound)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := measure.Compute(img, nil, launches, measure.Options{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sha512.Sum384(bound)
		base += time.Since(t1)
		work += t1.Sub(t0)
	}
	b.ReportMetric(float64(work)/float64(base), "x-sha384")
}
