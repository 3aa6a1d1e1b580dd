package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/verify"
)

func file(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b} }

// TestCertsDirSNP: the stems and extensions of an SEV-SNP certificates
// directory, the first found winning, a cert_chain split into the ASK and
// ARK the KDS serves in it, and files that cannot be read.
func TestCertsDirSNP(t *testing.T) {
	chain := read(t, "testdata/snp-ask-ark-milan.pem")
	vcek := read(t, "testdata/snp-vcek.der")
	askDER, _, err := verify.SplitSNPCertChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		fs          fstest.MapFS
		wantVCEK    []byte
		wantASKCN   string
		wantARKCN   string
		wantCRL     bool
		wantSources []string
		wantErr     error
		wantErrText string
	}{
		{name: "empty"},
		{name: "vcek and cert_chain", fs: fstest.MapFS{"vcek.der": file(vcek), "cert_chain.pem": file(chain), "crl.der": file([]byte("crl"))},
			wantVCEK: vcek, wantASKCN: "SEV-Milan", wantARKCN: "ARK-Milan", wantCRL: true,
			wantSources: []string{"kds/vcek.der", "kds/crl.der", "kds/cert_chain.pem"}},
		{name: "ask_ark and other extensions", fs: fstest.MapFS{"vcek.cert": file(vcek), "ask_ark.crt": file(chain)},
			wantVCEK: vcek, wantASKCN: "SEV-Milan", wantARKCN: "ARK-Milan", wantSources: []string{"kds/vcek.cert", "kds/ask_ark.crt"}},
		{name: "the first extension wins", fs: fstest.MapFS{"vcek.der": file(vcek), "vcek.pem": file([]byte("other"))},
			wantVCEK: vcek, wantSources: []string{"kds/vcek.der"}},
		{name: "ask and ark files win over cert_chain", fs: fstest.MapFS{"asvk.der": file(askDER), "cert_chain.pem": file([]byte("not read"))},
			wantASKCN: "SEV-Milan", wantSources: []string{"kds/asvk.der"}},
		{name: "cert_chain of one certificate", fs: fstest.MapFS{"cert_chain.pem": file(firstPEM(t, chain))},
			wantErr: verify.ErrHardwareSignature, wantErrText: `"kds/cert_chain.pem": hardware signature`},
		{name: "cert_chain with a key", fs: fstest.MapFS{"cert_chain.pem": file(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))},
			wantErr: verify.ErrHardwareSignature, wantErrText: `PEM block "PRIVATE KEY"`},
		{name: "a directory", fs: fstest.MapFS{"vcek.der/x": file(nil)}, wantErrText: "kds/vcek.der"},
		{name: "too large", fs: fstest.MapFS{"crl.pem": file(make([]byte, verify.MaxCertsDirFile+1))}, wantErrText: "read kds/crl.pem: larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.CertsDir{FS: tc.fs, Name: "kds"}.SNPCerts()
			if tc.wantErrText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrText) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("SNPCerts() error = %v, want %q (%v)", err, tc.wantErrText, tc.wantErr)
				}
				if tc.wantErr == nil {
					var pe *fs.PathError
					if !errors.As(err, &pe) {
						t.Errorf("SNPCerts() error %v is no *fs.PathError", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.VCEK, tc.wantVCEK) || cn(t, c.ASK) != tc.wantASKCN || cn(t, c.ARK) != tc.wantARKCN || (c.CRL != nil) != tc.wantCRL {
				t.Errorf("SNPCerts() = VCEK %d bytes, ASK %q, ARK %q, CRL %v; want %d bytes, %q, %q, %v",
					len(c.VCEK), cn(t, c.ASK), cn(t, c.ARK), c.CRL != nil, len(tc.wantVCEK), tc.wantASKCN, tc.wantARKCN, tc.wantCRL)
			}
			if diff := cmp.Diff(tc.wantSources, c.Sources); diff != "" {
				t.Errorf("Sources (-want +got):\n%s", diff)
			}
		})
	}
}

// cn is the subject common name of a DER certificate, "" for none.
func cn(t *testing.T, der []byte) string {
	t.Helper()
	if der == nil {
		return ""
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("not a certificate: %v", err)
	}
	return c.Subject.CommonName
}

func firstPEM(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	return pem.EncodeToMemory(blk)
}

// TestCertsDirTDX: the root, the PCK chain under either spelling, and each
// collateral file, .json first.
func TestCertsDirTDX(t *testing.T) {
	tcb := read(t, "testdata/tdx-tcbinfo.json")
	tcbChain := read(t, "testdata/tdx-tcbinfo-issuer-chain.pem")
	qe := read(t, "testdata/tdx-qeidentity.json")
	qeChain := read(t, "testdata/tdx-qeidentity-issuer-chain.pem")
	pckCRL := read(t, "testdata/tdx-pckcrl.der")
	pckCRLChain := read(t, "testdata/tdx-pckcrl-issuer-chain.pem")
	rootCRL := read(t, "testdata/tdx-rootcrl.der")
	full := fstest.MapFS{
		"root.pem": file([]byte("root")), "pckCert.pem": file([]byte("pck")), "pck_sign_chain.pem": file([]byte("chain")),
		"tcb_info.json": file(tcb), "tcb_info_issuer_chain.pem": file(tcbChain),
		"qe_identity.json": file(qe), "qe_identity_issuer_chain.pem": file(qeChain),
		"pck_crl.der": file(pckCRL), "pck_crl_issuer_chain.pem": file(pckCRLChain), "root_crl.der": file(rootCRL),
	}
	got, err := verify.CertsDir{FS: full, Name: "certs"}.TDX()
	if err != nil {
		t.Fatal(err)
	}
	want := verify.TDXFiles{
		Root: []byte("root"),
		PCK:  verify.TDXPCKChain{PCK: []byte("pck"), Intermediate: []byte("chain")},
		Collateral: &verify.TDXCollateral{
			TCBInfo: tcb, TCBInfoIssuerChain: tcbChain, QEIdentity: qe, QEIdentityIssuerChain: qeChain,
			PCKCRL: pckCRL, PCKCRLIssuerChain: pckCRLChain, RootCRL: rootCRL,
			Sources: []string{
				filepath.Join("certs", "tcb_info.json"), filepath.Join("certs", "tcb_info_issuer_chain.pem"),
				filepath.Join("certs", "qe_identity.json"), filepath.Join("certs", "qe_identity_issuer_chain.pem"),
				filepath.Join("certs", "pck_crl.der"), filepath.Join("certs", "pck_crl_issuer_chain.pem"), filepath.Join("certs", "root_crl.der"),
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TDX() (-want +got):\n%s", diff)
	}
	empty, err := verify.CertsDir{FS: fstest.MapFS{}}.TDX()
	if err != nil || empty.Root != nil || empty.Collateral != nil {
		t.Errorf("TDX() of an empty directory = %+v, %v; want nothing", empty, err)
	}
	intel, err := verify.CertsDir{FS: fstest.MapFS{"Intel_SGX_Provisioning_Certification_RootCA.cer": file([]byte("intel")), "pckSignChain.pem": file([]byte("chain"))}}.TDX()
	if err != nil || string(intel.Root) != "intel" || string(intel.PCK.Intermediate) != "chain" {
		t.Errorf("TDX() with Intel's file names = %+v, %v; want the root and the PCK chain", intel, err)
	}
	if _, err := (verify.CertsDir{FS: fstest.MapFS{"tcb_info.json/x": file(nil)}}).TDX(); err == nil {
		t.Errorf("TDX() read a directory as tcb_info.json")
	}
}

// TestSplitSNPCertChain: AMD's Milan cert_chain splits into the ASK and the
// ARK, which signed it.
func TestSplitSNPCertChain(t *testing.T) {
	ask, ark, err := verify.SplitSNPCertChain(read(t, "testdata/snp-ask-ark-milan.pem"))
	if err != nil {
		t.Fatal(err)
	}
	askCert, err := x509.ParseCertificate(ask)
	if err != nil {
		t.Fatal(err)
	}
	arkCert, err := x509.ParseCertificate(ark)
	if err != nil {
		t.Fatal(err)
	}
	if err := askCert.CheckSignatureFrom(arkCert); err != nil || askCert.Subject.CommonName != "SEV-Milan" || arkCert.Subject.CommonName != "ARK-Milan" {
		t.Errorf("SplitSNPCertChain = %q, %q (signature: %v), want SEV-Milan signed by ARK-Milan", askCert.Subject.CommonName, arkCert.Subject.CommonName, err)
	}
	for _, bad := range [][]byte{nil, []byte("garbage"), firstPEM(t, read(t, "testdata/snp-ask-ark-milan.pem"))} {
		if _, _, err := verify.SplitSNPCertChain(bad); !errors.Is(err, verify.ErrHardwareSignature) {
			t.Errorf("SplitSNPCertChain(%.20q) error = %v, want ErrHardwareSignature", bad, err)
		}
	}
}

// FuzzSplitSNPCertChain: any bytes split without panicking, and a chain
// that splits splits again, the same, from its two certificates as PEM.
func FuzzSplitSNPCertChain(f *testing.F) {
	chain := read(f, "testdata/snp-ask-ark-milan.pem")
	f.Add(chain)
	f.Add(chain[:len(chain)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ask, ark, err := verify.SplitSNPCertChain(b)
		if err != nil {
			if !errors.Is(err, verify.ErrHardwareSignature) {
				t.Errorf("error %v does not wrap ErrHardwareSignature", err)
			}
			return
		}
		again := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ask}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ark})...)
		ask2, ark2, err := verify.SplitSNPCertChain(again)
		if err != nil || !bytes.Equal(ask, ask2) || !bytes.Equal(ark, ark2) {
			t.Errorf("re-encoded chain splits as %v", err)
		}
	})
}

// FuzzCertsDir: whatever the files hold, reading a certificates directory
// never panics.
func FuzzCertsDir(f *testing.F) {
	f.Add(read(f, "testdata/snp-ask-ark-milan.pem"), read(f, "testdata/tdx-tcbinfo.json"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := verify.CertsDir{FS: fstest.MapFS{"cert_chain.pem": file(a), "vcek.der": file(b), "tcb_info.json": file(b), "root.pem": file(a)}}
		_, _ = d.SNPCerts()
		_, _ = d.TDX()
	})
}
