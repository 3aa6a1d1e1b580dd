package tdx

import (
	"crypto/sha512"
	"testing"
	"time"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// extendedBytes is how many bytes MRTD feeds SHA-384 for md: a 128-byte
// buffer per added page, 128+256 bytes per measured chunk.
func extendedBytes(md *ovmf.TDVFMetadata) int {
	n := 0
	for _, s := range md.Sections {
		if s.Attributes&ovmf.TDVFAttrPageAug != 0 {
			continue
		}
		pages := int(s.MemoryDataSize / ovmf.PageSize)
		n += pages * ExtensionBufferSize
		if s.Attributes&ovmf.TDVFAttrMRExtend != 0 {
			n += pages * chunksPerPage * (ExtensionBufferSize + MRExtendChunkSize)
		}
	}
	return n
}

// BenchmarkMRTD measures MRTD of a 4 MiB image and reports its time as a
// multiple of SHA-384 over the same number of bytes ("x-sha384"), the
// physical bound.
func BenchmarkMRTD(b *testing.B) {
	for _, order := range []PageAddOrder{SinglePass, TwoPass} {
		b.Run(order.String(), func(b *testing.B) {
			data := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 4 << 20})
			md, err := ovmf.ParseTDVF(data)
			if err != nil {
				b.Fatal(err)
			}
			n := extendedBytes(md)
			b.SetBytes(int64(n))
			buf := make([]byte, n)
			// The baseline runs interleaved with the measured loop, so that
			// load from other processes hits both alike.
			var base time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := MRTD(data, md, order, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				start := time.Now()
				sha512.Sum384(buf)
				base += time.Since(start)
				b.StartTimer()
			}
			b.StopTimer()
			mrtd := b.Elapsed()
			b.ReportMetric(float64(mrtd)/float64(base), "x-sha384")
		})
	}
}
