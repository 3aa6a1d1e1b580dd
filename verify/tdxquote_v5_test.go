package verify_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/measure-cc/measure/verify"
)

// Offsets of a version 5 quote with a TD report 1.5 body (Intel TDX DCAP
// quote format, version 5 appendix): the 48-byte header, the body
// descriptor (type, size), the 648-byte body, the signature data length.
// They are the spec's, applied to the raw bytes here, not read through the
// parser under test.
const (
	v5OffBodyType  = 0x30
	v5OffBodySize  = 0x32
	v5OffBody      = 0x36
	v5OffSigLen    = v5OffBody + 648
	v5OffSigData   = v5OffSigLen + 4
	tdOffMRTD      = 0x88
	tdOffRTMR0     = 0x148
	tdOffReport    = 0x208
	tdOffTCBSVN2   = 0x248
	tdOffServiceTD = 0x258
)

// realV5 are the version 5 quotes (TDX 1.5 bodies) copied from public test
// data (testdata/README.md).
var realV5 = []string{"testdata/tdx-quote-v5.dat", "testdata/tdx-quote-v5-trustee.dat"}

func fieldsOf(ev verify.Evidence) map[string]string {
	m := map[string]string{}
	for _, f := range ev.Fields() {
		m[f.Name] = f.Value
	}
	return m
}

// TestParseTDXQuoteV5: real version 5 quotes parse, in binary and hex, and
// each field is the bytes at the spec's offset.
func TestParseTDXQuoteV5(t *testing.T) {
	for _, path := range realV5 {
		t.Run(path, func(t *testing.T) {
			raw := read(t, path)
			for form, in := range map[string][]byte{"binary": raw, "hex": []byte(hex.EncodeToString(raw))} {
				ev, err := verify.Parse(in, verify.KindAny)
				if err != nil {
					t.Fatalf("Parse(%s): %v", form, err)
				}
				q, ok := ev.(*verify.TDXQuote)
				if !ok {
					t.Fatalf("Parse(%s) gave %T, want *TDXQuote", form, ev)
				}
				if q.Version() != 5 || !q.HasPCKChain() || !bytes.Equal(q.Raw(), raw) {
					t.Errorf("Version() = %d, HasPCKChain() = %v, Raw() equal %v; want 5, true, true", q.Version(), q.HasPCKChain(), bytes.Equal(q.Raw(), raw))
				}
				body := raw[v5OffBody:]
				f := fieldsOf(q)
				for name, want := range map[string]string{
					"VERSION":      "5",
					"BODY_TYPE":    "3 (TD report 1.5)",
					"TEE_TCB_SVN":  hex.EncodeToString(body[:16]),
					"MRTD":         hex.EncodeToString(body[tdOffMRTD : tdOffMRTD+48]),
					"RTMR3":        hex.EncodeToString(body[tdOffRTMR0+3*48 : tdOffRTMR0+4*48]),
					"REPORTDATA":   hex.EncodeToString(body[tdOffReport : tdOffReport+64]),
					"TEE_TCB_SVN2": hex.EncodeToString(body[tdOffTCBSVN2 : tdOffTCBSVN2+16]),
					"MRSERVICETD":  hex.EncodeToString(body[tdOffServiceTD : tdOffServiceTD+48]),
				} {
					if f[name] != want {
						t.Errorf("%s = %s, want %s", name, f[name], want)
					}
				}
				regs := q.Registers()
				if len(regs) != 5 || regs[0].Hex != f["MRTD"] || regs[4].Hex != f["RTMR3"] {
					t.Errorf("Registers() = %v, want MRTD and RTMR0-3 as Fields gives them", regs)
				}
				if !bytes.Equal(q.ReportData(), body[tdOffReport:tdOffReport+64]) {
					t.Errorf("ReportData() = %x", q.ReportData())
				}
				if q.Debug() != (body[0x78]&1 == 1) {
					t.Errorf("Debug() = %v, TDATTRIBUTES %x", q.Debug(), body[0x78:0x80])
				}
			}
		})
	}
}

// TestParseTDXQuoteV4OwnFields: a version 4 quote read by our reader (its
// PCK chain replaced by a PPID, so that go-tdx-guest does not read it)
// shows the same fields as go-tdx-guest's reading of the original, but for
// the certification data.
func TestParseTDXQuoteV4OwnFields(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	q, err := verify.ParseTDXQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	ppid := withPPID(t, raw)
	own, err := verify.ParseTDXQuote(ppid)
	if err != nil {
		t.Fatal(err)
	}
	want, got := q.Fields(), own.Fields()
	if len(want) != len(got) {
		t.Fatalf("%d fields, want %d", len(got), len(want))
	}
	for i := range want[:len(want)-1] {
		if want[i] != got[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
	if last := got[len(got)-1]; last.Name != "CERTIFICATION_DATA" || !strings.Contains(last.Value, "type 3") {
		t.Errorf("last field %v, want CERTIFICATION_DATA of type 3", last)
	}
	if own.HasPCKChain() || own.Debug() != q.Debug() || !bytes.Equal(own.ReportData(), q.ReportData()) {
		t.Errorf("HasPCKChain %v, Debug %v, ReportData differs %v", own.HasPCKChain(), own.Debug(), !bytes.Equal(own.ReportData(), q.ReportData()))
	}
}

// withPPID returns the version 4 quote raw with its PCK chain (inner
// certification data type 5, at offPCKCertType) replaced by a 384-byte
// encrypted PPID (type 3), the outer lengths adjusted. No signature covers
// the certification data, so the quote still verifies given its chain.
func withPPID(t testing.TB, raw []byte) []byte {
	t.Helper()
	ppid := bytes.Repeat([]byte{0x5a}, 384)
	b := append([]byte(nil), raw[:offPCKCertType]...)
	b = binary.LittleEndian.AppendUint16(b, 3)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ppid)))
	b = append(b, ppid...)
	d := len(b) - len(raw)
	binary.LittleEndian.PutUint32(b[offSigDataLen:], uint32(int(binary.LittleEndian.Uint32(b[offSigDataLen:]))+d))
	binary.LittleEndian.PutUint32(b[offCertSize:], uint32(int(binary.LittleEndian.Uint32(b[offCertSize:]))+d))
	return b
}

// withOuterChain returns the quote with its certification data replaced by
// the PCK chain alone (type 5): no QE report.
func withOuterChain(t testing.TB, raw []byte) []byte {
	t.Helper()
	chain := raw[offPCKCertType+6:]
	b := append([]byte(nil), raw[:offCertType]...)
	b = binary.LittleEndian.AppendUint16(b, 5)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(chain)))
	b = append(b, chain...)
	binary.LittleEndian.PutUint32(b[offSigDataLen:], uint32(len(b)-offSigDataLen-4))
	return b
}

// TestParseTDXQuoteCertTypes: certification data other than QE report
// certification data holding the chain parses; the quote then has no PCK
// chain of its own.
func TestParseTDXQuoteCertTypes(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	for name, b := range map[string][]byte{"inner PPID (type 3)": withPPID(t, raw), "outer PCK chain (type 5)": withOuterChain(t, raw)} {
		t.Run(name, func(t *testing.T) {
			q, err := verify.ParseTDXQuote(b)
			if err != nil {
				t.Fatal(err)
			}
			f := fieldsOf(q)
			switch name {
			case "outer PCK chain (type 5)":
				if !q.HasPCKChain() || f["PCK_CERT_CHAIN"] == "" {
					t.Errorf("HasPCKChain() = %v, PCK_CERT_CHAIN %q; want the chain", q.HasPCKChain(), f["PCK_CERT_CHAIN"])
				}
			default:
				if q.HasPCKChain() || f["CERTIFICATION_DATA"] == "" {
					t.Errorf("HasPCKChain() = %v, CERTIFICATION_DATA %q; want a PPID", q.HasPCKChain(), f["CERTIFICATION_DATA"])
				}
			}
		})
	}
}

// TestParseCraftedTDXQuoteV5: version 5 quotes whose body descriptor or
// length fields lie are malformed (or truncated) evidence naming the field
// and its offset.
func TestParseCraftedTDXQuoteV5(t *testing.T) {
	raw := read(t, realV5[0])
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr error
		wantMsg string
	}{
		{"SGX body type", put16(v5OffBodyType, 1), verify.ErrMalformed, "body type 1 at 0x30 is an SGX enclave report"},
		{"unknown body type", put16(v5OffBodyType, 4), verify.ErrMalformed, "body type 4 at 0x30, want 2 (TD report 1.0) or 3 (TD report 1.5)"},
		{"TD 1.5 body of 584 bytes", put32(v5OffBodySize, 584), verify.ErrMalformed, "body size 584 at 0x32, want 648 for body type 3"},
		{"TD 1.0 body type with a 1.5 body", put16(v5OffBodyType, 2), verify.ErrMalformed, "body size 648 at 0x32, want 584 for body type 2"},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, verify.ErrMalformed, "1 bytes trail the 5006-byte quote"},
		{"signature data length one past the end", add32(v5OffSigLen, 1), verify.ErrTruncated, "signature data length 4301 at 0x2be makes it 5007"},
		{"cut in the body", func(b []byte) []byte { return b[:0x100] }, verify.ErrTruncated, "want at least 706"},
		{"cut in the descriptor", func(b []byte) []byte { return b[:0x33] }, verify.ErrTruncated, "want at least 54"},
		{"QE authentication data size 0xffff", put16(v5OffSigData+128+6+384+64, 0xffff), verify.ErrMalformed, "QE authentication data size 65535 at 0x508"},
		{"attestation key type 3", put16(2, 3), verify.ErrUnsupported, "attestation key type 3 at 0x2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), raw...))
			_, err := verify.ParseTDXQuote(b)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("ParseTDXQuote = %v, want %v: ...%s...", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}
