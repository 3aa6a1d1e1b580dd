package verify

// This file verifies SEV-SNP reports with the standard library alone, for
// the product lines go-sev-guest v0.15.0 cannot verify: it refuses every
// Turin VCEK, whose FMC SPL extension (1.3.6.1.4.1.3704.1.3.9) it does not
// know, and wants a 64-byte HWID where Turin's is 8 bytes (go-sev-guest
// issue 165). It also reads the KDS extensions of every VCEK and VLEK for
// checkEndorsement.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Offsets and sizes in the ATTESTATION_REPORT (SEV-SNP ABI, Table 23) and
// its SIGNATURE (Table 139, "Signature Format" for ECDSA P-384 with
// SHA-384: R then S, each 72 bytes little endian, of which the low 48 hold
// the number).
const (
	offSignatureAlgo = 0x34  // SIGNATURE_ALGO, 32 bits
	snpSignedSize    = 0x2a0 // the signature covers bytes 0h to 29Fh
	offSignatureR    = 0x2a0
	offSignatureS    = offSignatureR + signatureComponentSize // 0x2e8
	p384ScalarSize   = 48
	// sigAlgoECDSAP384SHA384 is SIGNATURE_ALGO's only defined value
	// (SEV-SNP ABI, Table 140).
	sigAlgoECDSAP384SHA384 = 1
)

// The two keys a report names as its signer (SIGNER_INFO.SIGNING_KEY).
const (
	signerVCEK = "VCEK"
	signerVLEK = "VLEK"
)

// oidAMDKDS is the arc of AMD's VCEK and VLEK certificate extensions (AMD
// KDS specification 57230, "VCEK Certificate Extensions", "VLEK
// Certificate Extensions").
var oidAMDKDS = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1}

// KDS extensions, as suffixes of oidAMDKDS.
var (
	oidStructVersion = kdsOID(1)    // structVersion, INTEGER
	oidProductName   = kdsOID(2)    // productName1, IA5String
	oidBlSPL         = kdsOID(3, 1) // blSPL, INTEGER
	oidTeeSPL        = kdsOID(3, 2) // teeSPL
	oidSnpSPL        = kdsOID(3, 3) // snpSPL
	oidSPL4          = kdsOID(3, 4) // spl_4 .. spl_7: reserved (Turin has no spl_4)
	oidSPL5          = kdsOID(3, 5)
	oidSPL6          = kdsOID(3, 6)
	oidSPL7          = kdsOID(3, 7)
	oidUcodeSPL      = kdsOID(3, 8) // ucodeSPL
	oidFmcSPL        = kdsOID(3, 9) // fmcSPL, Turin
	oidHWID          = kdsOID(4)    // hwID: raw bytes, no ASN.1 tag
	oidCSPID         = kdsOID(5)    // csp_id, IA5String, VLEK only
)

func kdsOID(arcs ...int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, oidAMDKDS...), arcs...)
}

// HWID sizes: Milan's and Genoa's are the 64 bytes of CHIP_ID; from Turin on
// the HWID is 8 bytes, which CHIP_ID carries first, then 56 zero bytes (AMD
// KDS specification 57230, section 3.1, note 4; project-oak/oak
// oak_attestation_verification/src/amd.rs chip_id).
const (
	milanHWIDSize = 64
	turinHWIDSize = 8
)

// kdsExtensions are the KDS extensions of a VCEK or VLEK certificate.
type kdsExtensions struct {
	StructVersion uint8
	ProductName   string
	// TCB is the TCB the certificate was issued for: its SPL extensions,
	// with HasFMC when it has the FMC SPL (Turin's).
	TCB TCB
	// Reserved are spl_4 to spl_7 by number, when present; AMD issues them
	// as 0.
	Reserved map[int]uint8
	// HWID is a VCEK's chip identity, 8 or 64 bytes; nil for a VLEK.
	HWID []byte
	// CSPID names the cloud provider a VLEK was issued to; empty for a
	// VCEK.
	CSPID string
}

// reservedSPLs are spl_4 to spl_7, in order; kdsExtensions.Reserved keys
// them by number, from firstReservedSPL.
var reservedSPLs = []asn1.ObjectIdentifier{oidSPL4, oidSPL5, oidSPL6, oidSPL7}

const firstReservedSPL = 4

// isSPL reports whether id is one of the SPL extensions.
func isSPL(id asn1.ObjectIdentifier) bool {
	for _, s := range append([]asn1.ObjectIdentifier{oidBlSPL, oidTeeSPL, oidSnpSPL, oidUcodeSPL, oidFmcSPL}, reservedSPLs...) {
		if id.Equal(s) {
			return true
		}
	}
	return false
}

// parseKDSExtensions reads the KDS extensions among a VCEK's or VLEK's
// (key: signerVCEK or signerVLEK) certificate extensions. Extensions
// outside AMD's arc are left to crypto/x509. Every AMD extension must be
// known and appear once; structVersion, productName and the blSPL,
// teeSPL, snpSPL and ucodeSPL extensions must be there; a VCEK must have a
// HWID and no CSP ID, a VLEK the reverse.
func parseKDSExtensions(exts []pkix.Extension, key string) (*kdsExtensions, error) {
	out := &kdsExtensions{Reserved: map[int]uint8{}}
	spls := map[string]uint8{} // the SPL extensions, by OID
	seen := map[string]bool{}
	for _, e := range exts {
		if !hasPrefix(e.Id, oidAMDKDS) {
			continue
		}
		id := e.Id.String()
		if seen[id] {
			return nil, fmt.Errorf("extension %v appears twice", e.Id)
		}
		seen[id] = true
		var err error
		switch {
		case e.Id.Equal(oidStructVersion):
			out.StructVersion, err = asn1Uint8(e.Value)
		case e.Id.Equal(oidProductName):
			out.ProductName, err = asn1IA5(e.Value)
		case isSPL(e.Id):
			spls[id], err = asn1Uint8(e.Value)
		case e.Id.Equal(oidHWID):
			out.HWID, err = parseHWID(e.Value)
		case e.Id.Equal(oidCSPID):
			out.CSPID, err = asn1IA5(e.Value)
			if err == nil && out.CSPID == "" {
				err = errors.New("empty")
			}
		default:
			return nil, fmt.Errorf("unknown AMD KDS extension %v", e.Id)
		}
		if err != nil {
			return nil, fmt.Errorf("extension %v: %v", e.Id, err)
		}
	}
	for _, req := range []asn1.ObjectIdentifier{oidStructVersion, oidProductName, oidBlSPL, oidTeeSPL, oidSnpSPL, oidUcodeSPL} {
		if !seen[req.String()] {
			return nil, fmt.Errorf("no extension %v", req)
		}
	}
	out.TCB = TCB{Bootloader: spls[oidBlSPL.String()], TEE: spls[oidTeeSPL.String()], SNP: spls[oidSnpSPL.String()], Microcode: spls[oidUcodeSPL.String()]}
	if v, ok := spls[oidFmcSPL.String()]; ok {
		out.TCB.FMC, out.TCB.HasFMC = v, true
	}
	for i, id := range reservedSPLs {
		if v, ok := spls[id.String()]; ok {
			out.Reserved[firstReservedSPL+i] = v
		}
	}
	switch key {
	case signerVCEK:
		if out.HWID == nil || out.CSPID != "" {
			return nil, fmt.Errorf("a VCEK certificate must have a HWID (%v) and no CSP ID (%v)", oidHWID, oidCSPID)
		}
	case signerVLEK:
		if out.HWID != nil || out.CSPID == "" {
			return nil, fmt.Errorf("a VLEK certificate must have a CSP ID (%v) and no HWID (%v)", oidCSPID, oidHWID)
		}
	default:
		return nil, fmt.Errorf("signing key %q, want %s or %s", key, signerVCEK, signerVLEK)
	}
	return out, nil
}

// marshalKDSExtensions is the inverse of parseKDSExtensions: e as
// certificate extensions, the HWID raw as the KDS writes it.
func marshalKDSExtensions(e *kdsExtensions) ([]pkix.Extension, error) {
	type ext struct {
		id     asn1.ObjectIdentifier
		v      any
		params string
	}
	exts := []ext{
		{oidStructVersion, int(e.StructVersion), ""},
		{oidProductName, e.ProductName, "ia5"},
	}
	if e.TCB.HasFMC {
		exts = append(exts, ext{oidFmcSPL, int(e.TCB.FMC), ""})
	}
	exts = append(exts, ext{oidBlSPL, int(e.TCB.Bootloader), ""}, ext{oidTeeSPL, int(e.TCB.TEE), ""}, ext{oidSnpSPL, int(e.TCB.SNP), ""})
	for i, id := range reservedSPLs {
		if v, ok := e.Reserved[firstReservedSPL+i]; ok {
			exts = append(exts, ext{id, int(v), ""})
		}
	}
	exts = append(exts, ext{oidUcodeSPL, int(e.TCB.Microcode), ""})
	if e.CSPID != "" {
		exts = append(exts, ext{oidCSPID, e.CSPID, "ia5"})
	}
	var out []pkix.Extension
	for _, x := range exts {
		b, err := asn1.MarshalWithParams(x.v, x.params)
		if err != nil {
			return nil, fmt.Errorf("extension %v: %v", x.id, err)
		}
		out = append(out, pkix.Extension{Id: x.id, Value: b})
	}
	if e.HWID != nil {
		out = append(out, pkix.Extension{Id: oidHWID, Value: append([]byte(nil), e.HWID...)})
	}
	return out, nil
}

func hasPrefix(id, prefix asn1.ObjectIdentifier) bool {
	return len(id) > len(prefix) && id[:len(prefix)].Equal(prefix)
}

// asn1Uint8 reads a DER INTEGER of 0 to 255 with nothing after it.
func asn1Uint8(b []byte) (uint8, error) {
	var n int64
	rest, err := asn1.Unmarshal(b, &n)
	if err != nil {
		return 0, fmt.Errorf("not an INTEGER: %v", err)
	}
	if len(rest) > 0 {
		return 0, fmt.Errorf("%d bytes after the INTEGER", len(rest))
	}
	if n < 0 || n > 255 {
		return 0, fmt.Errorf("INTEGER %d, want 0 to 255", n)
	}
	return uint8(n), nil
}

// asn1IA5 reads a DER IA5String with nothing after it.
func asn1IA5(b []byte) (string, error) {
	if len(b) == 0 || b[0] != asn1.TagIA5String {
		return "", errors.New("not an IA5String")
	}
	var s string
	rest, err := asn1.UnmarshalWithParams(b, &s, "ia5")
	if err != nil {
		return "", fmt.Errorf("not an IA5String: %v", err)
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%d bytes after the IA5String", len(rest))
	}
	return s, nil
}

// parseHWID reads the hwID extension. The KDS writes the raw bytes without
// an ASN.1 tag (go-sev-guest kds.go documents the quirk); an OCTET STRING
// holding them is read too, in case AMD adds the tag.
func parseHWID(b []byte) ([]byte, error) {
	if len(b) == milanHWIDSize || len(b) == turinHWIDSize {
		return append([]byte(nil), b...), nil
	}
	var octets []byte
	rest, err := asn1.Unmarshal(b, &octets)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes, want %d or %d raw bytes or an OCTET STRING of them", len(b), turinHWIDSize, milanHWIDSize)
	}
	if len(octets) != milanHWIDSize && len(octets) != turinHWIDSize {
		return nil, fmt.Errorf("OCTET STRING of %d bytes, want %d or %d", len(octets), turinHWIDSize, milanHWIDSize)
	}
	return octets, nil
}

// hwidMatchesChipID reports whether a VCEK's HWID names the chip whose
// CHIP_ID a report carries: the HWID, then zeros to CHIP_ID's 64 bytes.
func hwidMatchesChipID(hwid, chipID []byte) bool {
	if len(hwid) == 0 || len(hwid) > len(chipID) {
		return false
	}
	return bytes.Equal(chipID[:len(hwid)], hwid) && allZero(chipID[len(hwid):])
}

// verifySNPReport checks a report's signature (report: its 1184 bytes)
// with the VCEK or VLEK certificate signerDER (key: signerVCEK or
// signerVLEK), and that certificate's chain to the ARK through ica, the
// ASK for a VCEK or the ASVK for a VLEK, of product line line, with every
// certificate valid at now. It does not compare the certificate's TCB or
// HWID with the report (checkEndorsement does).
func verifySNPReport(report, signerDER []byte, key, line string, ark, ica *x509.Certificate, now time.Time) error {
	leaf, err := x509.ParseCertificate(signerDER)
	if err != nil {
		return fmt.Errorf("%s certificate: %v", key, err)
	}
	if err := verifyAMDChain(leaf, key, line, ark, ica, now); err != nil {
		return err
	}
	return verifySNPReportSignature(report, leaf, key)
}

// verifyAMDChain checks leaf, a VCEK or VLEK certificate, against AMD's
// chain as the KDS issues it (AMD KDS specification 57230, "Certificate
// Chain"; SEV API specification 55766, Appendix B.3): the ARK self-signed;
// the ARK signing the ASK (ASVK) and that signing leaf, each with
// RSASSA-PSS and SHA-384, issuer names chaining; the ARK and ASK (ASVK)
// certificate authorities for certificates; leaf an end entity with a
// P-384 key named SEV-VCEK (SEV-VLEK) and issued by SEV-{line}
// (SEV-VLEK-{line}); each valid at now, none with a critical extension
// crypto/x509 does not handle.
func verifyAMDChain(leaf *x509.Certificate, key, line string, ark, ica *x509.Certificate, now time.Time) error {
	icaName := "ASK"
	wantIssuer := "SEV-" + line
	if key == signerVLEK {
		icaName, wantIssuer = "ASVK", "SEV-VLEK-"+line
	}
	switch {
	case ark == nil:
		return errors.New("no ARK to verify the chain to")
	case ica == nil:
		return fmt.Errorf("no %s to verify the %s certificate with", icaName, key)
	}
	links := []struct {
		role   string
		cert   *x509.Certificate
		issuer *x509.Certificate
		ca     bool
	}{
		{"ARK", ark, ark, true},
		{icaName, ica, ark, true},
		{key, leaf, ica, false},
	}
	for _, l := range links {
		c := l.cert
		if c.SignatureAlgorithm != x509.SHA384WithRSAPSS {
			return fmt.Errorf("the %s certificate (%q) is signed with %v, want SHA-384 with RSASSA-PSS", l.role, c.Subject.CommonName, c.SignatureAlgorithm)
		}
		if !bytes.Equal(c.RawIssuer, l.issuer.RawSubject) {
			return fmt.Errorf("the %s certificate is issued by %q, not by %q", l.role, c.Issuer.CommonName, l.issuer.Subject.CommonName)
		}
		if err := c.CheckSignatureFrom(l.issuer); err != nil {
			return fmt.Errorf("the %s certificate (%q) is not signed by %q: %v", l.role, c.Subject.CommonName, l.issuer.Subject.CommonName, err)
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("the %s certificate (%q) has expired or is not yet valid at %s: valid from %s to %s", l.role, c.Subject.CommonName,
				now.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
		var critical []string
		for _, id := range c.UnhandledCriticalExtensions {
			if !hasPrefix(id, oidAMDKDS) {
				critical = append(critical, id.String())
			}
		}
		if len(critical) > 0 {
			return fmt.Errorf("the %s certificate has critical extensions %v that are not understood", l.role, critical)
		}
		isCA := c.BasicConstraintsValid && c.IsCA && c.KeyUsage&x509.KeyUsageCertSign != 0
		if l.ca && !isCA {
			return fmt.Errorf("the %s certificate (%q) is not a certificate authority with the certificate-signing key usage", l.role, c.Subject.CommonName)
		}
		if !l.ca && c.IsCA {
			return fmt.Errorf("the %s certificate (%q) is a certificate authority, want an end entity", l.role, c.Subject.CommonName)
		}
	}
	if leaf.Subject.CommonName != "SEV-"+key {
		return fmt.Errorf("the %s certificate's subject is %q, want %q", key, leaf.Subject.CommonName, "SEV-"+key)
	}
	if leaf.Issuer.CommonName != wantIssuer {
		return fmt.Errorf("the %s certificate is issued by %q, want %q for product line %s", key, leaf.Issuer.CommonName, wantIssuer, line)
	}
	if _, err := p384Key(leaf, key); err != nil {
		return err
	}
	return nil
}

func p384Key(c *x509.Certificate, key string) (*ecdsa.PublicKey, error) {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("the %s certificate's key is %v, want ECDSA P-384", key, c.PublicKeyAlgorithm)
	}
	return pub, nil
}

// verifySNPReportSignature checks the report's SIGNATURE with the key of
// leaf: ECDSA P-384 over the SHA-384 of bytes 0h to 29Fh.
func verifySNPReportSignature(report []byte, leaf *x509.Certificate, key string) error {
	if len(report) < SNPReportSize {
		return fmt.Errorf("report is %d bytes, want %d", len(report), SNPReportSize)
	}
	if algo := binary.LittleEndian.Uint32(report[offSignatureAlgo:]); algo != sigAlgoECDSAP384SHA384 {
		return fmt.Errorf("SIGNATURE_ALGO at %#x is %d, want %d (ECDSA P-384 with SHA-384)", offSignatureAlgo, algo, sigAlgoECDSAP384SHA384)
	}
	pub, err := p384Key(leaf, key)
	if err != nil {
		return err
	}
	r, err := signatureScalar(report, offSignatureR, "R")
	if err != nil {
		return err
	}
	s, err := signatureScalar(report, offSignatureS, "S")
	if err != nil {
		return err
	}
	digest := sha512.Sum384(report[:snpSignedSize])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return fmt.Errorf("report signature verification failed: SIGNATURE does not verify with the %s key (ECDSA P-384, SHA-384 of bytes 0x0-%#x)", key, snpSignedSize-1)
	}
	return nil
}

// signatureScalar reads R or S: 72 bytes little endian at off, of which
// only the low 48 may be non-zero.
func signatureScalar(report []byte, off int, name string) (*big.Int, error) {
	le := report[off : off+signatureComponentSize]
	if !allZero(le[p384ScalarSize:]) {
		return nil, fmt.Errorf("SIGNATURE %s at %#x: bytes %d to %d are %s, want zeros", name, off, p384ScalarSize, signatureComponentSize-1, hex.EncodeToString(le[p384ScalarSize:]))
	}
	be := make([]byte, p384ScalarSize)
	for i := range be {
		be[i] = le[p384ScalarSize-1-i]
	}
	return new(big.Int).SetBytes(be), nil
}

// tcbVersion is the TCB the certificate was issued for as a TCB_VERSION in
// layout l, to compare with REPORTED_TCB. Reserved SPLs other than 0, and
// an FMC SPL in a layout without one (or none in Turin's), have no
// TCB_VERSION to compare.
func (e *kdsExtensions) tcbVersion(l tcbLayout) (uint64, error) {
	for i := range reservedSPLs {
		if v := e.Reserved[firstReservedSPL+i]; v != 0 {
			return 0, fmt.Errorf("reserved spl_%d is %d, want 0", firstReservedSPL+i, v)
		}
	}
	return e.TCB.tcbVersion(l)
}

// describeTCB names the certificate's TCB in errors, with any reserved SPL
// that is set.
func (e *kdsExtensions) describeTCB() string {
	s := e.TCB.String()
	for i := range reservedSPLs {
		if v := e.Reserved[firstReservedSPL+i]; v != 0 {
			s += fmt.Sprintf(",spl_%d=%d", firstReservedSPL+i, v)
		}
	}
	return s
}
