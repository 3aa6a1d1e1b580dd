package verify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/verify"
)

// TestTDXTCBDcapQVL: dcap-qvl's sample version 4 quote with its collateral
// is UpToDate with no advisories at now_from_collateral (dcap-qvl
// tests/verify_quote.rs, could_parse_tdx_quote). Through go-tdx-guest's
// path (which must agree) and through ours (the chain given apart), the
// verdict is the same; a second past the collateral's window it is
// refused.
func TestTDXTCBDcapQVL(t *testing.T) {
	const colPath = "testdata/dcap-qvl/tdx_quote_collateral.json"
	raw := read(t, "testdata/dcap-qvl/tdx_quote.dat")
	col := dcapQVLCollateral(t, colPath)
	now := collateralTime(t, colPath)
	for name, opts := range map[string]verify.TDXVerifyOptions{
		"go-tdx-guest path": {Now: now, Collateral: &col},
		"our path":          {Now: now, Collateral: &col, PCK: pckChainOf(t, raw)},
	} {
		t.Run(name, func(t *testing.T) {
			hw, err := verify.VerifyTDXSignatureWith(parseQuote(t, raw), opts)
			if err != nil {
				t.Fatal(err)
			}
			if hw.TCBStatus != verify.TCBUpToDate || len(hw.TCBAdvisories) != 0 || len(hw.CRLs) != 2 || !hw.Verified || !hw.VendorRoot {
				t.Errorf("VerifyTDXSignatureWith = %+v; want UpToDate, no advisories, 2 CRLs, verified to Intel's root", hw)
			}
			if len(hw.Limits) != 0 {
				t.Errorf("Limits = %q, want none: everything was checked", hw.Limits)
			}
			if !slices.Contains(hw.Sources, colPath) {
				t.Errorf("Sources = %q, want the collateral's", hw.Sources)
			}
			late := opts
			late.Now = now.Add(2 * time.Second)
			if _, err := verify.VerifyTDXSignatureWith(parseQuote(t, raw), late); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "expired") {
				t.Errorf("after the collateral's nextUpdate: %v, want expired", err)
			}
		})
	}
}

// TestTDXTCBV5Outdated: dcap-qvl's version 5 quote tdx_quote_outdated with
// its collateral. No TCB level of the TCB info is met by the platform (its
// PCK certificate's SGX TCB component 8, SEAMLDR ACM, is 3 where every
// level wants 5), so dcap-qvl's verify fails ("No matching TCB level
// found", src/verify.rs) and its test exercises the fixture only with a
// TCB level inserted (tdxtcb_internal_test.go); Intel's QVL calls it
// TCB_NOT_SUPPORTED. The QE identity and the CRLs hold.
func TestTDXTCBV5Outdated(t *testing.T) {
	const colPath = "testdata/dcap-qvl/tdx_quote_outdated_collateral.json"
	raw := read(t, "testdata/tdx-quote-v5.dat")
	col := dcapQVLCollateral(t, colPath)
	now := collateralTime(t, colPath)
	_, err := verify.VerifyTDXSignatureWith(parseQuote(t, raw), verify.TDXVerifyOptions{Now: now, Collateral: &col})
	if !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "TCB not supported") {
		t.Fatalf("VerifyTDXSignatureWith = %v, want TCB not supported", err)
	}
	q := parseQuote(t, raw)
	plat, err := verify.VerifyTDXQuote(q, verify.TDXPCKChain{}, intelSGXRoot(t), now)
	if err != nil {
		t.Fatal(err)
	}
	noTCB := col
	noTCB.TCBInfo = nil
	tcb, err := verify.EvaluateTDXTCB(q, plat, noTCB, now)
	if err != nil {
		t.Fatal(err)
	}
	if tcb.Status != "" || tcb.QEStatus != verify.TCBUpToDate || len(tcb.CRLs) != 2 || len(tcb.Limits) != 1 {
		t.Errorf("EvaluateTDXTCB without TCB info = %+v; want no status, QE UpToDate, 2 CRLs, one limit", tcb)
	}
}

// TestTDXTCBGoTDXGuestSample: go-tdx-guest's sample quote and collateral
// at 2023-07-01 (its verify_test.go): no TCB level matches
// (TestNegativeRawQuoteVerifyWithCollateral: "no matching TCB level
// found"); the QE report matches the QE identity (TestVerifyUsingQeIdentityV4)
// and both CRLs verify (TestValidateCRL); the collateral is refused after
// its nextUpdate (TestNegativeObtainAndVerifyCollateral).
func TestTDXTCBGoTDXGuestSample(t *testing.T) {
	q := parseQuote(t, read(t, "testdata/tdx-quote-v4.dat"))
	col := recordedTDXCollateral(t)
	plat, err := verify.VerifyTDXQuote(q, verify.TDXPCKChain{}, intelSGXRoot(t), quoteTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.EvaluateTDXTCB(q, plat, col, quoteTime); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "TCB not supported") {
		t.Errorf("EvaluateTDXTCB = %v, want TCB not supported", err)
	}
	noTCB := col
	noTCB.TCBInfo = nil
	tcb, err := verify.EvaluateTDXTCB(q, plat, noTCB, quoteTime)
	if err != nil || tcb.QEStatus != verify.TCBUpToDate || len(tcb.CRLs) != 2 {
		t.Errorf("EvaluateTDXTCB without TCB info = %+v, %v; want QE UpToDate, 2 CRLs", tcb, err)
	}
	for _, c := range []struct {
		name string
		col  verify.TDXCollateral
	}{{"TCB info", verify.TDXCollateral{TCBInfo: col.TCBInfo, TCBInfoIssuerChain: col.TCBInfoIssuerChain}},
		{"QE identity", verify.TDXCollateral{QEIdentity: col.QEIdentity, QEIdentityIssuerChain: col.QEIdentityIssuerChain}}} {
		// 2023-07-20: after both documents' nextUpdate, before their
		// signing certificate's expiry.
		if _, err := verify.EvaluateTDXTCB(q, plat, c.col, time.Date(2023, time.July, 20, 0, 0, 0, 0, time.UTC)); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), c.name+" has expired") {
			t.Errorf("%s after nextUpdate: %v, want expired", c.name, err)
		}
	}
	// A signature that does not verify: one byte of the signed value.
	bad := col
	bad.TCBInfo = []byte(strings.Replace(string(col.TCBInfo), `"pcesvn":11`, `"pcesvn":10`, 1))
	if _, err := verify.EvaluateTDXTCB(q, plat, bad, quoteTime); !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("altered TCB info: %v, want its signature refused", err)
	}
	bad = col
	bad.QEIdentityIssuerChain = read(t, "testdata/intel-sample-tdx/tcbSignChain.pem")
	if _, err := verify.EvaluateTDXTCB(q, plat, bad, quoteTime); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("QE identity with another issuer chain: %v, want ErrHardwareSignature", err)
	}
}
