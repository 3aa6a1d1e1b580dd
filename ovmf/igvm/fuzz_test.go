package igvm_test

import (
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf/igvm"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
)

// FuzzParse: no input panics, and whatever parses can be re-read: every
// directive's data lies inside the file.
func FuzzParse(f *testing.F) {
	f.Add(igvmtest.SNPFile().Build())
	v2 := igvmtest.SNPFile()
	v2.Version = igvm.FormatVersion2
	f.Add(v2.Build())
	f.Add(igvmtest.File{}.Build())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Fix the size and checksum half the time, so mutations reach the
		// variable-header checks instead of stopping at the CRC.
		if len(b) > 0 && b[len(b)-1]&1 == 0 {
			b = igvmtest.Fix(append([]byte(nil), b...)) // never modify the fuzzer's input
		}
		file, err := igvm.Parse(b)
		if err != nil {
			return
		}
		// Whatever parses is measured or refused, never a panic.
		_, _ = snp.MeasureIGVM(file, snp.IGVMOptions{NativeZero: b[0]&1 == 1})
		for _, d := range file.Directives {
			switch p := d.Body.(type) {
			case *igvm.PageData:
				if _, err := file.Data(p.FileOffset, igvm.PageSize); err != nil {
					t.Fatalf("parsed page data at %#x, but Data = %v", d.Offset, err)
				}
			case *igvm.ParameterArea:
				if _, err := file.Data(p.FileOffset, p.NumberOfBytes); err != nil {
					t.Fatalf("parsed parameter area at %#x, but Data = %v", d.Offset, err)
				}
			}
		}
	})
}
