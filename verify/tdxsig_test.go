package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// Times at which the copied evidence is verified (testdata/README.md):
// within the certificates' validity, and for the collateral as dcap-qvl's
// tests choose it (now_from_collateral: the last second at which the TCB
// info, QE identity and both CRLs are all current).
var (
	// trusteeV5Time: the PCK of tdx-quote-v5-trustee.dat is valid from
	// 2024-03-18 to 2031-03-18.
	trusteeV5Time = time.Date(2024, time.June, 1, 0, 0, 0, 0, time.UTC)
	// intelSampleTime: the QVL sample's PCK is valid 2021-08-06 to 2028.
	intelSampleTime = time.Date(2022, time.January, 1, 0, 0, 0, 0, time.UTC)
)

func intelSGXRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	return certOf(t, read(t, "intel-sgx-root-ca.pem"))
}

func certOf(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseQuote(t testing.TB, b []byte) *verify.TDXQuote {
	t.Helper()
	q, err := verify.ParseTDXQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestVerifyTDXQuoteAgreesWithGoTDXGuest: for the production version 4
// quote, our verification and go-tdx-guest's both accept it at the time
// go-tdx-guest's tests verify it, and both reject each altered copy.
// go-tdx-guest's verify_test.go (TestNegativeVerification) names the
// header, body, root, intermediate and PCK offsets used here.
func TestVerifyTDXQuoteAgreesWithGoTDXGuest(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	root := intelSGXRoot(t)
	tests := []struct {
		name string
		off  int
		val  byte // 0: flip the low bit
	}{
		{"unaltered", -1, 0},
		{"header (user data)", 0x1e, 0x32},
		{"body: TEE_TCB_SVN", 0x3c, 0x32},
		{"body: MRTD", 48 + 136, 0},
		{"attestation key signature", offSigDataLen + 4 + 10, 0},
		{"attestation key", offSigDataLen + 4 + 64 + 5, 0},
		{"QE report: MRSIGNER", offCertType + 6 + 0x80, 0},
		{"QE report: REPORTDATA", offCertType + 6 + 0x140, 0},
		{"QE report signature", offCertType + 6 + 384 + 3, 0},
		{"QE authentication data", offQEAuthLen + 2 + 7, 0},
		{"PCK certificate", 0xb77, 0x32},
		{"PCK CA certificate", 0xf5f, 0x32},
		{"root certificate", 0x1329, 0x32},
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), raw...)
			if tc.off >= 0 {
				if tc.val == 0 {
					b[tc.off] ^= 1
				} else {
					b[tc.off] = tc.val
				}
			}
			theirs := tdxverify.RawTdxQuote(b, &tdxverify.Options{Now: quoteTime, TrustedRoots: roots})
			q := parseQuote(t, b)
			_, ours := verify.VerifyTDXQuote(q, verify.TDXPCKChain{}, root, quoteTime)
			if (ours == nil) != (theirs == nil) {
				t.Fatalf("VerifyTDXQuote = %v, go-tdx-guest = %v: they disagree", ours, theirs)
			}
			if want := tc.off < 0; (ours == nil) != want {
				t.Fatalf("VerifyTDXQuote = %v, want success %v", ours, want)
			}
			if ours != nil && !errors.Is(ours, verify.ErrHardwareSignature) {
				t.Errorf("VerifyTDXQuote = %v, want ErrHardwareSignature", ours)
			}
		})
	}
}

// TestVerifyTDXQuoteV5: the real version 5 quotes verify with the PCK
// chain they carry to Intel's root, through VerifyTDXSignature too (which
// go-tdx-guest could not take), and an altered copy does not.
func TestVerifyTDXQuoteV5(t *testing.T) {
	cases := []struct {
		path string
		now  time.Time
	}{
		{"testdata/tdx-quote-v5.dat", collateralTime(t, "testdata/dcap-qvl/tdx_quote_outdated_collateral.json")},
		{"testdata/tdx-quote-v5-trustee.dat", trusteeV5Time},
	}
	root := intelSGXRoot(t)
	for _, c := range cases {
		raw := read(t, c.path)
		t.Run(c.path, func(t *testing.T) {
			plat, err := verify.VerifyTDXQuote(parseQuote(t, raw), verify.TDXPCKChain{}, root, c.now)
			if err != nil {
				t.Fatal(err)
			}
			// Intel's PCK certificate profile: FMSPC and CA name the
			// collateral; both quotes come from platforms of FMSPC
			// 90c06f000000, the dcap-qvl collateral's.
			if hex.EncodeToString(plat.FMSPC) != "90c06f000000" || plat.CA != "platform" || !plat.FromQuote {
				t.Errorf("platform FMSPC %x CA %s from quote %v; want 90c06f000000, platform, true", plat.FMSPC, plat.CA, plat.FromQuote)
			}
			hw, err := verify.VerifyTDXSignature(parseQuote(t, raw), nil, c.now)
			if err != nil || !hw.Verified || !hw.VendorRoot {
				t.Errorf("VerifyTDXSignature = %+v, %v; want verified to Intel's root", hw, err)
			}
			if _, err := verify.VerifyTDXSignature(parseQuote(t, raw), nil, time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, verify.ErrHardwareSignature) {
				t.Errorf("VerifyTDXSignature in 2040 = %v, want the expired chain refused", err)
			}
			for _, off := range []int{v5OffBodyType, v5OffBody + tdOffTCBSVN2, v5OffBody + tdOffServiceTD + 47, v5OffSigData + 1} {
				b := append([]byte(nil), raw...)
				b[off] ^= 1
				q, err := verify.ParseTDXQuote(b)
				if err != nil {
					if off == v5OffBodyType {
						continue // body type 2 with a 648-byte body: malformed
					}
					t.Fatal(err)
				}
				if _, err := verify.VerifyTDXQuote(q, verify.TDXPCKChain{}, root, c.now); !errors.Is(err, verify.ErrHardwareSignature) {
					t.Errorf("byte %#x altered: VerifyTDXQuote = %v, want ErrHardwareSignature", off, err)
				}
			}
		})
	}
}

// pckChainOf returns the PCK leaf and the rest of the chain a quote
// carries (PEM), as files would give them.
func pckChainOf(t testing.TB, raw []byte) verify.TDXPCKChain {
	t.Helper()
	i := bytes.Index(raw, []byte("-----BEGIN CERTIFICATE-----"))
	end := []byte("-----END CERTIFICATE-----")
	j := bytes.Index(raw[i:], end) + i + len(end)
	return verify.TDXPCKChain{PCK: raw[i:j], Intermediate: bytes.TrimRight(raw[j:], "\x00")}
}

// TestVerifyTDXQuoteChainFromFiles: a quote naming its PCK by PPID
// verifies only with the chain given apart; a quote without a QE report
// does not verify at all.
func TestVerifyTDXQuoteChainFromFiles(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	root := intelSGXRoot(t)
	chain := pckChainOf(t, raw)
	ppid := parseQuote(t, withPPID(t, raw))
	if _, err := verify.VerifyTDXQuote(ppid, verify.TDXPCKChain{}, root, quoteTime); !errors.Is(err, verify.ErrNoCertificate) {
		t.Errorf("PPID quote without a chain: %v, want ErrNoCertificate", err)
	}
	if _, err := verify.VerifyTDXSignature(ppid, nil, quoteTime); !errors.Is(err, verify.ErrNoCertificate) {
		t.Errorf("VerifyTDXSignature(PPID quote) = %v, want ErrNoCertificate", err)
	}
	plat, err := verify.VerifyTDXQuote(ppid, chain, root, quoteTime)
	if err != nil || plat.FromQuote {
		t.Fatalf("PPID quote with the chain given: %+v, %v", plat, err)
	}
	hw, err := verify.VerifyTDXSignatureWith(ppid, verify.TDXVerifyOptions{Now: quoteTime, PCK: chain})
	if err != nil || !hw.Verified || !hw.VendorRoot {
		t.Errorf("VerifyTDXSignatureWith(PPID quote, chain) = %+v, %v", hw, err)
	}
	// The leaf alone, or a chain from another platform, does not do.
	if _, err := verify.VerifyTDXQuote(ppid, verify.TDXPCKChain{PCK: chain.PCK}, root, quoteTime); !errors.Is(err, verify.ErrNoCertificate) {
		t.Errorf("leaf without its CA: %v, want ErrNoCertificate", err)
	}
	other := pckChainOf(t, read(t, "testdata/dcap-qvl/tdx_quote.dat"))
	if _, err := verify.VerifyTDXQuote(ppid, other, root, collateralTime(t, "testdata/dcap-qvl/tdx_quote_collateral.json")); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("another platform's chain: %v, want ErrHardwareSignature", err)
	}
	outer := parseQuote(t, withOuterChain(t, raw))
	if _, err := verify.VerifyTDXQuote(outer, verify.TDXPCKChain{}, root, quoteTime); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "carries no QE report") {
		t.Errorf("quote without a QE report: %v, want ErrHardwareSignature, no QE report", err)
	}
}

// TestVerifyIntelSampleTDX: Intel's QVL sample TDX quote, verified as its
// sample app takes it (-pckCert, -pckSignChain, -trustedRootCaCert; the
// quote's own type 5 data is DER, not the PEM the format specifies, so the
// chain must come from the files), to Intel's test root at a time within
// the sample certificates' validity. Its CRLs are current then and revoke
// nothing of the chain. Its TCB info lists SVNs above 255 (Intel's QVL
// casts them to a byte, TcbComponent.cpp), which we refuse; its QE identity
// is for another QE (MRSIGNER 0bf58c3b… where the QE report has e4bd9fc2…),
// so Intel's QVL too would report a QE identity mismatch.
func TestVerifyIntelSampleTDX(t *testing.T) {
	dir := "testdata/intel-sample-tdx/"
	q := parseQuote(t, read(t, dir+"quote.dat"))
	rootPEM := read(t, dir+"trustedRootCaCert.pem")
	root := certOf(t, rootPEM)
	chain := verify.TDXPCKChain{PCK: read(t, dir+"pckCert.pem"), Intermediate: read(t, dir+"pckSignChain.pem")}
	if _, err := verify.VerifyTDXQuote(q, verify.TDXPCKChain{}, root, intelSampleTime); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("sample quote with its DER type 5 data: %v, want ErrHardwareSignature", err)
	}
	plat, err := verify.VerifyTDXQuote(q, chain, root, intelSampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if plat.CA != "processor" || hex.EncodeToString(plat.FMSPC) != "ed742af8adf5" {
		t.Errorf("CA %s FMSPC %x, want processor, ed742af8adf5 (the sample tcbInfo.json's fmspc)", plat.CA, plat.FMSPC)
	}
	if _, err := verify.VerifyTDXQuote(q, chain, intelSGXRoot(t), intelSampleTime); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("sample chain against Intel's production root: %v, want ErrHardwareSignature", err)
	}
	hw, err := verify.VerifyTDXSignatureWith(q, verify.TDXVerifyOptions{Root: rootPEM, Now: intelSampleTime, PCK: chain,
		Collateral: &verify.TDXCollateral{PCKCRL: read(t, dir+"intermediateCaCrl.der"), RootCRL: read(t, dir+"rootCaCrl.der")}})
	if err != nil || !hw.Verified || hw.VendorRoot || len(hw.CRLs) != 2 {
		t.Errorf("VerifyTDXSignatureWith(sample, CRLs) = %+v, %v; want verified to a non-vendor root, 2 CRLs", hw, err)
	}
	col := verify.TDXCollateral{TCBInfo: read(t, dir+"tcbInfo.json"), TCBInfoIssuerChain: read(t, dir+"tcbSignChain.pem")}
	if _, err := verify.EvaluateTDXTCB(q, plat, col, intelSampleTime); !errors.Is(err, verify.ErrCollateral) || !strings.Contains(err.Error(), "svn is 65473, want 0 to 255") {
		t.Errorf("sample TCB info: %v, want ErrCollateral for SVN 65473", err)
	}
	col = verify.TDXCollateral{QEIdentity: read(t, dir+"qeIdentity.json"), QEIdentityIssuerChain: read(t, dir+"tcbSignChain.pem")}
	if _, err := verify.EvaluateTDXTCB(q, plat, col, intelSampleTime); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "MRSIGNER") {
		t.Errorf("sample QE identity: %v, want an MRSIGNER mismatch", err)
	}
}

// dcapQVLCollateral reads a collateral file of Phala-Network/dcap-qvl.
func dcapQVLCollateral(t testing.TB, path string) verify.TDXCollateral {
	t.Helper()
	c, err := verifytest.DcapQVLCollateral(path)
	if err != nil {
		t.Fatal(err)
	}
	return verify.TDXCollateral(c)
}

// collateralTime is dcap-qvl's now_from_collateral (tests/verify_quote.rs):
// the latest of the TCB info's and QE identity's issueDate and both CRLs'
// thisUpdate, to the earliest of their nextUpdate, less one second.
func collateralTime(t testing.TB, path string) time.Time {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(read(t, path), &m); err != nil {
		t.Fatal(err)
	}
	var from, to time.Time
	widen := func(a, b time.Time) {
		if from.IsZero() || a.After(from) {
			from = a
		}
		if to.IsZero() || b.Before(to) {
			to = b
		}
	}
	for _, k := range []string{"tcb_info", "qe_identity"} {
		var d struct{ IssueDate, NextUpdate time.Time }
		if err := json.Unmarshal([]byte(m[k]), &d); err != nil {
			t.Fatal(err)
		}
		widen(d.IssueDate, d.NextUpdate)
	}
	for _, k := range []string{"root_ca_crl", "pck_crl"} {
		der, _ := hex.DecodeString(m[k])
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		widen(crl.ThisUpdate, crl.NextUpdate)
	}
	if !from.Before(to) {
		t.Fatalf("%s: collateral validity window %s to %s", path, from, to)
	}
	return to.Add(-time.Second)
}
