package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/verify/trust"
)

// maxCRLSize bounds a CRL given as bytes. AMD's and Intel's CRLs are a few
// kilobytes.
const maxCRLSize = 4 << 20

// parseCRL parses a CRL given as DER or PEM ("X509 CRL").
func parseCRL(name string, b []byte) (*x509.RevocationList, error) {
	if len(b) > maxCRLSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrHardwareSignature, name, len(b), maxCRLSize)
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: %s: PEM block %q, want X509 CRL", ErrHardwareSignature, name, blk.Type)
		}
		der = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not parse: %v", ErrHardwareSignature, name, err)
	}
	return crl, nil
}

// checkedCert is a certificate that a CRL must not list, with the role
// errors name it by.
type checkedCert struct {
	role string
	cert *x509.Certificate
}

// checkCRL checks that crl was issued and signed by issuer, that now lies
// in [thisUpdate, nextUpdate], and that it revokes none of certs. It
// returns the description Hardware.CRLs lists. Every failure wraps
// ErrHardwareSignature: a chain that may be revoked does not verify.
func checkCRL(name string, crl *x509.RevocationList, issuer *x509.Certificate, now time.Time, certs ...checkedCert) (string, error) {
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return "", fmt.Errorf("%w: %s is issued by %q, want %q", ErrHardwareSignature, name, crl.Issuer, issuer.Subject)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return "", fmt.Errorf("%w: %s is not signed by %q: %v", ErrHardwareSignature, name, issuer.Subject.CommonName, err)
	}
	if now.Before(crl.ThisUpdate) {
		return "", fmt.Errorf("%w: %s is not yet valid at %s: thisUpdate %s", ErrHardwareSignature, name, now.UTC().Format(time.RFC3339), crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if crl.NextUpdate.IsZero() || now.After(crl.NextUpdate) {
		return "", fmt.Errorf("%w: %s has expired at %s: nextUpdate %s", ErrHardwareSignature, name, now.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, c := range certs {
		if c.cert == nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(c.cert.SerialNumber) == 0 {
				return "", fmt.Errorf("%w: the %s certificate (serial %#x) is revoked by %s since %s", ErrHardwareSignature, c.role, c.cert.SerialNumber, name, e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return describeCRL(crl), nil
}

// describeCRL names a CRL as Hardware.CRLs lists it.
func describeCRL(crl *x509.RevocationList) string {
	return fmt.Sprintf("%s, thisUpdate %s, nextUpdate %s, %d revoked", crl.Issuer.CommonName,
		crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339), len(crl.RevokedCertificateEntries))
}

// checkSNPRevocation checks an AMD CRL (as the KDS serves it at
// /vcek/v1/{product}/crl or /vlek/v1/{product}/crl: DER, signed by the
// ARK) against the chain that verified the report: the ASK or ASVK must
// not be listed. A CRL names certificates its issuer issued: the ARK's
// names ASKs and ASVKs, never a VCEK or VLEK, which the ASK or ASVK issues
// (and whose serial numbers, 0 on every AMD VCEK seen, mean nothing to the
// ARK's list). A VCEK is not revoked: its TCB is compared with the
// report's, and an old TCB is the TCB policy's to refuse.
//
// go-sev-guest's Options.CheckRevocations is not used: v0.15.0 checks only
// the ASK's serial (not the ASVK's, nor the VCEK's or VLEK's), does not
// check the CRL's thisUpdate and nextUpdate against the verification
// time, and caches the CRL in the shared root certificates it keeps in
// package variables.
func checkSNPRevocation(b []byte, roots *trust.ProductCerts, key sevabi.ReportSigner, signer []byte, now time.Time) (string, error) {
	name := fmt.Sprintf("the %v CRL", key)
	crl, err := parseCRL(name, b)
	if err != nil {
		return "", err
	}
	if roots == nil || roots.Ark == nil {
		return "", fmt.Errorf("%w: no ARK to check %s against", ErrHardwareSignature, name)
	}
	inter := checkedCert{"ASK", roots.Ask}
	if key == sevabi.VlekReportSigner {
		inter = checkedCert{"ASVK", roots.Asvk}
	}
	if inter.cert == nil {
		return "", fmt.Errorf("%w: no %s to check against %s", ErrHardwareSignature, inter.role, name)
	}
	return checkCRL(name, crl, roots.Ark, now, inter)
}

// dropLimit returns limits without l.
func dropLimit(limits []string, l string) []string {
	out := limits[:0:0]
	for _, x := range limits {
		if x != l {
			out = append(out, x)
		}
	}
	return out
}

// limitNoCRL is the limit a verdict carries when revocation was not
// checked.
const limitNoCRL = "certificate revocation (CRL) not checked"
