package verify_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/measure-cc/measure/verify"
)

// Offsets in testdata/tdx-quote-v4.dat (Intel TDX DCAP "Quote Format",
// version 4): the length fields a crafted quote lies in. The QE
// authentication data of the recorded quote is 32 bytes.
const (
	offSigDataLen  = 0x278 // Quote Signature Data Length
	offCertType    = 0x2fc // Certification Data Type (6)
	offCertSize    = 0x2fe // Certification Data size
	offQEAuthLen   = 0x4c2 // QE Authentication Data size
	offPCKCertType = 0x4e4 // PCK Certification Data Type (5)
	offPCKCertSize = 0x4e6 // PCK certificate chain size
)

// craftedQuote returns the recorded quote with f applied to a copy.
func craftedQuote(t testing.TB, f func([]byte) []byte) []byte {
	t.Helper()
	return f(append([]byte(nil), read(t, "testdata/tdx-quote-v4.dat")...))
}

func put16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[off:], v); return b }
}

func put32(off int, v uint32) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
}

func add32(off int, d int32) func([]byte) []byte {
	return func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[off:], uint32(int32(binary.LittleEndian.Uint32(b[off:]))+d))
		return b
	}
}

// TestParseCraftedTDXQuote: quotes whose length fields lie, which made
// go-tdx-guest v0.3.1 panic (slice bounds out of range) and measure exit 2,
// and quotes with bytes after them, which parsed. Each is malformed
// evidence (exit 20) with an error naming the field and its offset.
func TestParseCraftedTDXQuote(t *testing.T) {
	junk := bytes.Repeat([]byte("junk"), 25)
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr error
		wantMsg string
	}{
		{
			// Panicked in qeAuthDataToProto: [:65537] with capacity 3717.
			name: "QE authentication data size 0xffff", mutate: put16(offQEAuthLen, 0xffff),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: QE authentication data size 65535 at 0x4c2, want at most 3709",
		},
		{
			// Panicked in signedDataToProto: [:64] with capacity 16.
			name: "signature data length 16", mutate: func(b []byte) []byte { return put32(offSigDataLen, 16)(b)[:0x27c+16+0x180] },
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: signature data length 16 at 0x278, want at least 134",
		},
		{
			// Panicked in qeReportCertificationDataToProto: [384:448] with
			// capacity 384.
			name: "QE report certification data of 384 bytes",
			mutate: func(b []byte) []byte {
				b = put32(offSigDataLen, 0x86+0x180)(b)
				return put32(offCertSize, 0x180)(b)[:0x27c+0x86+0x180]
			},
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: QE report certification data is 384 bytes at 0x302, want at least 456",
		},
		{
			name: "100 bytes of junk after the quote", mutate: func(b []byte) []byte { return append(b, junk...) },
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: 100 bytes trail the 4935-byte quote",
		},
		{
			name: "one zero byte after the quote", mutate: func(b []byte) []byte { return append(b, 0) },
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: 1 bytes trail the 4935-byte quote",
		},
		{
			name: "signature data length one past the end", mutate: add32(offSigDataLen, 1),
			wantErr: verify.ErrTruncated, wantMsg: "TDX quote is 4935 bytes, its signature data length 4300 at 0x278 makes it 4936",
		},
		{
			// Types 1 to 5 without a QE report parse (TestParseTDXQuoteCertTypes).
			name: "certification data type 9", mutate: put16(offCertType, 9),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: certification data type 9 at 0x2fc, want 1 to 6",
		},
		{
			name: "certification data size one short", mutate: add32(offCertSize, -1),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: certification data size 4164 at 0x2fe, want 4165",
		},
		{
			name: "QE authentication data one longer", mutate: add32(offQEAuthLen, 1),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: PCK certification data type",
		},
		{
			name: "PCK certification data type 6", mutate: put16(offPCKCertType, 6),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: PCK certification data type 6 at 0x4e4, want 1 to 5",
		},
		{
			name: "PCK certificate chain size one long", mutate: add32(offPCKCertSize, 1),
			wantErr: verify.ErrMalformed, wantMsg: "TDX quote: PCK certificate chain size 3678 at 0x4e6, want 3677",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := craftedQuote(t, tc.mutate)
			for form, in := range map[string][]byte{"binary": b, "hex": []byte(hex.EncodeToString(b))} {
				_, err := verify.Parse(in, verify.KindAny)
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("Parse(%s) = %v, want %v: ...%s...", form, err, tc.wantErr, tc.wantMsg)
				}
			}
		})
	}
}

// TestParseSNPReportTrailingBytes: after an SEV-SNP report only a
// certificate table may follow, then zero padding.
func TestParseSNPReportTrailingBytes(t *testing.T) {
	report := read(t, "testdata/snp-attestation.bin")
	vcek := read(t, "testdata/snp-vcek.der")
	const entrySize = 24 // GUID, 32-bit offset, 32-bit length
	// table is a certificate table holding the VCEK: its entry, the zero
	// entry, the certificate.
	table := make([]byte, 2*entrySize)
	g := uuid.MustParse("63da758d-e664-4564-adc5-f4b93be8accd") // VCEK (SEV-SNP ABI, "Certificate Table")
	copy(table, g[:])
	binary.LittleEndian.PutUint32(table[16:], 2*entrySize)
	binary.LittleEndian.PutUint32(table[20:], uint32(len(vcek)))
	table = append(table, vcek...)
	// wrapping has an offset and length whose 32-bit sum wraps to 16: it
	// made go-sev-guest v0.15.0's CertTable.Unmarshal panic.
	wrapping := make([]byte, 2*entrySize)
	copy(wrapping, g[:])
	binary.LittleEndian.PutUint32(wrapping[16:], 0xfffffff0)
	binary.LittleEndian.PutUint32(wrapping[20:], 0x20)

	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		in       []byte
		wantErr  error
		wantMsg  string
		wantVCEK bool
	}{
		{name: "table", in: cat(report, table), wantVCEK: true},
		{name: "table and zero padding", in: cat(report, table, make([]byte, 4096-len(table))), wantVCEK: true},
		{name: "table and junk", in: cat(report, table, []byte("junk")), wantErr: verify.ErrMalformed,
			wantMsg: "4 bytes trail the table's 1408 bytes and are not zero padding (byte 0x6a at 0x580)"},
		{name: "100 bytes of junk", in: cat(report, bytes.Repeat([]byte("junk"), 25)), wantErr: verify.ErrMalformed,
			wantMsg: "extended SEV-SNP report: certificate table at 0x4a0"},
		{name: "offset and length wrap", in: cat(report, wrapping), wantErr: verify.ErrMalformed,
			wantMsg: "entry 0: certificate at 0xfffffff0, 32 bytes, runs past the table's 48 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.ParseSNPReport(tc.in)
			if !errors.Is(err, tc.wantErr) || (err != nil && !strings.Contains(err.Error(), tc.wantMsg)) {
				t.Fatalf("ParseSNPReport = %v, want %v: ...%s...", err, tc.wantErr, tc.wantMsg)
			}
			if err != nil {
				return
			}
			var got bool
			for _, f := range r.Fields() {
				got = got || (f.Name == "CERTIFICATES" && strings.HasPrefix(f.Value, "VCEK"))
			}
			if got != tc.wantVCEK {
				t.Errorf("CERTIFICATES has VCEK: %v, want %v", got, tc.wantVCEK)
			}
		})
	}
}
