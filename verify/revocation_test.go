package verify_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// TestSNPRevocation: a CRL given with the certificates is checked against
// the chain that verified the report; every failure is a hardware failure.
func TestSNPRevocation(t *testing.T) {
	s, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	vcekReport, err := s.Sign(verifytest.Report{})
	if err != nil {
		t.Fatal(err)
	}
	vlekReport, err := s.Sign(verifytest.Report{VLEK: true})
	if err != nil {
		t.Fatal(err)
	}
	now := verifytest.Created.AddDate(0, 1, 0)
	crl := func(c verifytest.CRL) []byte {
		t.Helper()
		b, err := s.CRL(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vcekCerts := verify.SNPCerts{VCEK: s.VCEK(), ASK: s.ASK(), ARK: s.ARK()}
	vlekCerts := verify.SNPCerts{VLEK: s.VLEK(), ASK: s.ASVK(), ARK: s.ARK()}
	with := func(c verify.SNPCerts, b []byte) verify.SNPCerts { c.CRL = b; return c }
	tests := []struct {
		name    string
		report  []byte
		certs   verify.SNPCerts
		wantErr string // "" for success
	}{
		{"no CRL", vcekReport, vcekCerts, ""},
		{"CRL revoking nothing", vcekReport, with(vcekCerts, crl(verifytest.CRL{})), ""},
		{"CRL revoking other serials", vcekReport, with(vcekCerts, crl(verifytest.CRL{Serials: []*big.Int{big.NewInt(0xdeadbeef), big.NewInt(7)}})), ""},
		// The ARK's CRL lists what the ARK issued: a VCEK's serial there
		// (0 on every AMD VCEK) names some other certificate.
		{"VCEK's serial in the ARK's CRL", vcekReport, with(vcekCerts, crl(verifytest.CRL{Revoked: [][]byte{s.VCEK()}})), ""},
		{"ASK revoked", vcekReport, with(vcekCerts, crl(verifytest.CRL{Revoked: [][]byte{s.ASK()}})), "the ASK certificate (serial"},
		{"VLEK's serial in the ARK's CRL", vlekReport, with(vlekCerts, crl(verifytest.CRL{Revoked: [][]byte{s.VLEK()}})), ""},
		{"ASVK revoked", vlekReport, with(vlekCerts, crl(verifytest.CRL{Revoked: [][]byte{s.ASVK()}})), "the ASVK certificate (serial"},
		{"CRL signed by another key", vcekReport, with(vcekCerts, crl(verifytest.CRL{OtherKey: true})), "is not signed by"},
		{"CRL expired", vcekReport, with(vcekCerts, crl(verifytest.CRL{NextUpdate: now.Add(-time.Hour)})), "has expired"},
		{"CRL not yet valid", vcekReport, with(vcekCerts, crl(verifytest.CRL{ThisUpdate: now.Add(time.Hour)})), "not yet valid"},
		{"CRL garbage", vcekReport, with(vcekCerts, []byte("not a CRL")), "does not parse"},
		{"CRL truncated", vcekReport, with(vcekCerts, crl(verifytest.CRL{})[:100]), "does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.ParseSNPReport(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			hw, err := verify.VerifySNPSignature(r, tc.certs, now)
			if tc.wantErr != "" {
				if !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("VerifySNPSignature = %v, want ErrHardwareSignature containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifySNPSignature = %v", err)
			}
			noCRL := false
			for _, l := range hw.Limits {
				noCRL = noCRL || strings.Contains(l, "CRL")
			}
			if checked := len(tc.certs.CRL) > 0; checked == noCRL || (len(hw.CRLs) == 1) != checked {
				t.Errorf("CRL given %v: CRLs %q, limits %q", checked, hw.CRLs, hw.Limits)
			}
			if len(hw.CRLs) == 1 && !strings.Contains(hw.CRLs[0], "nextUpdate 2025-01-01T00:00:00Z") {
				t.Errorf("CRLs = %q, want the CRL's issuer and dates", hw.CRLs)
			}
		})
	}
}
