package verify

import (
	"crypto/x509"
	"errors"
	"testing"

	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/measure-cc/measure/verify/verifytest"
)

// FuzzSNPCRL: any bytes given as AMD's CRL never panic and, unless they are
// a CRL the test ARK signed, fail as hardware failures. It checks the CRL
// alone (checkSNPRevocation), not the whole report, whose RSA-4096 chain
// makes an instrumented run take seconds. Seeded with CRLs the test ARK
// signed.
func FuzzSNPCRL(f *testing.F) {
	s, err := verifytest.NewSigner()
	if err != nil {
		f.Fatal(err)
	}
	ark, err1 := x509.ParseCertificate(s.ARK())
	ask, err2 := x509.ParseCertificate(s.ASK())
	if err := errors.Join(err1, err2); err != nil {
		f.Fatal(err)
	}
	roots := &trust.ProductCerts{Ark: ark, Ask: ask}
	for _, c := range []verifytest.CRL{{}, {Revoked: [][]byte{s.VCEK()}}} {
		b, err := s.CRL(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	now := verifytest.Created.AddDate(0, 1, 0)
	f.Fuzz(func(t *testing.T, crl []byte) {
		_, err := checkSNPRevocation(crl, roots, sevabi.VcekReportSigner, s.VCEK(), now)
		if err != nil && !errors.Is(err, ErrHardwareSignature) {
			t.Errorf("checkSNPRevocation(%x) = %v, want nil or ErrHardwareSignature", crl, err)
		}
	})
}
