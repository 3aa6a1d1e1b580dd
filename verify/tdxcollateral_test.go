package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// recordedTDXCollateral is go-tdx-guest v0.3.1's sample collateral for its
// sample quote (verify/testdata/README.md).
func recordedTDXCollateral(t testing.TB) verify.TDXCollateral {
	return verify.TDXCollateral{
		TCBInfo:               read(t, "testdata/tdx-tcbinfo.json"),
		TCBInfoIssuerChain:    read(t, "testdata/tdx-tcbinfo-issuer-chain.pem"),
		QEIdentity:            read(t, "testdata/tdx-qeidentity.json"),
		QEIdentityIssuerChain: read(t, "testdata/tdx-qeidentity-issuer-chain.pem"),
		PCKCRL:                read(t, "testdata/tdx-pckcrl.der"),
		PCKCRLIssuerChain:     read(t, "testdata/tdx-pckcrl-issuer-chain.pem"),
		RootCRL:               read(t, "testdata/tdx-rootcrl.der"),
	}
}

// goTDXGuestTime is when go-tdx-guest's verify_test.go evaluates its
// sample quote and collateral (currentTime).
var goTDXGuestTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

func intelRoot(t testing.TB) *x509.Certificate {
	blk, _ := pem.Decode(read(t, "intel-sgx-root-ca.pem"))
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrossCheckRecorded: go-tdx-guest's TestNegativeRawQuoteVerifyWithCollateral
// asserts that its sample quote with its sample collateral, at
// 2023-07-01, fails with "TDX TCB info reported by Intel PCS failed TCB
// status check: no matching TCB level found". So the cross-check agrees
// with a status other than UpToDate and refuses UpToDate, naming
// go-tdx-guest's reason; and after the collateral's nextUpdate go-tdx-guest
// refuses it as expired (its TestNegativeObtainAndVerifyCollateral: "tcbInfo
// has expired").
func TestCrossCheckRecorded(t *testing.T) {
	q, err := verify.ParseTDXQuote(read(t, "testdata/tdx-quote-v4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	col := recordedTDXCollateral(t)
	root := intelRoot(t)
	if err := verify.CrossCheckTDXCollateral(q, root, col, verify.TCBOutOfDate, goTDXGuestTime); err != nil {
		t.Errorf("CrossCheckTDXCollateral(OutOfDate) = %v, want agreement", err)
	}
	err = verify.CrossCheckTDXCollateral(q, root, col, verify.TCBUpToDate, goTDXGuestTime)
	if !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "TDX TCB info reported by Intel PCS failed TCB status check: no matching TCB level found") {
		t.Errorf("CrossCheckTDXCollateral(UpToDate) = %v, want go-tdx-guest's status failure", err)
	}
	err = verify.CrossCheckTDXCollateral(q, root, col, verify.TCBOutOfDate, time.Date(2053, time.July, 1, 1, 0, 0, 0, time.UTC))
	if !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "has expired") {
		t.Errorf("CrossCheckTDXCollateral in 2053 = %v, want expired", err)
	}
	// Without CRLs go-tdx-guest still checks the rest.
	noCRL := col
	noCRL.PCKCRL, noCRL.RootCRL = nil, nil
	if err := verify.CrossCheckTDXCollateral(q, root, noCRL, verify.TCBOutOfDate, goTDXGuestTime); err != nil {
		t.Errorf("CrossCheckTDXCollateral without CRLs = %v", err)
	}
}

// tdxFixture is a quote re-signed by a test PKI and collateral of a
// chosen status.
type tdxFixture struct {
	pki   *verifytest.TDXPKI
	quote []byte
	now   time.Time
}

func newTDXFixture(t *testing.T) *tdxFixture {
	t.Helper()
	tmpl := read(t, "testdata/tdx-quote-v4.dat")
	pki, err := verifytest.NewTDXPKI(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	q, err := pki.Quote(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return &tdxFixture{pki: pki, quote: q, now: verifytest.Created.AddDate(0, 0, 10)}
}

// collateral is TCB info with levels, the recorded QE identity, and CRLs,
// all signed by the fixture's PKI and current at f.now.
func (f *tdxFixture) collateral(t *testing.T, revokePCK bool, levels ...verifytest.TDXLevel) verify.TDXCollateral {
	t.Helper()
	issue, next := f.now.AddDate(0, 0, -1), f.now.AddDate(0, 0, 29)
	info, err := f.pki.TCBInfo(read(t, "testdata/tdx-tcbinfo.json"), f.quote, issue, next, levels...)
	if err != nil {
		t.Fatal(err)
	}
	qe, err := f.pki.QEIdentity(read(t, "testdata/tdx-qeidentity.json"), issue, next)
	if err != nil {
		t.Fatal(err)
	}
	pckCRL, err := f.pki.PCKCRL(issue, next, revokePCK)
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := f.pki.RootCRL(issue, next, false)
	if err != nil {
		t.Fatal(err)
	}
	return verify.TDXCollateral{TCBInfo: info, TCBInfoIssuerChain: f.pki.IssuerChain(),
		QEIdentity: qe, QEIdentityIssuerChain: f.pki.IssuerChain(),
		PCKCRL: pckCRL, PCKCRLIssuerChain: f.pki.PCKCRLIssuerChain(), RootCRL: rootCRL}
}

// TestTDXCollateralStatus: a version 4 quote with collateral of each
// status, through VerifyTDXSignatureWith (our evaluation, cross-checked
// by go-tdx-guest) and the TCB status policy.
func TestTDXCollateralStatus(t *testing.T) {
	f := newTDXFixture(t)
	sa := []string{"INTEL-SA-00837", "INTEL-SA-00960"}
	tests := []struct {
		name      string
		revoked   bool
		levels    []verifytest.TDXLevel
		accept    []string
		wantHW    string // error text, ErrHardwareSignature
		wantPol   bool   // ErrPolicy
		wantState string
	}{
		{"UpToDate", false, []verifytest.TDXLevel{{Status: "UpToDate"}}, nil, "", false, "UpToDate"},
		{"SWHardeningNeeded accepted by default", false, []verifytest.TDXLevel{{Status: "SWHardeningNeeded", Advisories: sa}}, nil, "", false, "SWHardeningNeeded"},
		{"OutOfDate refused", false, []verifytest.TDXLevel{{Status: "UpToDate", Higher: true}, {Status: "OutOfDate", Advisories: sa}}, nil, "", true, "OutOfDate"},
		{"OutOfDate accepted when named", false, []verifytest.TDXLevel{{Status: "OutOfDate", Advisories: sa}}, []string{"OutOfDate"}, "", false, "OutOfDate"},
		{"ConfigurationNeeded refused", false, []verifytest.TDXLevel{{Status: "ConfigurationNeeded"}}, []string{"OutOfDate"}, "", true, "ConfigurationNeeded"},
		{"Revoked TCB", false, []verifytest.TDXLevel{{Status: "Revoked"}}, []string{"OutOfDate"}, "Revoked", false, ""},
		{"PCK revoked", true, []verifytest.TDXLevel{{Status: "UpToDate"}}, nil, "PCK", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := verify.ParseTDXQuote(f.quote)
			if err != nil {
				t.Fatal(err)
			}
			col := f.collateral(t, tc.revoked, tc.levels...)
			hw, err := verify.VerifyTDXSignatureWith(q, verify.TDXVerifyOptions{Root: f.pki.RootPEM(), Now: f.now, Collateral: &col})
			if tc.wantHW != "" {
				if !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), tc.wantHW) {
					t.Fatalf("VerifyTDXSignatureWith = %v, want ErrHardwareSignature naming %q", err, tc.wantHW)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyTDXSignatureWith = %v", err)
			}
			if hw.TCBStatus != tc.wantState || len(hw.CRLs) != 2 {
				t.Errorf("TCBStatus %q, CRLs %q; want %q and two CRLs", hw.TCBStatus, hw.CRLs, tc.wantState)
			}
			err = verify.CheckTCBStatus(*hw, tc.accept)
			if tc.wantPol != errors.Is(err, verify.ErrPolicy) {
				t.Fatalf("CheckTCBStatus = %v, want policy failure %v", err, tc.wantPol)
			}
			if err != nil && len(tc.levels[len(tc.levels)-1].Advisories) > 0 && !strings.Contains(err.Error(), "INTEL-SA-00837, INTEL-SA-00960") {
				t.Errorf("CheckTCBStatus = %v, want the advisories named", err)
			}
		})
	}
}

func TestParseTCBStatuses(t *testing.T) {
	got, err := verify.ParseTCBStatuses("outofdate, ConfigurationNeeded")
	if err != nil || strings.Join(got, ",") != "OutOfDate,ConfigurationNeeded" {
		t.Errorf("ParseTCBStatuses = %q, %v", got, err)
	}
	for _, bad := range []string{"Revoked", "Fine", "UpToDate,revoked"} {
		if _, err := verify.ParseTCBStatuses(bad); err == nil {
			t.Errorf("ParseTCBStatuses(%q) accepted", bad)
		}
	}
	if err := verify.CheckTCBStatus(verify.Hardware{TCBStatus: "Revoked"}, []string{"Revoked"}); !errors.Is(err, verify.ErrPolicy) {
		t.Errorf("CheckTCBStatus(Revoked, accepting it) = %v", err)
	}
	if err := verify.CheckTCBStatus(verify.Hardware{}, nil); err != nil {
		t.Errorf("CheckTCBStatus without a status = %v", err)
	}
}

// TestTDXQEStatusAlone: with a QE identity but no TCB info, the quoting
// enclave's status is not dropped: Revoked fails the hardware check, and
// another status meets the TCB status policy.
func TestTDXQEStatusAlone(t *testing.T) {
	f := newTDXFixture(t)
	issue, next := f.now.AddDate(0, 0, -1), f.now.AddDate(0, 0, 29)
	for _, tc := range []struct {
		status     string
		wantHW     error
		wantPolicy error
	}{
		{verify.TCBUpToDate, nil, nil},
		{verify.TCBOutOfDate, nil, verify.ErrPolicy},
		{verify.TCBRevoked, verify.ErrHardwareSignature, nil},
	} {
		t.Run(tc.status, func(t *testing.T) {
			tmpl := bytes.ReplaceAll(read(t, "testdata/tdx-qeidentity.json"), []byte(`"tcbStatus":"UpToDate"`), []byte(`"tcbStatus":"`+tc.status+`"`))
			qe, err := f.pki.QEIdentity(tmpl, issue, next)
			if err != nil {
				t.Fatal(err)
			}
			col := verify.TDXCollateral{QEIdentity: qe, QEIdentityIssuerChain: f.pki.IssuerChain()}
			hw, err := verify.VerifyTDXSignatureWith(parseQuote(t, f.quote), verify.TDXVerifyOptions{Root: f.pki.RootPEM(), Now: f.now, Collateral: &col})
			if !errors.Is(err, tc.wantHW) || (tc.wantHW == nil) != (err == nil) {
				t.Fatalf("VerifyTDXSignatureWith = %v, want %v", err, tc.wantHW)
			}
			if err != nil {
				return
			}
			if hw.QEStatus != tc.status || hw.TCBStatus != "" {
				t.Errorf("QEStatus %q, TCBStatus %q; want %q and none", hw.QEStatus, hw.TCBStatus, tc.status)
			}
			if err := verify.CheckTCBStatus(*hw, nil); !errors.Is(err, tc.wantPolicy) || (tc.wantPolicy == nil) != (err == nil) {
				t.Errorf("CheckTCBStatus = %v, want %v", err, tc.wantPolicy)
			}
		})
	}
}
