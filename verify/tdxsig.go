package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Our own verification of a TDX quote's signature, versions 4 and 5,
// standard library only (crypto/ecdsa, crypto/x509), after Intel's Quote
// Verification Library (QuoteVerifier.cpp, steps 4.1.2.4.x) and the quote
// format's "ECDSA 256-bit Quote Signature Data Structure": the attestation
// key signs the header and body; the QE report binds that key (its
// REPORTDATA is SHA-256(attestation key || QE authentication data)); the
// PCK signs the QE report; the PCK chains to Intel's root. go-tdx-guest
// v0.3.1 verifies version 4 quotes that carry their PCK chain; this takes
// version 5 and chains given apart from the quote.

// TDXPCKChain is a PCK certificate chain given apart from the quote, as
// Intel's QVL sample app takes it (-pckCert, -pckSignChain): for a quote
// whose certification data names the PCK only by its PPID, or to use
// another chain than the quote's.
type TDXPCKChain struct {
	// PCK is the PCK leaf certificate, PEM or DER.
	PCK []byte
	// Intermediate is the PCK's issuer, Intel SGX PCK Platform CA or
	// Processor CA, PEM or DER; in PEM it may be followed by the root
	// (pckSignChain.pem), which must then be the trusted root.
	Intermediate []byte
}

func (c TDXPCKChain) empty() bool { return len(c.PCK) == 0 && len(c.Intermediate) == 0 }

// TDXPlatform is what a verified PCK certificate says of the platform
// (Intel "SGX PCK Certificate and CRL Profile", SGX extensions OID
// 1.2.840.113741.1.13.1): what Intel's TCB info is looked up by (FMSPC,
// and the CA that issued the PCK for the PCK CRL) and compared with.
type TDXPlatform struct {
	// PCK, Intermediate and Root are the verified chain.
	PCK, Intermediate, Root *x509.Certificate
	// CA is "platform" or "processor": the PCK CA that issued the PCK, as
	// PCS names it in /sgx/certification/v4/pckcrl?ca=.
	CA string
	// FMSPC (6 bytes) and PCEID (2 bytes) select the TCB info.
	FMSPC, PCEID []byte
	// SGXTCBComponents are the SGX TCB component SVNs 1 to 16
	// (1.2.840.113741.1.13.1.2.1-16) and PCESVN the PCE's SVN (.2.17).
	SGXTCBComponents [16]byte
	PCESVN           uint16
	// FromQuote is true when the chain came from the quote's certification
	// data, false when the caller gave it.
	FromQuote bool
}

// intelQEVendorID is the QE_VENDOR_ID of Intel's QE (QuoteConstants.h
// INTEL_QE_VENDOR_ID).
var intelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Subject common names of Intel's PCK chain (X509Constants.h).
const (
	cnPCK          = "Intel SGX PCK Certificate"
	cnPlatformCA   = "Intel SGX PCK Platform CA"
	cnProcessorCA  = "Intel SGX PCK Processor CA"
	cnTCBSigning   = "Intel SGX TCB Signing"
	maxChainPEMLen = 64 << 10
)

// VerifyTDXQuote verifies q (version 4 or 5) with our own code: the PCK
// chain (from pck when given, else from the quote) to root at now, the QE
// report's signature by the PCK, the QE report's binding of the
// attestation key, and the attestation key's signature over the header and
// body. It returns what the PCK certifies of the platform. Failures wrap
// ErrHardwareSignature; a quote without a PCK chain and no pck given is
// ErrNoCertificate.
func VerifyTDXQuote(q *TDXQuote, pck TDXPCKChain, root *x509.Certificate, now time.Time) (*TDXPlatform, error) {
	p := q.parsed
	if root == nil {
		return nil, fmt.Errorf("%w: no trusted root certificate for the PCK chain", ErrNoCertificate)
	}
	if p.Header.QEVendorID != intelQEVendorID {
		return nil, fmt.Errorf("%w: TDX quote: QE_VENDOR_ID %x, want Intel's %x", ErrHardwareSignature, p.Header.QEVendorID, intelQEVendorID)
	}
	if p.QE == nil {
		return nil, fmt.Errorf("%w: TDX quote: certification data type %d (%s) carries no QE report: nothing binds the attestation key to a PCK", ErrHardwareSignature, p.Cert.Type, certTypeNames[p.Cert.Type])
	}
	plat, err := tdxPCKChainOf(p, pck, root, now)
	if err != nil {
		return nil, err
	}

	// 4.1.2.4.12: the PCK signed the QE report.
	qe := p.QE
	pckKey, ok := plat.PCK.PublicKey.(*ecdsa.PublicKey)
	if !ok || pckKey.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the PCK certificate's key is %T, want ECDSA P-256", ErrHardwareSignature, plat.PCK.PublicKey)
	}
	report := q.raw[qe.ReportOff : qe.ReportOff+qeReportSize]
	if !tdxVerifyP256(pckKey, report, qe.Signature[:]) {
		return nil, fmt.Errorf("%w: TDX quote: the QE report at %#x is not signed by the PCK certificate (serial %#x)", ErrHardwareSignature, qe.ReportOff, plat.PCK.SerialNumber)
	}

	// 4.1.2.4.13: the QE report's REPORTDATA binds the attestation key:
	// SHA-256(attestation key || QE authentication data), then 32 zero
	// bytes (quote format, "QE Report Certification Data").
	h := sha256.New()
	h.Write(p.AttestKey[:])
	h.Write(qe.AuthData)
	want := append(h.Sum(nil), make([]byte, 32)...)
	if got := qe.Report.REPORTDATA[:]; !bytes.Equal(got, want) {
		return nil, fmt.Errorf("%w: TDX quote: QE report REPORTDATA is %x, want SHA-256(attestation key || QE authentication data) || zeros = %x", ErrHardwareSignature, got, want)
	}

	// 4.1.2.4.16: the attestation key signed the header, the body
	// descriptor (version 5) and the body.
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, p.AttestKey[:]...))
	if err != nil {
		return nil, fmt.Errorf("%w: TDX quote: attestation key is not a P-256 point: %v", ErrHardwareSignature, err)
	}
	if !tdxVerifyP256(ak, q.raw[:p.SignedLen], p.Signature[:]) {
		return nil, fmt.Errorf("%w: TDX quote: the signature over the header and body (%d bytes) does not verify with the attestation key", ErrHardwareSignature, p.SignedLen)
	}
	return plat, nil
}

// tdxVerifyP256 checks sig, r||s of 32 bytes each, over SHA-256(msg).
func tdxVerifyP256(key *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	d := sha256.Sum256(msg)
	return ecdsa.Verify(key, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// tdxPCKChainOf returns the verified PCK chain and what the PCK certifies:
// the chain given, else the quote's (certification data type 5: leaf,
// intermediate, root, in PEM).
func tdxPCKChainOf(p *parsedQuote, given TDXPCKChain, root *x509.Certificate, now time.Time) (*TDXPlatform, error) {
	var certs []*x509.Certificate
	fromQuote := given.empty()
	switch c := p.pckCert(); {
	case !fromQuote:
		if len(given.PCK) == 0 || len(given.Intermediate) == 0 {
			return nil, fmt.Errorf("%w: a PCK chain needs both the PCK certificate and its issuer chain", ErrNoCertificate)
		}
		leaf, err := tdxCerts("the PCK certificate", given.PCK)
		if err != nil {
			return nil, err
		}
		if len(leaf) != 1 {
			return nil, fmt.Errorf("%w: the PCK certificate is %d certificates, want 1", ErrHardwareSignature, len(leaf))
		}
		rest, err := tdxCerts("the PCK issuer chain", given.Intermediate)
		if err != nil {
			return nil, err
		}
		certs = append(leaf, rest...)
	case c.Type == certTypePCKChain:
		var err error
		if certs, err = tdxCerts("the quote's PCK certificate chain", c.Data); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: the quote names its PCK by certification data type %d (%s), not a chain: give the PCK certificate and its issuer chain", ErrNoCertificate, c.Type, certTypeNames[c.Type])
	}
	leaf, inter, err := tdxSplitChain(certs, root)
	if err != nil {
		return nil, err
	}
	if cn := leaf.Subject.CommonName; cn != cnPCK {
		return nil, fmt.Errorf("%w: PCK certificate subject %q, want %q", ErrHardwareSignature, cn, cnPCK)
	}
	ca := map[string]string{cnPlatformCA: "platform", cnProcessorCA: "processor"}[inter.Subject.CommonName]
	if ca == "" {
		return nil, fmt.Errorf("%w: PCK CA subject %q, want %q or %q", ErrHardwareSignature, inter.Subject.CommonName, cnPlatformCA, cnProcessorCA)
	}
	if err := tdxVerifyChain(leaf, inter, root, now); err != nil {
		return nil, fmt.Errorf("%w: PCK certificate (serial %#x): %v", ErrHardwareSignature, leaf.SerialNumber, err)
	}
	plat, err := tdxPCKExtensions(leaf)
	if err != nil {
		return nil, err
	}
	plat.PCK, plat.Intermediate, plat.Root, plat.CA, plat.FromQuote = leaf, inter, root, ca, fromQuote
	return plat, nil
}

// tdxSplitChain returns the PCK leaf (the first certificate) and its CA
// from a chain of two or three: the CA and, in either order (Intel's QVL
// sample pckSignChain.pem puts the root first), the root, which must be
// the trusted root.
func tdxSplitChain(certs []*x509.Certificate, root *x509.Certificate) (leaf, inter *x509.Certificate, err error) {
	if len(certs) < 2 || len(certs) > 3 {
		return nil, nil, fmt.Errorf("%w: PCK chain of %d certificates, want the PCK, its CA and optionally the root", ErrHardwareSignature, len(certs))
	}
	for _, c := range certs[1:] {
		switch {
		case c.Equal(root):
		case bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil:
			return nil, nil, fmt.Errorf("%w: the PCK chain holds the root %s, not the trusted root %s", ErrHardwareSignature, describeRoot(c), describeRoot(root))
		case inter != nil:
			return nil, nil, fmt.Errorf("%w: the PCK chain holds two CAs, %q and %q", ErrHardwareSignature, inter.Subject.CommonName, c.Subject.CommonName)
		default:
			inter = c
		}
	}
	if inter == nil {
		return nil, nil, fmt.Errorf("%w: the PCK chain holds no PCK CA", ErrHardwareSignature)
	}
	return certs[0], inter, nil
}

// tdxVerifyChain checks that leaf chains through inter to root, each valid
// at now and ECDSA P-256 with SHA-256, as Intel's chains are.
func tdxVerifyChain(leaf, inter, root *x509.Certificate, now time.Time) error {
	for _, c := range []*x509.Certificate{leaf, inter, root} {
		k, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			return fmt.Errorf("certificate %q is not ECDSA P-256 with SHA-256", c.Subject.CommonName)
		}
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if len(ch) == 3 && ch[1].Equal(inter) {
			return nil
		}
	}
	return fmt.Errorf("it does not chain through %q", inter.Subject.CommonName)
}

// tdxCerts parses certificates given as one DER or a run of PEM blocks
// (what follows the last block may only be whitespace or NULs, which a
// quote's chain may end in).
func tdxCerts(what string, b []byte) ([]*x509.Certificate, error) {
	if len(b) > maxChainPEMLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrHardwareSignature, what, len(b), maxChainPEMLen)
	}
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	rest := b
	for {
		blk, r := pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: %s: PEM block %q, want CERTIFICATE", ErrHardwareSignature, what, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: certificate %d: %v", ErrHardwareSignature, what, len(out), err)
		}
		out = append(out, c)
		rest = r
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s holds no certificate (neither DER nor PEM)", ErrHardwareSignature, what)
	}
	if t := bytes.Trim(rest, " \t\r\n\x00"); len(t) > 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes after the last certificate", ErrHardwareSignature, what, len(t))
	}
	return out, nil
}

// OIDs of the SGX extensions of a PCK certificate (Intel "SGX PCK
// Certificate and CRL Profile", section "SGX Extensions").
var (
	oidSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidSGXTCB        = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidSGXPCEID      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidSGXFMSPC      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
)

// sgxExtension is one entry of the SGX extensions' SEQUENCE: an OID and
// its value.
type sgxExtension struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// tdxPCKExtensions reads FMSPC, PCEID, the 16 SGX TCB component SVNs and
// PCESVN from a PCK certificate.
func tdxPCKExtensions(c *x509.Certificate) (*TDXPlatform, error) {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSGXExtensions) {
			raw = e.Value
		}
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: PCK certificate SGX extensions: %s", ErrHardwareSignature, fmt.Sprintf(format, a...))
	}
	if raw == nil {
		return nil, bad("missing (OID %v)", oidSGXExtensions)
	}
	var exts []sgxExtension
	if rest, err := asn1.Unmarshal(raw, &exts); err != nil || len(rest) > 0 {
		return nil, bad("not a SEQUENCE of (OID, value): %v", err)
	}
	p := &TDXPlatform{}
	var haveTCB bool
	for _, e := range exts {
		switch {
		case e.ID.Equal(oidSGXFMSPC):
			if err := sgxOctets(e.Value, 6, &p.FMSPC); err != nil {
				return nil, bad("FMSPC: %v", err)
			}
		case e.ID.Equal(oidSGXPCEID):
			if err := sgxOctets(e.Value, 2, &p.PCEID); err != nil {
				return nil, bad("PCEID: %v", err)
			}
		case e.ID.Equal(oidSGXTCB):
			var tcb []sgxExtension
			if rest, err := asn1.Unmarshal(e.Value.FullBytes, &tcb); err != nil || len(rest) > 0 {
				return nil, bad("TCB is not a SEQUENCE of (OID, value): %v", err)
			}
			seen := 0
			for _, t := range tcb {
				if len(t.ID) != len(oidSGXTCB)+1 || !t.ID[:len(oidSGXTCB)].Equal(oidSGXTCB) {
					continue
				}
				switch i := t.ID[len(oidSGXTCB)]; {
				case i >= 1 && i <= 16:
					v, err := sgxInt(t.Value, 255)
					if err != nil {
						return nil, bad("TCB component %d: %v", i, err)
					}
					p.SGXTCBComponents[i-1] = byte(v)
					seen |= 1 << i
				case i == 17:
					v, err := sgxInt(t.Value, 65535)
					if err != nil {
						return nil, bad("PCESVN: %v", err)
					}
					p.PCESVN = uint16(v)
					seen |= 1 << i
				}
			}
			if want := (1<<18 - 1) &^ 1; seen != want {
				return nil, bad("TCB lacks some of components 1 to 16 and PCESVN")
			}
			haveTCB = true
		}
	}
	switch {
	case len(p.FMSPC) == 0:
		return nil, bad("no FMSPC")
	case len(p.PCEID) == 0:
		return nil, bad("no PCEID")
	case !haveTCB:
		return nil, bad("no TCB")
	}
	return p, nil
}

func sgxOctets(v asn1.RawValue, n int, out *[]byte) error {
	var b []byte
	if rest, err := asn1.Unmarshal(v.FullBytes, &b); err != nil || len(rest) > 0 {
		return fmt.Errorf("not an OCTET STRING: %v", err)
	}
	if len(b) != n {
		return fmt.Errorf("%d bytes, want %d", len(b), n)
	}
	*out = b
	return nil
}

func sgxInt(v asn1.RawValue, max int) (int, error) {
	var i int
	if rest, err := asn1.Unmarshal(v.FullBytes, &i); err != nil || len(rest) > 0 {
		return 0, fmt.Errorf("not an INTEGER: %v", err)
	}
	if i < 0 || i > max {
		return 0, fmt.Errorf("%d, want 0 to %d", i, max)
	}
	return i, nil
}

// TDXVerifyOptions are the inputs of VerifyTDXSignatureWith beyond the
// quote.
type TDXVerifyOptions struct {
	// Root is the trusted root, DER or PEM; empty means the Intel SGX Root
	// CA built in (intel-sgx-root-ca.pem).
	Root []byte
	// Now is the time at which certificates, CRLs and collateral must be
	// valid.
	Now time.Time
	// PCK, when set, is the PCK chain to use instead of the quote's: for a
	// quote that carries only its PPID, it is required.
	PCK TDXPCKChain
	// Collateral, when set, is evaluated by EvaluateTDXTCB: revocation, QE
	// identity and TCB status.
	Collateral *TDXCollateral
}

// limitNoTCBCollateral is the limit a TDX verdict carries when no TCB info
// or QE identity was evaluated.
const limitNoTCBCollateral = "TCB status collateral (TCB info, QE identity) not checked"

// VerifyTDXSignatureWith checks q's hardware signature and, with
// opts.Collateral, the platform's revocation and TCB status. A version 4
// quote carrying its PCK chain, with no chain in opts.PCK, is verified by
// go-tdx-guest (VerifyTDXSignature); every other quote (version 5, or a
// chain from opts.PCK) by VerifyTDXQuote. Collateral is evaluated by
// EvaluateTDXTCB, our own code, for every quote: go-tdx-guest v0.3.1
// compares the TCB info's FMSPC with the PCK's as case-sensitive hex and so
// refuses PCS's current TCB info, which spells it in upper case (fixed
// after v0.3.1, google/go-tdx-guest#62), and exposes no status. A TCB status of Revoked, like
// any failed check, is an error wrapping ErrHardwareSignature; other
// statuses are returned in Hardware.TCBStatus for policy to judge.
func VerifyTDXSignatureWith(q *TDXQuote, opts TDXVerifyOptions) (*Hardware, error) {
	root, vendor, err := tdxRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	own := !opts.PCK.empty() || !q.parsed.goTDXGuestReads()
	var h *Hardware
	if own {
		h = &Hardware{Checked: true, Signer: "attestation key certified by the PCK",
			Root: describeRoot(root), RootSHA256: rootSHA256(root), VendorRoot: vendor,
			Limits: []string{limitNoTCBCollateral, limitNoCRL}}
	} else if h, err = VerifyTDXSignature(q, opts.Root, opts.Now); err != nil || opts.Collateral == nil {
		return h, err
	}
	// The platform the PCK certifies, which the collateral is matched
	// against (and, on our path, the signature check itself).
	plat, err := VerifyTDXQuote(q, opts.PCK, root, opts.Now)
	if err != nil {
		return nil, err
	}
	if plat.FromQuote {
		h.Sources = append(h.Sources, "PCK chain: quote")
	}
	h.Verified = true
	if opts.Collateral == nil {
		return h, nil
	}
	t, err := EvaluateTDXTCB(q, plat, *opts.Collateral, opts.Now)
	if err != nil {
		return nil, err
	}
	status, advisories, crls, limits := t.Status, t.AdvisoryIDs, t.CRLs, t.Limits
	h.Sources = append(h.Sources, opts.Collateral.Sources...)
	h.CRLs, h.TCBStatus, h.TCBAdvisories = crls, status, advisories
	if len(crls) > 0 {
		h.Limits = dropLimit(h.Limits, limitNoCRL)
	}
	if status != "" {
		h.Limits = dropLimit(h.Limits, limitNoTCBCollateral)
	}
	h.Limits = append(h.Limits, limits...)
	if status == TCBRevoked {
		return nil, fmt.Errorf("%w: Intel's TCB info gives the platform's TCB the status %s", ErrHardwareSignature, status)
	}
	// Without TCB info the QE's own status stands alone: a revoked QE
	// fails, another status is the policy's to judge.
	if status == "" && t.QEStatus != "" {
		h.QEStatus = t.QEStatus
		if t.QEStatus == TCBRevoked {
			return nil, fmt.Errorf("%w: Intel's QE identity gives the quoting enclave the status %s", ErrHardwareSignature, t.QEStatus)
		}
	}
	return h, nil
}

// tdxRoot parses the trusted root, DER or PEM, or returns the built-in
// Intel SGX Root CA; vendor is true when it is that root.
func tdxRoot(b []byte) (root *x509.Certificate, vendor bool, err error) {
	if len(b) == 0 {
		b = intelRootPEM
	}
	der, err := derOf(b)
	if err != nil {
		return nil, false, err
	}
	root, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fmt.Errorf("TDX root certificate: %v", err)
	}
	if blk, _ := pem.Decode(intelRootPEM); blk != nil {
		vendor = bytes.Equal(blk.Bytes, der)
	}
	return root, vendor, nil
}
