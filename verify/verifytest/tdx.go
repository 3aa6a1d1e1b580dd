package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	tpb "github.com/google/go-tdx-guest/proto/tdx"
)

// TDXPKI is a test copy of Intel's SGX PKI: a root CA, a PCK Platform CA,
// a PCK certificate and a TCB Signing certificate, each with the subject
// names Intel's (and go-tdx-guest's) checks expect, and fresh P-256 keys.
// It re-signs a recorded quote with its PCK and signs TCB info, QE
// identity and CRLs, so that collateral of any status, and revocations,
// can be tested. It is for tests only.
type TDXPKI struct {
	Root, PCKCA, PCK, TCBSigning          *x509.Certificate
	rootKey, caKey, pckKey, tcbKey, atKey *ecdsa.PrivateKey
}

// TDXRootCRLURL is the CRL distribution point of the test root (Intel's
// root CRL's address, as the real root names it).
const TDXRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

// NewTDXPKI makes the test PKI, valid from Created for ten years. The PCK
// certificate carries the SGX extension (FMSPC, PCEID, TCB) of the PCK in
// template, a recorded version 4 quote.
func NewTDXPKI(template []byte) (*TDXPKI, error) {
	q, err := quoteV4(template)
	if err != nil {
		return nil, err
	}
	real, err := pckOf(q)
	if err != nil {
		return nil, err
	}
	var sgx *pkix.Extension
	for i, e := range real.Extensions {
		if e.Id.Equal(pcs.OidSgxExtension) {
			sgx = &real.Extensions[i]
		}
	}
	if sgx == nil {
		return nil, fmt.Errorf("recorded PCK certificate has no SGX extension")
	}
	p := &TDXPKI{}
	for _, k := range []**ecdsa.PrivateKey{&p.rootKey, &p.caKey, &p.pckKey, &p.tcbKey, &p.atKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
	}
	mk := func(serial int64, cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, extra []pkix.Extension) (*x509.Certificate, error) {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: name(cn),
			NotBefore: Created, NotAfter: Created.AddDate(10, 0, 0),
			SignatureAlgorithm: x509.ECDSAWithSHA256, BasicConstraintsValid: true, IsCA: ca,
			CRLDistributionPoints: []string{TDXRootCRLURL},
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			SubjectKeyId:          []byte{byte(serial)},
			ExtraExtensions:       extra,
		}
		if ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	if p.Root, err = mk(1, "Intel SGX Root CA", p.rootKey, nil, nil, true, nil); err != nil {
		return nil, err
	}
	if p.PCKCA, err = mk(2, "Intel SGX PCK Platform CA", p.caKey, p.Root, p.rootKey, true, nil); err != nil {
		return nil, err
	}
	if p.PCK, err = mk(3, "Intel SGX PCK Certificate", p.pckKey, p.PCKCA, p.caKey, false, []pkix.Extension{*sgx}); err != nil {
		return nil, err
	}
	if p.TCBSigning, err = mk(4, "Intel SGX TCB Signing", p.tcbKey, p.Root, p.rootKey, false, nil); err != nil {
		return nil, err
	}
	return p, nil
}

func quoteV4(b []byte) (*tpb.QuoteV4, error) {
	a, err := abi.QuoteToProto(b)
	if err != nil {
		return nil, err
	}
	q, ok := a.(*tpb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("quote of type %T, want version 4", a)
	}
	return q, nil
}

func pckOf(q *tpb.QuoteV4) (*x509.Certificate, error) {
	blk, _ := pem.Decode(q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain())
	if blk == nil {
		return nil, fmt.Errorf("quote carries no PCK chain")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// RootPEM is the test root, PEM (for a trusted root).
func (p *TDXPKI) RootPEM() []byte { return pemOf(p.Root) }

// IssuerChain is the TCB Signing certificate and the root, PEM: the chain
// PCS sends with TCB info and QE identity.
func (p *TDXPKI) IssuerChain() []byte { return append(pemOf(p.TCBSigning), pemOf(p.Root)...) }

// PCKCRLIssuerChain is the PCK CA and the root, PEM.
func (p *TDXPKI) PCKCRLIssuerChain() []byte { return append(pemOf(p.PCKCA), pemOf(p.Root)...) }

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Quote returns template, a recorded version 4 quote, re-signed: a fresh
// attestation key signs its header and body, the QE report binds that key
// and is signed by the test PCK, whose chain replaces the quote's.
func (p *TDXPKI) Quote(template []byte) ([]byte, error) {
	q, err := quoteV4(template)
	if err != nil {
		return nil, err
	}
	q.ExtraBytes = nil
	sd := q.GetSignedData()
	att := append(p.atKey.PublicKey.X.FillBytes(make([]byte, 32)), p.atKey.PublicKey.Y.FillBytes(make([]byte, 32))...)
	sd.EcdsaAttestationKey = att
	qd := sd.GetCertificationData().GetQeReportCertificationData()
	h := sha256.Sum256(append(append([]byte(nil), att...), qd.GetQeAuthData().GetData()...))
	qd.GetQeReport().ReportData = append(h[:], make([]byte, 32)...)
	rep, err := abi.EnclaveReportToAbiBytes(qd.GetQeReport())
	if err != nil {
		return nil, err
	}
	if qd.QeReportSignature, err = rawSign(p.pckKey, rep); err != nil {
		return nil, err
	}
	chain := append(append(pemOf(p.PCK), pemOf(p.PCKCA)...), pemOf(p.Root)...)
	cd := qd.GetPckCertificateChainData()
	cd.PckCertChain, cd.Size = chain, uint32(len(chain))
	// Certification data type 6: the QE report, its signature, the QE
	// authentication data (2-byte size), the PCK chain's certification
	// data (2-byte type, 4-byte size).
	certSize := 384 + 64 + 2 + len(qd.GetQeAuthData().GetData()) + 2 + 4 + len(chain)
	sd.GetCertificationData().Size = uint32(certSize)
	q.SignedDataSize = uint32(64 + 64 + 2 + 4 + certSize)
	hdr, err := abi.HeaderToAbiBytes(q.GetHeader())
	if err != nil {
		return nil, err
	}
	body, err := abi.TdQuoteBodyToAbiBytes(q.GetTdQuoteBody())
	if err != nil {
		return nil, err
	}
	if sd.Signature, err = rawSign(p.atKey, append(hdr, body...)); err != nil {
		return nil, err
	}
	return abi.QuoteToAbiBytes(q)
}

// rawSign signs SHA-256(msg), r||s of 32 bytes each, as quotes and PCS
// bodies carry ECDSA signatures.
func rawSign(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		return nil, err
	}
	return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), nil
}

// TDXLevel is one TCB level of a synthetic TCB info: its status and
// advisories; Higher makes its SVNs exceed the platform's, so that it does
// not match.
type TDXLevel struct {
	Status     string
	Advisories []string
	Higher     bool
}

// TCBInfo returns a TCB info (the PCS body {"tcbInfo": ..., "signature":
// ...}) signed by the test TCB Signing key, made from template (a
// recorded body) with its dates set to issue..next and its levels
// replaced: each matches the PCK and TEE_TCB_SVN of quote (SVNs equal to
// theirs) unless Higher.
func (p *TDXPKI) TCBInfo(template, quote []byte, issue, next time.Time, levels ...TDXLevel) ([]byte, error) {
	var doc struct {
		TCBInfo map[string]any `json:"tcbInfo"`
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	q, err := quoteV4(quote)
	if err != nil {
		return nil, err
	}
	real, err := pckOf(q)
	if err != nil {
		return nil, err
	}
	ext, err := pcs.PckCertificateExtensions(real)
	if err != nil {
		return nil, err
	}
	tee := q.GetTdQuoteBody().GetTeeTcbSvn()
	var ls []any
	for _, l := range levels {
		bump := byte(0)
		if l.Higher {
			bump = 1
		}
		var sgx, tdx []any
		for _, v := range ext.TCB.CPUSvnComponents {
			sgx = append(sgx, map[string]any{"svn": v + bump})
		}
		for _, v := range tee {
			tdx = append(tdx, map[string]any{"svn": v + bump})
		}
		lv := map[string]any{
			"tcb":       map[string]any{"sgxtcbcomponents": sgx, "pcesvn": int(ext.TCB.PCESvn) + int(bump), "tdxtcbcomponents": tdx},
			"tcbDate":   "2023-02-15T00:00:00Z",
			"tcbStatus": l.Status,
		}
		if len(l.Advisories) > 0 {
			lv["advisoryIDs"] = l.Advisories
		}
		ls = append(ls, lv)
	}
	doc.TCBInfo["tcbLevels"] = ls
	doc.TCBInfo["issueDate"] = issue.UTC().Format(time.RFC3339)
	doc.TCBInfo["nextUpdate"] = next.UTC().Format(time.RFC3339)
	return p.signBody("tcbInfo", doc.TCBInfo)
}

// QEIdentity returns template (a recorded QE identity body) with its dates
// set to issue..next, signed by the test TCB Signing key.
func (p *TDXPKI) QEIdentity(template []byte, issue, next time.Time) ([]byte, error) {
	var doc struct {
		ID map[string]any `json:"enclaveIdentity"`
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	doc.ID["issueDate"] = issue.UTC().Format(time.RFC3339)
	doc.ID["nextUpdate"] = next.UTC().Format(time.RFC3339)
	return p.signBody("enclaveIdentity", doc.ID)
}

func (p *TDXPKI) signBody(key string, v any) ([]byte, error) {
	inner, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sig, err := rawSign(p.tcbKey, inner)
	if err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, key, inner, hex.EncodeToString(sig))), nil
}

// PCKCRL returns a CRL of the test PCK CA, DER, valid issue..next,
// listing the PCK certificate when revokePCK.
func (p *TDXPKI) PCKCRL(issue, next time.Time, revokePCK bool) ([]byte, error) {
	var revoked []*x509.Certificate
	if revokePCK {
		revoked = append(revoked, p.PCK)
	}
	return crlOf(p.PCKCA, p.caKey, issue, next, revoked...)
}

// RootCRL returns a CRL of the test root, DER, valid issue..next, listing
// the PCK CA when revokeCA.
func (p *TDXPKI) RootCRL(issue, next time.Time, revokeCA bool) ([]byte, error) {
	var revoked []*x509.Certificate
	if revokeCA {
		revoked = append(revoked, p.PCKCA)
	}
	return crlOf(p.Root, p.rootKey, issue, next, revoked...)
}

// OtherRootCRL returns a root CRL under the test root's name signed by
// another key.
func (p *TDXPKI) OtherRootCRL(issue, next time.Time) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return crlOf(p.Root, k, issue, next)
}

func crlOf(issuer *x509.Certificate, key *ecdsa.PrivateKey, issue, next time.Time, revoked ...*x509.Certificate) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: issue, NextUpdate: next, SignatureAlgorithm: x509.ECDSAWithSHA256}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: issue})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
}
