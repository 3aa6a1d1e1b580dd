package verifytest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// CRL describes a synthetic AMD CRL as the KDS serves it at
// /vcek/v1/{product}/crl: issued by the ARK.
type CRL struct {
	// ThisUpdate and NextUpdate default to Created and a year after it.
	ThisUpdate, NextUpdate time.Time
	// Revoked are the certificates (DER) the CRL lists; Serials more
	// serial numbers it lists.
	Revoked [][]byte
	Serials []*big.Int
	// OtherKey signs with a fresh key instead of the ARK's, under the
	// ARK's name: a CRL that claims the ARK but is not its.
	OtherKey bool
}

// CRL returns c, DER, signed by the test ARK (RSA-PSS SHA-384, as AMD
// signs).
func (s *Signer) CRL(c CRL) ([]byte, error) {
	if c.ThisUpdate.IsZero() {
		c.ThisUpdate = Created
	}
	if c.NextUpdate.IsZero() {
		c.NextUpdate = c.ThisUpdate.AddDate(1, 0, 0)
	}
	tmpl := &x509.RevocationList{
		Number:             big.NewInt(1),
		ThisUpdate:         c.ThisUpdate,
		NextUpdate:         c.NextUpdate,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
	}
	for _, der := range c.Revoked {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("revoked certificate: %v", err)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: c.ThisUpdate})
	}
	for _, sn := range c.Serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: sn, RevocationTime: c.ThisUpdate})
	}
	// x509.CreateRevocationList wants the issuer to allow CRL signing and
	// to have a subject key ID, which go-sev-guest's test ARK does not
	// carry; the CRL takes only the ARK's name from it.
	issuer := *s.s.Ark
	issuer.KeyUsage |= x509.KeyUsageCRLSign
	if len(issuer.SubjectKeyId) == 0 {
		issuer.SubjectKeyId = []byte{1}
	}
	var key crypto.Signer = s.s.Keys.Ark
	if c.OtherKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		key = k
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, &issuer, key)
}
