package snp_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure/snp"
)

// The benchmarks report ratios, not bare times: the machines they run on are
// shared and noisy. Each iteration times the work and its bound back to
// back, so both see the same load.

// BenchmarkSNPDigest4MiB: the SNP launch digest of a 4 MiB OVMF (4 vCPUs),
// against SHA-384 over the same bytes once, the physical bound.
// Target: x-sha384 <= 1.3.
func BenchmarkSNPDigest4MiB(b *testing.B) {
	img := loadImage(b, "trixie-OVMF.fd")
	cfg := snp.Config{VCPUs: 4, VCPUSig: 0x800f12, GuestFeatures: 1}
	var work, bound time.Duration
	b.SetBytes(int64(img.Size()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := snp.NewMeasurer(img, nil, nil).SNP(cfg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sha512.Sum384(img.Data())
		bound += time.Since(t1)
		work += t1.Sub(t0)
	}
	b.ReportMetric(float64(work)/float64(bound), "x-sha384")
}

// BenchmarkSNPSweep: every configuration of 1-512 vCPUs x 3 vCPU types x 3
// VMM types (4,608 digests) of a 4 MiB OVMF, against one digest.
// Target: x-single <= 2.
func BenchmarkSNPSweep(b *testing.B) {
	img := loadImage(b, "trixie-OVMF.fd")
	sigs := []uint32{0x830f10, 0xa00f11, 0xa10f10}
	single := snp.Config{VCPUs: 4, VCPUSig: 0x800f12, GuestFeatures: 1}
	var work, one, bound time.Duration
	digests := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m := snp.NewMeasurer(img, nil, nil)
		for _, vmm := range snp.VMMTypes {
			for _, sig := range sigs {
				for n := 1; n <= 512; n++ {
					if _, err := m.SNP(snp.Config{VCPUs: n, VCPUSig: sig, VMM: vmm, GuestFeatures: 1}); err != nil {
						b.Fatal(err)
					}
					digests++
				}
			}
		}
		t1 := time.Now()
		if _, err := snp.NewMeasurer(img, nil, nil).SNP(single); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		sha512.Sum384(img.Data())
		bound += time.Since(t2)
		work += t1.Sub(t0)
		one += t2.Sub(t1)
	}
	b.ReportMetric(float64(work)/float64(one), "x-single")
	b.ReportMetric(float64(work)/float64(bound), "x-sha384")
	b.ReportMetric(float64(digests)/float64(b.N), "digests/op")
}

// BenchmarkSEVESDigest4MiB: the SEV-ES digest (SHA-256) of a 4 MiB OVMF,
// against SHA-256 over the same bytes.
func BenchmarkSEVESDigest4MiB(b *testing.B) {
	img := loadImage(b, "trixie-OVMF.fd")
	cfg := snp.Config{VCPUs: 4, VCPUSig: 0x800f12}
	var work, bound time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := snp.NewMeasurer(img, nil, nil).SEVES(cfg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sha256Sum(img.Data())
		bound += time.Since(t1)
		work += t1.Sub(t0)
	}
	b.ReportMetric(float64(work)/float64(bound), "x-sha256")
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
