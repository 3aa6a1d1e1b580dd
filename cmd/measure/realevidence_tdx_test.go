//go:build !measure_front

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/verify/verifytest"
)

// Real TDX quotes with Intel's collateral as files in --certs (sources in
// verify/testdata/README.md: Phala-Network/dcap-qvl, Intel's QVL sample).
const (
	dcapQuote     = "../../verify/testdata/dcap-qvl/tdx_quote.dat"
	dcapQuoteCol  = "../../verify/testdata/dcap-qvl/tdx_quote_collateral.json"
	dcapQuoteMRTD = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
	// dcapQuoteTime is dcap-qvl's now_from_collateral for that
	// collateral (tests/verify_quote.rs): the earliest nextUpdate of its
	// TCB info, QE identity and CRLs, less a second.
	dcapQuoteTime = "2025-07-19T10:00:34Z"
	v5Quote       = "../../verify/testdata/tdx-quote-v5.dat"
	v5QuoteCol    = "../../verify/testdata/dcap-qvl/tdx_quote_outdated_collateral.json"
	v5QuoteMRTD   = "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd"
	v5QuoteTime   = "2026-03-20T10:41:14Z"
	intelSample   = "../../verify/testdata/intel-sample-tdx/"
)

// dcapCertsDir writes a dcap-qvl collateral file into a --certs directory
// under the names docs/compare.md gives.
func dcapCertsDir(t *testing.T, path string) string {
	t.Helper()
	c, err := verifytest.DcapQVLCollateral(path)
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	writeIn(t, d, "tcb_info.json", c.TCBInfo)
	writeIn(t, d, "tcb_info_issuer_chain.pem", c.TCBInfoIssuerChain)
	writeIn(t, d, "qe_identity.json", c.QEIdentity)
	writeIn(t, d, "qe_identity_issuer_chain.pem", c.QEIdentityIssuerChain)
	writeIn(t, d, "pck_crl.der", c.PCKCRL)
	writeIn(t, d, "pck_crl_issuer_chain.pem", c.PCKCRLIssuerChain)
	writeIn(t, d, "root_crl.der", c.RootCRL)
	return d
}

// TestRealTDXCompare runs compare on real quotes with their collateral as
// files, each giving the verdict its source asserts: dcap-qvl's v4 quote is
// UpToDate (tests/verify_quote.rs); its v5 quote matches no TCB level of
// its collateral ("No matching TCB level found", src/verify.rs); Intel's
// QVL sample verifies only with its PCK chain from files, to Intel's test
// root.
func TestRealTDXCompare(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	refs := func(name, mrtd string) string {
		return signRefs(t, dir, key, name, hclRefs("tdx", "MRTD", mrtd))
	}
	dcapRefs, v5Refs := refs("dcap.dsse.json", dcapQuoteMRTD), refs("v5.dsse.json", v5QuoteMRTD)
	otherRefs := refs("other.dsse.json", v5QuoteMRTD)
	dcapCerts, v5Certs := dcapCertsDir(t, dcapQuoteCol), dcapCertsDir(t, v5QuoteCol)

	sample := t.TempDir()
	writeIn(t, sample, "pckCert.pem", mustRead(t, intelSample+"pckCert.pem"))
	writeIn(t, sample, "pckSignChain.pem", mustRead(t, intelSample+"pckSignChain.pem"))
	writeIn(t, sample, "pck_crl.der", mustRead(t, intelSample+"intermediateCaCrl.der"))
	writeIn(t, sample, "root_crl.der", mustRead(t, intelSample+"rootCaCrl.der"))
	sampleRoot := writeIn(t, sample, "root.pem", mustRead(t, intelSample+"trustedRootCaCert.pem"))
	sampleWithTCB := t.TempDir()
	for _, f := range []string{"pckCert.pem", "pckSignChain.pem", "root.pem"} {
		writeIn(t, sampleWithTCB, f, mustRead(t, filepath.Join(sample, f)))
	}
	writeIn(t, sampleWithTCB, "tcb_info.json", mustRead(t, intelSample+"tcbInfo.json"))
	writeIn(t, sampleWithTCB, "tcb_info_issuer_chain.pem", mustRead(t, intelSample+"tcbSignChain.pem"))
	sampleRefs := refs("sample.dsse.json", strings.Repeat("00", 48))

	cmp := func(quote, refs, certs, at string, extra ...string) []string {
		a := []string{"compare", "--quote", quote, "--refs", refs, "--key", key + ".pub", "--certs", certs, "--verify-time", at}
		return append(a, extra...)
	}
	tests := []cliCase{
		{"v4 UpToDate", cmp(dcapQuote, dcapRefs, dcapCerts, dcapQuoteTime), 0,
			[]string{"result: PASSED", "tcb                 PASSED", "TCB status UpToDate", "revocation checked:", "hardware-signature  PASSED"}, ""},
		{"v4 UpToDate, other MRTD", cmp(dcapQuote, otherRefs, dcapCerts, dcapQuoteTime), exitNoMatch,
			[]string{"MISMATCH", "result: FAILED"}, "matches no reference value"},
		{"v4 collateral expired", cmp(dcapQuote, dcapRefs, dcapCerts, "2026-01-01T00:00:00Z"), exitHardwareSignature,
			[]string{"result: FAILED"}, ""},
		{"v5 no TCB level", cmp(v5Quote, v5Refs, v5Certs, v5QuoteTime), exitHardwareSignature,
			[]string{"MATCH: the tdx evidence", "result: FAILED", "hardware-signature  FAILED"}, "TCB not supported"},
		{"v5 without TCB info: QE and CRLs", cmp(v5Quote, v5Refs, t.TempDir(), v5QuoteTime), 0,
			[]string{"result: PASSED", "tcb                 NOT-CHECKED"}, ""},
		{"sample chain from files, test root", cmp(intelSample+"quote.dat", sampleRefs, sample, "2022-01-01T00:00:00Z", "--trust-root", sampleRoot), 0,
			[]string{"result: PASSED", "a root supplied by the caller, NOT the vendor's"}, ""},
		{"sample chain from files, root not named", cmp(intelSample+"quote.dat", sampleRefs, sample, "2022-01-01T00:00:00Z"), exitUnverified,
			[]string{"result: UNVERIFIED"}, "not the vendor's root"},
		{"sample without its chain files", cmp(intelSample+"quote.dat", sampleRefs, t.TempDir(), "2022-01-01T00:00:00Z"), exitHardwareSignature,
			[]string{"result: FAILED"}, "PCK"},
		{"sample TCB info with SVNs above 255", cmp(intelSample+"quote.dat", sampleRefs, sampleWithTCB, "2022-01-01T00:00:00Z", "--trust-root", sampleRoot), exitHardwareSignature,
			[]string{"result: FAILED"}, "svn is 65473"},
	}
	runCases(t, tests)
}
