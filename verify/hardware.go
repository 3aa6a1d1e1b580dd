package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevverify "github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// Hardware is what the hardware-signature check established.
type Hardware struct {
	// Checked is false when no certificates were given: then nothing
	// vouches that the report came from genuine hardware.
	Checked bool `json:"checked"`
	// Signer names the key that signed: VCEK or VLEK (SEV-SNP), or the
	// attestation key certified by the PCK (TDX).
	Signer string `json:"signer,omitempty"`
	// ProductLine is the SEV-SNP product line (Milan, Genoa, Turin).
	ProductLine string `json:"product_line,omitempty"`
	// Root names the trusted root certificate: its subject and the SHA-256
	// of its DER.
	Root string `json:"root,omitempty"`
	// VendorRoot is true when the root is the AMD or Intel root that
	// go-sev-guest or go-tdx-guest carries, false for a root the caller
	// supplied that is not that one.
	VendorRoot bool `json:"vendor_root"`
	// RootSHA256 is the hex SHA-256 of the root certificate's DER.
	RootSHA256 string `json:"root_sha256,omitempty"`
	// Verified is true when the signature and its chain to Root verified;
	// Checked without Verified is a hardware signature that failed.
	Verified bool `json:"verified"`
	// CertifiedTCB is the TCB the VCEK or VLEK certificate vouches for (its
	// SPL extensions). It is set only when the certificate signed the
	// report and its TCB was compared with, and equals, the report's
	// REPORTED_TCB; nil when that comparison did not run.
	CertifiedTCB *TCB `json:"certified_tcb,omitempty"`
	// CRLs names each certificate revocation list the chain was checked
	// against (issuer, thisUpdate, nextUpdate); empty when revocation was
	// not checked, which Limits then says.
	CRLs []string `json:"crls,omitempty"`
	// TCBStatus is the platform's TCB status from the vendor's signed
	// collateral (TDX: Intel's TCB info, e.g. UpToDate, SWHardeningNeeded,
	// OutOfDate); empty when no collateral was evaluated.
	TCBStatus string `json:"tcb_status,omitempty"`
	// TCBAdvisories are the advisory IDs (INTEL-SA-...) the TCB status
	// carries.
	TCBAdvisories []string `json:"tcb_advisories,omitempty"`
	// QEStatus is the TDX quoting enclave's status from Intel's QE
	// identity, given on its own when there was no TCB info to converge it
	// into TCBStatus; the TCB status policy applies to it as well.
	QEStatus string `json:"qe_status,omitempty"`
	// TrustedRoot is true when the chain verified to a root the caller
	// trusts: the vendor's, or one named as trusted (verify.Assessment
	// sets it). Only then do Verified and CertifiedTCB vouch for anything.
	TrustedRoot bool `json:"trusted_root"`
	// Sources says where each certificate and piece of collateral came
	// from: "report", "quote", a file path, or a URL (with "cache" when it
	// was read from the local cache).
	Sources []string `json:"sources,omitempty"`
	// Limits says what was not checked.
	Limits []string `json:"limits,omitempty"`
}

// ErrNoCertificate: the certificate needed to check a signature is missing.
var ErrNoCertificate = errors.New("missing certificate")

// SNPCerts are the certificates for an SEV-SNP report, each DER or PEM.
type SNPCerts struct {
	// VCEK or VLEK is the key that signed the report (from AMD's KDS, or
	// the provider for a VLEK). When both are empty, the extended report's
	// certificate table supplies it.
	VCEK, VLEK []byte
	// ASK (ASVK for a VLEK) and ARK, when both are set, are the roots to
	// trust instead of AMD's published roots built into go-sev-guest.
	ASK, ARK []byte
	// CRL, when set, is AMD's CRL for the signing key's chain (DER or PEM,
	// as the KDS serves it at /vcek/v1/{product}/crl, or /vlek/v1/... for
	// a VLEK): it must be signed by the ARK, current at the verification
	// time, and list neither the ASK (ASVK) nor the VCEK (VLEK).
	CRL []byte
	// Sources says where each certificate came from, for Hardware.Sources.
	Sources []string
}

// VerifySNPSignature checks r's signature with the VCEK or VLEK and that
// certificate's chain to the trusted ARK, with certificates valid at now,
// then that the certificate vouches for what the report claims: its TCB
// equals REPORTED_TCB and, for a VCEK, its HWID equals CHIP_ID (unless the
// host masked CHIP_ID). With certs.CRL it checks revocation
// (checkSNPRevocation). It fetches nothing. Failures wrap
// ErrHardwareSignature.
func VerifySNPSignature(r *SNPReport, certs SNPCerts, now time.Time) (*Hardware, error) {
	chain := &spb.CertificateChain{}
	if r.certs != nil {
		chain.VcekCert, chain.VlekCert = r.certs.GetVcekCert(), r.certs.GetVlekCert()
	}
	for _, c := range []struct {
		in  []byte
		out *[]byte
	}{{certs.VCEK, &chain.VcekCert}, {certs.VLEK, &chain.VlekCert}} {
		if len(c.in) > 0 {
			der, err := derOf(c.in)
			if err != nil {
				return nil, err
			}
			*c.out = der
		}
	}
	info, err := sevabi.ParseSignerInfo(r.proto.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: SIGNER_INFO: %v", ErrMalformed, err)
	}
	h := &Hardware{Checked: true, Signer: info.SigningKey.String(),
		Limits: []string{limitNoCRL}, Sources: certs.Sources}
	var signer []byte
	switch info.SigningKey {
	case sevabi.VcekReportSigner:
		signer = chain.VcekCert
	case sevabi.VlekReportSigner:
		signer = chain.VlekCert
	default:
		return nil, fmt.Errorf("%w: report signed by %v, want VCEK or VLEK", ErrHardwareSignature, info.SigningKey)
	}
	if len(signer) == 0 {
		return nil, fmt.Errorf("%w: the report is signed by the %v and no %v certificate was given", ErrNoCertificate, info.SigningKey, info.SigningKey)
	}
	h.ProductLine = snpProductLine(r, signer, info.SigningKey)
	opts := &sevverify.Options{DisableCertFetching: true, Now: now}
	var roots *trust.ProductCerts // the ARK and AS(V)K the chain verifies to
	switch {
	case len(certs.ASK) > 0 && len(certs.ARK) > 0:
		ask, err := derOf(certs.ASK)
		if err != nil {
			return nil, err
		}
		ark, err := derOf(certs.ARK)
		if err != nil {
			return nil, err
		}
		arkCert, err := x509.ParseCertificate(ark)
		if err != nil {
			return nil, fmt.Errorf("%w: ARK: %v", ErrHardwareSignature, err)
		}
		askCert, err := x509.ParseCertificate(ask)
		if err != nil {
			return nil, fmt.Errorf("%w: ASK: %v", ErrHardwareSignature, err)
		}
		opts.TrustedRoots = map[string][]*trust.AMDRootCerts{}
		for _, line := range []string{"Milan", "Genoa", "Turin"} {
			root := trust.AMDRootCertsProduct(line)
			root.ProductCerts = &trust.ProductCerts{Ark: arkCert, Ask: askCert, Asvk: askCert}
			roots = root.ProductCerts
			opts.TrustedRoots[line] = []*trust.AMDRootCerts{root}
		}
		h.Root, h.RootSHA256 = describeRoot(arkCert), rootSHA256(arkCert)
		if def, err := trust.GetDefaultRootCerts(h.ProductLine); err == nil && def.ProductCerts != nil && def.ProductCerts.Ark != nil {
			h.VendorRoot = bytes.Equal(def.ProductCerts.Ark.Raw, ark)
		}
	case len(certs.ASK) > 0 || len(certs.ARK) > 0:
		return nil, fmt.Errorf("%w: an ASK without an ARK or the reverse: give both or neither", ErrNoCertificate)
	default:
		def, err := embeddedRoots(h.ProductLine)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrHardwareSignature, err)
		}
		opts.TrustedRoots = map[string][]*trust.AMDRootCerts{h.ProductLine: {def}}
		roots = def.ProductCerts
		h.Root, h.RootSHA256, h.VendorRoot = describeRoot(def.ProductCerts.Ark), rootSHA256(def.ProductCerts.Ark), true
	}
	var verr error
	if h.ProductLine == "Milan" || h.ProductLine == "Genoa" {
		verr = sevverify.SnpAttestation(&spb.Attestation{Report: r.proto, CertificateChain: chain}, opts)
	} else { // Turin: go-sev-guest v0.15.0 refuses its VCEKs (snpsig.go)
		ica := roots.Ask
		if info.SigningKey == sevabi.VlekReportSigner {
			ica = roots.Asvk
		}
		verr = verifySNPReport(r.raw, signer, info.SigningKey.String(), h.ProductLine, roots.Ark, ica, now)
	}
	if verr != nil {
		return nil, fmt.Errorf("%w: %v", ErrHardwareSignature, verr)
	}
	tcb, limits, err := checkEndorsement(r, signer, info.SigningKey)
	if err != nil {
		return nil, err
	}
	h.CertifiedTCB = tcb
	h.Limits = append(h.Limits, limits...)
	if len(certs.CRL) > 0 {
		crl, err := checkSNPRevocation(certs.CRL, roots, info.SigningKey, signer, now)
		if err != nil {
			return nil, err
		}
		h.CRLs = append(h.CRLs, crl)
		h.Limits = dropLimit(h.Limits, limitNoCRL)
	}
	h.Verified = true
	return h, nil
}

// checkEndorsement compares the VCEK or VLEK certificate that signed r
// with r. go-sev-guest's verify package checks the certificate's chain and
// the signature but not this (its validate package does, among checks of
// its own policy). AMD derives the VCEK from the chip's secrets and the
// TCB it is issued for, and the KDS names both in the certificate (AMD
// KDS specification 57230, "VCEK Certificate Extensions": the SPL
// extensions 1.3.6.1.4.1.3704.1.3.x, HWID 1.3.6.1.4.1.3704.1.4); a VLEK
// carries the TCB but no HWID. So the certificate's TCB must equal
// REPORTED_TCB, and a VCEK's HWID CHIP_ID, else the report claims a TCB or
// chip that its key does not vouch for. A host that masks the chip ID
// (SNP_CONFIG MASK_CHIP_ID) gets a CHIP_ID of zeros, which is not
// compared; the returned limits say so.
//
// The certificate's SPLs are put together in the report's TCB_VERSION
// layout (Turin's has FMC first; tcbLayout) and compared with all 64 bits
// of REPORTED_TCB; spl_4 to spl_7 are reserved and must be 0. A Turin HWID
// is 8 bytes, which CHIP_ID must carry followed by zeros.
func checkEndorsement(r *SNPReport, signer []byte, key sevabi.ReportSigner) (*TCB, []string, error) {
	cert, err := x509.ParseCertificate(signer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v certificate: %v", ErrHardwareSignature, key, err)
	}
	exts, err := parseKDSExtensions(cert.Extensions, key.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v certificate extensions: %v", ErrHardwareSignature, key, err)
	}
	layout := r.tcbLayout()
	want := r.proto.GetReportedTcb()
	if got, err := exts.tcbVersion(layout); err != nil || got != want {
		return nil, nil, fmt.Errorf("%w: REPORTED_TCB is %#016x (%s), but the %v certificate is for TCB %s",
			ErrHardwareSignature, want, decodeTCB(want, layout), key, exts.describeTCB())
	}
	certified := exts.TCB
	var limits []string
	if key == sevabi.VcekReportSigner {
		chip := r.proto.GetChipId()
		switch {
		case allZero(chip):
			limits = append(limits, "CHIP_ID masked by the host (all zeros): the VCEK's HWID not compared with it")
		case !hwidMatchesChipID(exts.HWID, chip):
			return nil, nil, fmt.Errorf("%w: CHIP_ID is %s, but the VCEK certificate is for HWID %s",
				ErrHardwareSignature, hex.EncodeToString(chip), hex.EncodeToString(exts.HWID))
		}
	}
	return &certified, limits, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// snpProductLine is the product line from the report (version 3 and later
// carry the CPUID family, model and stepping), else from the VCEK.
func snpProductLine(r *SNPReport, signer []byte, key sevabi.ReportSigner) string {
	if fms := r.proto.GetCpuid1EaxFms(); fms != 0 {
		return kds.ProductLineFromFms(fms)
	}
	cert, err := x509.ParseCertificate(signer)
	if err != nil {
		return "Unknown"
	}
	exts, err := parseKDSExtensions(cert.Extensions, key.String())
	if err != nil {
		return "Unknown"
	}
	return kds.ProductLineOfProductName(exts.ProductName)
}

// intelRootPEM is the Intel SGX Root CA certificate, as go-tdx-guest
// v0.3.1 carries it (verify/trusted_root.pem).
//
//go:embed intel-sgx-root-ca.pem
var intelRootPEM []byte

// VerifyTDXSignature checks q's signature with its attestation key, the QE
// report's signature with the PCK certificate the quote carries, and the
// PCK chain to the trusted root: root (DER or PEM) when given, else the
// Intel SGX root CA built into go-tdx-guest; certificates must be valid at
// now. It fetches nothing: the TCB status (TCB info, QE identity) and
// revocation are not checked. Failures wrap ErrHardwareSignature.
func VerifyTDXSignature(q *TDXQuote, root []byte, now time.Time) (*Hardware, error) {
	if !q.parsed.goTDXGuestReads() { // version 5, or no PCK chain in the quote
		return VerifyTDXSignatureWith(q, TDXVerifyOptions{Root: root, Now: now})
	}
	opts := &tdxverify.Options{Now: now}
	h := &Hardware{Checked: true, Signer: "attestation key certified by the PCK",
		Limits: []string{"TCB status collateral (TCB info, QE identity) not checked", "certificate revocation (CRL) not checked"}}
	if len(root) == 0 {
		root = intelRootPEM
	}
	der, err := derOf(root)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: TDX root certificate: %v", ErrHardwareSignature, err)
	}
	// Always passed explicitly: go-tdx-guest logs a warning on standard
	// output when it falls back to its own copy.
	opts.TrustedRoots = x509.NewCertPool()
	opts.TrustedRoots.AddCert(cert)
	h.Root, h.RootSHA256 = describeRoot(cert), rootSHA256(cert)
	if blk, _ := pem.Decode(intelRootPEM); blk != nil {
		h.VendorRoot = bytes.Equal(blk.Bytes, der)
	}
	var verr error
	if err := recoverPanic("go-tdx-guest", func() error {
		verr = tdxverify.TdxQuote(q.proto, opts)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%w: TDX quote: %v", ErrMalformed, err)
	}
	if verr != nil {
		return nil, fmt.Errorf("%w: %v", ErrHardwareSignature, verr)
	}
	h.Verified = true
	return h, nil
}

// derOf returns the DER of a certificate given as DER or PEM. A
// certificate that does not parse is a certificate that verifies nothing:
// the error wraps ErrHardwareSignature (a KDS or proxy that returns a login
// page instead of a VCEK is a failed hardware check, not bad evidence).
func derOf(b []byte) ([]byte, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrHardwareSignature, blk.Type)
		}
		return blk.Bytes, nil
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, fmt.Errorf("%w: certificate is neither PEM nor DER: %v", ErrHardwareSignature, err)
	}
	return b, nil
}

// rootSHA256 is the hex SHA-256 of c's DER.
func rootSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func describeRoot(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("%s (sha256 %s)", c.Subject.CommonName, hex.EncodeToString(sum[:]))
}

// RootFingerprint returns the hex SHA-256 of a root certificate given as
// DER or PEM, as Hardware.RootSHA256 names it.
func RootFingerprint(b []byte) (string, error) {
	der, err := derOf(b)
	if err != nil {
		return "", err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("root certificate: %v", err)
	}
	return rootSHA256(c), nil
}

// vlekBundles are AMD's VLEK certificate chains (ASVK, ARK) that go-sev-guest
// v0.15.0 embeds but leaves out of its default roots.
var vlekBundles = map[string][]byte{
	"Milan": trust.AskArkMilanVlekBytes,
	"Genoa": trust.AskArkGenoaVlekBytes,
	"Turin": trust.AskArkTurinVlekBytes,
}

// embeddedRoots returns AMD's roots for a product line as go-sev-guest
// embeds them: the ARK, the ASK that certifies VCEKs and the ASVK that
// certifies VLEKs (so that a VLEK-signed report, as EC2 gives, verifies
// without the caller fetching the ASVK). The VLEK bundle's ARK must be the
// same certificate as the VCEK bundle's.
func embeddedRoots(line string) (*trust.AMDRootCerts, error) {
	def, err := trust.GetDefaultRootCerts(line)
	if err != nil || def.ProductCerts == nil || def.ProductCerts.Ark == nil {
		return nil, fmt.Errorf("no built-in AMD root for product line %q: %v", line, err)
	}
	pc := &trust.ProductCerts{Ark: def.ProductCerts.Ark, Ask: def.ProductCerts.Ask}
	if b, ok := vlekBundles[line]; ok {
		var v trust.ProductCerts
		// Turin's file ends in blank lines, which the KDS parser refuses.
		if err := v.FromKDSCertBytes(bytes.TrimSpace(b)); err != nil {
			return nil, fmt.Errorf("built-in VLEK chain of %s: %v", line, err)
		}
		if v.Asvk == nil || v.Ark == nil || !bytes.Equal(v.Ark.Raw, pc.Ark.Raw) {
			return nil, fmt.Errorf("built-in VLEK chain of %s: no ASVK, or another ARK", line)
		}
		pc.Asvk = v.Asvk
	}
	return &trust.AMDRootCerts{ProductLine: line, ProductCerts: pc}, nil
}
