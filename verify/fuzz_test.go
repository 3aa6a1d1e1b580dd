package verify_test

import (
	"testing"

	"github.com/measure-cc/measure/verify"
)

// FuzzParse: untrusted report and quote bytes never panic, and whatever
// parses has registers of the right size and fields to show.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/snp-attestation.bin", "testdata/tdx-quote-v4.dat"} {
		b := read(f, p)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := verify.Parse(b, verify.KindAny)
		if err != nil {
			return
		}
		for _, r := range ev.Registers() {
			if len(r.Value) != 48 {
				t.Errorf("%s is %d bytes, want 48", r.Name, len(r.Value))
			}
		}
		_ = ev.Fields()
		_, _ = verify.CheckPolicy(ev, verify.Policy{})
	})
}
