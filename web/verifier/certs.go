package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// Roles are the certificate and collateral files a measure --certs
// directory holds, by name stem (verify.CertsDir reads them): SEV-SNP
// first, then TDX.
var Roles = []string{
	"vcek", "vlek", "ask", "asvk", "ark", "cert_chain", "crl",
	"root", "pck_cert", "pck_sign_chain", "tcb_info", "tcb_info_issuer_chain",
	"qe_identity", "qe_identity_issuer_chain", "pck_crl", "pck_crl_issuer_chain", "root_crl",
}

// roleNames are the spellings of each role that GuessRole looks for in a
// file's name, with "_" and "-" removed, longest first so that
// "pckcrlissuerchain" is not taken for "crl".
var roleNames = []struct{ spelling, role string }{
	{"qeidentityissuerchain", "qe_identity_issuer_chain"},
	{"tcbinfoissuerchain", "tcb_info_issuer_chain"},
	{"pckcrlissuerchain", "pck_crl_issuer_chain"},
	{"pcksignchain", "pck_sign_chain"},
	{"qeidentity", "qe_identity"},
	{"certchain", "cert_chain"},
	{"tcbinfo", "tcb_info"},
	{"pckcert", "pck_cert"},
	{"rootcrl", "root_crl"},
	{"pckcrl", "pck_crl"},
	{"askark", "cert_chain"},
	{"vcek", "vcek"},
	{"vlek", "vlek"},
	{"asvk", "asvk"},
	{"ask", "ask"},
	{"ark", "ark"},
	{"crl", "crl"},
	{"root", "root"},
}

// GuessRole says which --certs file a file is: by the certificate's
// subject when it is an AMD or Intel certificate whose subject says (AMD
// KDS specification: CN SEV-VCEK, SEV-VLEK, SEV-VLEK-<line> for the ASVK,
// SEV-<line> for the ASK, ARK-<line>; Intel: the PCK certificate, the SGX
// root CA), else by its name (the stems of Roles, in any case, with or
// without "_" and "-"). It returns "" when it cannot tell.
func GuessRole(name string, data []byte) string {
	if r := roleOfCert(data); r != "" {
		return r
	}
	n := strings.ToLower(name)
	n = strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.TrimSuffix(n, path.Ext(n)))
	for _, r := range roleNames {
		if strings.Contains(n, r.spelling) {
			return r.role
		}
	}
	return ""
}

// roleOfCert tells a certificate (DER or PEM) by its subject.
func roleOfCert(data []byte) string {
	var ders [][]byte
	rest := data
	for len(ders) < 3 {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			ders = append(ders, blk.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{data}
	}
	c, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return ""
	}
	role := roleOfSubject(c.Subject.CommonName)
	if len(ders) == 1 {
		return role
	}
	// A PEM file of several: the signing key's certificate with its chain
	// (read as its first), or the KDS's cert_chain, ASK then ARK.
	switch role {
	case "vcek", "vlek":
		return role
	case "ask", "asvk":
		return "cert_chain"
	}
	return ""
}

func roleOfSubject(cn string) string {
	switch {
	case cn == "SEV-VCEK":
		return "vcek"
	case cn == "SEV-VLEK":
		return "vlek"
	case strings.HasPrefix(cn, "SEV-VLEK-"):
		return "asvk"
	case strings.HasPrefix(cn, "ARK-"):
		return "ark"
	case strings.HasPrefix(cn, "SEV-"):
		return "ask"
	case cn == "Intel SGX PCK Certificate":
		return "pck_cert"
	case cn == "Intel SGX Root CA":
		return "root"
	}
	return ""
}

// certsDir puts the certificate files in a directory of their own, each
// named by its role (its role's stem, then .json for Intel's JSON
// collateral, .pem for PEM, else .der), as a --certs directory would hold
// them. It says how each file was used; two files in one role are refused.
func certsDir(files []File) (verify.CertsDir, []CertFile, error) {
	m := memFS{}
	var used []CertFile
	byRole := map[string]string{}
	for _, f := range files {
		role := roleOf(f)
		cf := CertFile{Name: f.Name, Role: role}
		if role != "" && !isRole(role) {
			return verify.CertsDir{}, used, usagef("certificate file %q: role %q, want one of %s", f.Name, role, strings.Join(Roles, ", "))
		}
		if len(f.Data) > MaxCertSize {
			return verify.CertsDir{}, used, usagef("certificate file %q: larger than %d bytes", f.Name, MaxCertSize)
		}
		if role != "" {
			if other, ok := byRole[role]; ok {
				return verify.CertsDir{}, used, usagef("certificate files %q and %q are both the %s: give one", other, f.Name, role)
			}
			byRole[role] = f.Name
			cf.As = role + extension(role, f.Data)
			m[cf.As] = f.Data
		}
		used = append(used, cf)
	}
	return verify.CertsDir{FS: m, Name: CertsDirName}, used, nil
}

// NotUsed is the Role of a certificate file the person chose not to use.
const NotUsed = "-"

// roleOf is f's role: the one given, or the one GuessRole tells; "" for a
// file not used.
func roleOf(f File) string {
	switch f.Role {
	case NotUsed:
		return ""
	case "":
		return GuessRole(f.Name, f.Data)
	}
	return f.Role
}

func isRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

func extension(role string, data []byte) string {
	switch t := bytes.TrimSpace(data); {
	case role == "tcb_info" || role == "qe_identity":
		if bytes.HasPrefix(t, []byte("{")) {
			return ".json"
		}
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		return ".pem"
	}
	return ".der"
}

// decodeHex reads hex, with or without 0x.
func decodeHex(s string) ([]byte, error) { return hex.DecodeString(strings.TrimPrefix(s, "0x")) }

// memFS is a flat directory of files in memory.
type memFS map[string][]byte

func (m memFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	b, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{name: name, r: bytes.NewReader(b), size: int64(len(b))}, nil
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size}, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

var _ io.Reader = (*memFile)(nil)

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// Kinds of file, as Classify tells them.
const (
	FileEvidence = "evidence"
	FileRefs     = "refs"
	FileKey      = "key"
	FileCert     = "cert"
	FileFirmware = "firmware"
)

// Classify says what a file dropped on the page is, so that the page can
// put it in its place: evidence (it parses as a report or quote), signed
// reference values (a Sigstore bundle, as provenance.DetectFormat tells
// one by its mediaType, or a DSSE envelope), a public key (PEM), a
// certificate or collateral file (GuessRole), or a firmware image (it
// parses as one). It returns "" when it cannot tell.
//
// What a file is says nothing of whether to trust it: the page offers a
// public key it recognised and makes it a publisher's key only when the
// person says so, and never makes a dropped certificate a trusted root.
func Classify(name string, data []byte) string {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return ""
	case bytes.HasPrefix(t, []byte("-----BEGIN PUBLIC KEY")):
		return FileKey
	case bytes.HasPrefix(t, []byte("{")) && len(t) <= MaxEnvelopeSize && provenance.DetectFormat(t) == provenance.FormatBundle:
		return FileRefs
	case bytes.HasPrefix(t, []byte("{")) && bytes.Contains(t, []byte(`"payloadType"`)) && bytes.Contains(t, []byte(`"signatures"`)):
		return FileRefs
	}
	if len(data) <= MaxEvidenceSize {
		if _, err := verify.Parse(data, verify.KindAny); err == nil {
			return FileEvidence
		}
	}
	if GuessRole(name, data) != "" {
		return FileCert
	}
	if len(data) <= MaxFirmwareSize {
		if _, err := ovmf.Parse(data); err == nil {
			return FileFirmware
		}
	}
	return ""
}
