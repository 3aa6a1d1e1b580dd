package verify_test

import (
	"bytes"
	"encoding/binary"
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

// FuzzParseTDXQuote: binary quotes, seeded with the recorded quote and the
// crafted ones that made go-tdx-guest v0.3.1 panic, never panic, and a quote
// that parses ends where its signature data ends.
func FuzzParseTDXQuote(f *testing.F) {
	f.Add(craftedQuote(f, func(b []byte) []byte { return b }))
	f.Add(craftedQuote(f, put16(offQEAuthLen, 0xffff)))
	f.Add(craftedQuote(f, func(b []byte) []byte { return put32(offSigDataLen, 16)(b)[:0x27c+16+0x180] }))
	f.Add(craftedQuote(f, func(b []byte) []byte {
		return put32(offCertSize, 0x180)(put32(offSigDataLen, 0x86+0x180)(b))[:0x27c+0x86+0x180]
	}))
	f.Add(craftedQuote(f, func(b []byte) []byte { return append(b, bytes.Repeat([]byte("junk"), 25)...) }))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := verify.ParseTDXQuote(b)
		if err != nil {
			return
		}
		if end := offSigDataLen + 4 + int(binary.LittleEndian.Uint32(b[offSigDataLen:])); end != len(b) {
			t.Errorf("ParseTDXQuote accepted %d bytes, the quote ends at %d", len(b), end)
		}
		if !bytes.Equal(q.Raw(), b) {
			t.Errorf("Raw() differs from the input")
		}
		_ = q.Fields()
		_ = q.Registers()
		_, _ = verify.CheckPolicy(q, verify.Policy{})
	})
}
