package verify

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
)

// CertsDir is a directory of certificates, CRLs and vendor collateral whose
// files are found by name (measure's --certs): a stem, then any of
// CertExts (or .json for Intel's collateral). It reads through FS, so this
// package opens no file itself.
//
// SEV-SNP: vcek, vlek, ask or asvk, ark, or cert_chain (also ask_ark: the
// ASK then the ARK, PEM, as the KDS serves them), and crl (the ARK's CRL).
// TDX: root (or Intel_SGX_Provisioning_Certification_RootCA); pck_cert
// (pckCert) and pck_sign_chain (pckSignChain) for a quote without its PCK
// chain; tcb_info and tcb_info_issuer_chain, qe_identity and
// qe_identity_issuer_chain, pck_crl and pck_crl_issuer_chain, root_crl.
type CertsDir struct {
	// FS holds the files, such as os.DirFS(dir).
	FS fs.FS
	// Name is how sources name the directory (its path); a file is named
	// Name joined with the file's name.
	Name string
}

// CertExts are the extensions a certificate or CRL file may have, in the
// order they are tried.
var CertExts = []string{".der", ".pem", ".crt", ".cer", ".cert"}

// MaxCertsDirFile bounds a file read from a CertsDir.
const MaxCertsDirFile = 4 << 20

// errFileTooLarge is the error of a file over MaxCertsDirFile, in an
// fs.PathError that names it.
var errFileTooLarge = fmt.Errorf("larger than %d bytes", MaxCertsDirFile)

// find reads the first existing file among stems, each with each of exts.
// It returns nil and "" when there is none.
func (d CertsDir) find(exts []string, stems ...string) ([]byte, string, error) {
	for _, stem := range stems {
		for _, ext := range exts {
			b, err := d.read(stem + ext)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			return b, d.source(stem + ext), nil
		}
	}
	return nil, "", nil
}

// read reads one file of at most MaxCertsDirFile bytes.
func (d CertsDir) read(name string) ([]byte, error) {
	f, err := d.FS.Open(name)
	if err != nil {
		return nil, d.pathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCertsDirFile+1))
	if err != nil {
		return nil, d.pathError(err)
	}
	if len(b) > MaxCertsDirFile {
		return nil, &fs.PathError{Op: "read", Path: d.source(name), Err: errFileTooLarge}
	}
	return b, nil
}

// pathError names the file of an fs.PathError as the directory's Name
// joined with it, so that the message says where the file is.
func (d CertsDir) pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && d.Name != "" && !filepath.IsAbs(pe.Path) {
		return &fs.PathError{Op: pe.Op, Path: d.source(pe.Path), Err: pe.Err}
	}
	return err
}

func (d CertsDir) source(name string) string {
	if d.Name == "" {
		return name
	}
	return filepath.Join(d.Name, name)
}

// SNPCerts reads an SEV-SNP report's certificates and CRL: vcek, vlek,
// ask (or asvk), ark and crl, and, when neither ask nor ark is there,
// cert_chain (or ask_ark) split into them. Sources names each file read.
// A file missing is not an error (the certificate may come from the
// report or the KDS); a file that cannot be read is, and a cert_chain
// that is not two PEM certificates wraps ErrHardwareSignature.
func (d CertsDir) SNPCerts() (SNPCerts, error) {
	var c SNPCerts
	for _, x := range []struct {
		out   *[]byte
		stems []string
	}{{&c.VCEK, []string{"vcek"}}, {&c.VLEK, []string{"vlek"}}, {&c.ASK, []string{"ask", "asvk"}}, {&c.ARK, []string{"ark"}}, {&c.CRL, []string{"crl"}}} {
		b, src, err := d.find(CertExts, x.stems...)
		if err != nil {
			return c, err
		}
		if b != nil {
			*x.out = b
			c.Sources = append(c.Sources, src)
		}
	}
	if c.ASK != nil || c.ARK != nil {
		return c, nil
	}
	chain, src, err := d.find(CertExts, "cert_chain", "ask_ark")
	if err != nil || chain == nil {
		return c, err
	}
	if c.ASK, c.ARK, err = SplitSNPCertChain(chain); err != nil {
		return c, fmt.Errorf("%q: %w", src, err)
	}
	c.Sources = append(c.Sources, src)
	return c, nil
}

// SplitSNPCertChain splits a KDS cert_chain (PEM: the ASK or ASVK, then
// the ARK) into its two certificates, DER. Anything else wraps
// ErrHardwareSignature: a chain that does not parse verifies nothing.
func SplitSNPCertChain(b []byte) (ask, ark []byte, err error) {
	var certs [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("%w: certificate chain: PEM block %q, want CERTIFICATE", ErrHardwareSignature, blk.Type)
		}
		certs = append(certs, blk.Bytes)
	}
	if len(certs) != 2 {
		return nil, nil, fmt.Errorf("%w: certificate chain: %d PEM certificates, want 2 (ASK then ARK)", ErrHardwareSignature, len(certs))
	}
	return certs[0], certs[1], nil
}

// TDXFiles are what a CertsDir holds for a TDX quote.
type TDXFiles struct {
	// Root is the trusted root certificate; nil for Intel's, built in.
	Root []byte
	// PCK is the PCK chain for a quote that does not carry it.
	PCK TDXPCKChain
	// Collateral is Intel's collateral; nil when the directory has none.
	// Its Sources name the files.
	Collateral *TDXCollateral
}

// tdxCollateralFiles are the collateral files of a CertsDir, by stem.
var tdxCollateralFiles = []struct {
	stem  string
	field func(*TDXCollateral) *[]byte
}{
	{"tcb_info", func(c *TDXCollateral) *[]byte { return &c.TCBInfo }},
	{"tcb_info_issuer_chain", func(c *TDXCollateral) *[]byte { return &c.TCBInfoIssuerChain }},
	{"qe_identity", func(c *TDXCollateral) *[]byte { return &c.QEIdentity }},
	{"qe_identity_issuer_chain", func(c *TDXCollateral) *[]byte { return &c.QEIdentityIssuerChain }},
	{"pck_crl", func(c *TDXCollateral) *[]byte { return &c.PCKCRL }},
	{"pck_crl_issuer_chain", func(c *TDXCollateral) *[]byte { return &c.PCKCRLIssuerChain }},
	{"root_crl", func(c *TDXCollateral) *[]byte { return &c.RootCRL }},
}

// collateralExts are the extensions of a collateral file: Intel's JSON,
// or a certificate chain or CRL.
var collateralExts = append([]string{".json"}, CertExts...)

// TDX reads a TDX quote's root, PCK chain and collateral. A file missing
// is not an error; a file that cannot be read is.
func (d CertsDir) TDX() (TDXFiles, error) {
	var t TDXFiles
	var err error
	if t.Root, _, err = d.find(CertExts, "root", "Intel_SGX_Provisioning_Certification_RootCA"); err != nil {
		return t, err
	}
	if t.PCK.PCK, _, err = d.find(CertExts, "pck_cert", "pckCert"); err != nil {
		return t, err
	}
	if t.PCK.Intermediate, _, err = d.find(CertExts, "pck_sign_chain", "pckSignChain"); err != nil {
		return t, err
	}
	var col TDXCollateral
	for _, x := range tdxCollateralFiles {
		b, src, err := d.find(collateralExts, x.stem)
		if err != nil {
			return t, err
		}
		if b != nil {
			*x.field(&col) = b
			col.Sources = append(col.Sources, src)
		}
	}
	if len(col.Sources) > 0 {
		t.Collateral = &col
	}
	return t, nil
}
