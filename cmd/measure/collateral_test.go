//go:build !measure_front

package main

import (
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/measure-cc/measure/verify/verifytest"
)

// route is one response of a fake KDS or PCS.
type route struct {
	body     []byte
	header   map[string]string
	status   int
	truncate bool // declare the full length, send half, close
}

// fakeServer serves routes by request URI and counts requests.
type fakeServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newFakeServer(t *testing.T, routes map[string]route) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		rt, ok := routes[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, v := range rt.header {
			w.Header().Set(k, v)
		}
		if rt.truncate {
			w.Header().Set("Content-Length", strconv.Itoa(len(rt.body)))
			w.Write(rt.body[:len(rt.body)/2])
			return
		}
		if rt.status != 0 {
			w.WriteHeader(rt.status)
		}
		w.Write(rt.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// far is a nextUpdate later than any clock these tests run on, so that a
// cached CRL stays fresh for an online second run.
var far = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)

// TestCompareFetchSNP: --fetch gets the VCEK, cert_chain and CRL from a
// fake KDS (go-sev-guest's test chain), caches them, and a second run needs
// no server; a KDS that lies or refuses is a hardware failure, one line.
func TestCompareFetchSNP(t *testing.T) {
	f := newCompareFixture(t)
	var hwid [64]byte
	for i := range hwid {
		hwid[i] = byte(i + 1)
	}
	s, err := verifytest.NewSignerFor(verifytest.Chain{HWID: hwid})
	if err != nil {
		t.Fatal(err)
	}
	v4 := vectorDigest(t, "snp-qemu-bookworm-ovmf-v4-4")
	raw, err := s.Sign(verifytest.Report{Measurement: v4, ChipID: hwid})
	if err != nil {
		t.Fatal(err)
	}
	report := writeIn(t, f.dir, "chip.bin", raw)
	vlekRaw, err := s.Sign(verifytest.Report{Measurement: v4, ChipID: hwid, VLEK: true})
	if err != nil {
		t.Fatal(err)
	}
	vlekReport := writeIn(t, f.dir, "vlek.bin", vlekRaw)
	ark := writeIn(t, f.dir, "test-ark.der", s.ARK())
	otherHWID := hwid
	otherHWID[0] ^= 0xff
	other, err := verifytest.NewSignerFor(verifytest.Chain{HWID: otherHWID})
	if err != nil {
		t.Fatal(err)
	}
	crl := func(c verifytest.CRL) []byte {
		c.NextUpdate = far
		b, err := s.CRL(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The VCEK's KDS path for a version 2 report (no product line in it):
	// Milan, CHIP_ID in hex, REPORTED_TCB 0 (AMD KDS specification 57230,
	// "Get VCEK Certificate").
	vcekPath := "/vcek/v1/Milan/" + hex.EncodeToString(hwid[:]) + "?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=0"
	kds := func(over map[string]route) map[string]route {
		m := map[string]route{
			vcekPath:                    {body: s.VCEK()},
			"/vcek/v1/Milan/cert_chain": {body: append(pemCert(s.ASK()), pemCert(s.ARK())...)},
			"/vcek/v1/Milan/crl":        {body: crl(verifytest.CRL{})},
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	args := func(r, kdsURL, cache string, extra ...string) []string {
		return append([]string{"compare", "--report", r, "--refs", f.refs, "--key", f.key + ".pub", "--verify-time", reportTime,
			"--trust-root", ark, "--kds-url", kdsURL, "--cache", cache}, extra...)
	}

	t.Run("fetch, then the cache with the server gone", func(t *testing.T) {
		srv := newFakeServer(t, kds(nil))
		cache := t.TempDir()
		stdout, stderr, code := runCLI(args(report, srv.URL, cache, "--fetch")...)
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
		}
		for _, w := range []string{"result: PASSED", "hardware signature: verified, VCEK (Milan)", "revocation checked: ", "source: " + srv.URL + vcekPath, "source: " + srv.URL + "/vcek/v1/Milan/crl"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("stdout lacks %q:\n%s", w, stdout)
			}
		}
		if strings.Contains(stdout, "CRL) not checked") {
			t.Errorf("stdout says the CRL was not checked:\n%s", stdout)
		}
		if n := srv.hits.Load(); n != 3 {
			t.Errorf("%d requests to the KDS, want 3", n)
		}
		srv.Close()
		for _, extra := range [][]string{{"--fetch"}, nil} {
			stdout, stderr, code := runCLI(args(report, srv.URL, cache, extra...)...)
			if code != 0 || !strings.Contains(stdout, "source: "+srv.URL+vcekPath+" (cache)") {
				t.Errorf("cached run %v: exit %d, %s\n%s", extra, code, stderr, stdout)
			}
		}
	})

	// A host with no certificates installed hands out an extended report
	// whose table is empty: the VCEK must still be fetched.
	t.Run("extended report with an empty table", func(t *testing.T) {
		srv := newFakeServer(t, kds(nil))
		empty := writeIn(t, f.dir, "empty-table.bin", append(append([]byte(nil), raw...), make([]byte, 24)...))
		stdout, stderr, code := runCLI(args(empty, srv.URL, t.TempDir(), "--fetch")...)
		if code != 0 || !strings.Contains(stdout, "source: "+srv.URL+vcekPath) {
			t.Errorf("exit %d, %s\n%s", code, stderr, stdout)
		}
	})

	t.Run("nothing touches the network without --fetch", func(t *testing.T) {
		srv := newFakeServer(t, kds(nil))
		_, stderr, code := runCLI(args(report, srv.URL, t.TempDir())...)
		if code != exitHardwareSignature || !strings.Contains(stderr, "fetching it needs the network") {
			t.Errorf("exit %d, stderr %q; want %d and a cache miss", code, stderr, exitHardwareSignature)
		}
		stdout, _, code := runCLI("compare", "--report", report, "--refs", f.refs, "--key", f.key+".pub", "--kds-url", srv.URL)
		if code != exitUnverified || !strings.Contains(stdout, "NOT CHECKED") {
			t.Errorf("without --certs, --fetch, --cache: exit %d\n%s", code, stdout)
		}
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("%d requests without --fetch", n)
		}
	})

	tests := []struct {
		name    string
		report  string
		over    map[string]route
		wantErr string
	}{
		{"ASK revoked", report, map[string]route{"/vcek/v1/Milan/crl": {body: crl(verifytest.CRL{Revoked: [][]byte{s.ASK()}})}}, "the ASK certificate (serial"},
		{"a VCEK for another chip", report, map[string]route{vcekPath: {body: other.VCEK()}}, "but the VCEK certificate is for HWID"},
		{"a login page for the VCEK", report, map[string]route{vcekPath: {body: []byte("<html>sign in</html>")}}, "neither PEM nor DER"},
		{"a key for the chain", report, map[string]route{"/vcek/v1/Milan/cert_chain": {body: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}}, "want CERTIFICATE"},
		{"a CRL signed by another key", report, map[string]route{"/vcek/v1/Milan/crl": {body: crl(verifytest.CRL{OtherKey: true})}}, "is not signed by"},
		{"a truncated CRL", report, map[string]route{"/vcek/v1/Milan/crl": {body: crl(verifytest.CRL{}), truncate: true}}, "truncated"},
		{"rate limited", report, map[string]route{vcekPath: {status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "60"}}}, "HTTP 429"},
		{"no VCEK at the KDS", report, map[string]route{vcekPath: {status: http.StatusNotFound}}, "404"},
		{"VLEK cannot be fetched", vlekReport, nil, "VLEK, which AMD's KDS issues only to the cloud provider"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeServer(t, kds(tc.over))
			stdout, stderr, code := runCLI(args(tc.report, srv.URL, t.TempDir(), "--fetch")...)
			if code != exitHardwareSignature || !strings.Contains(stderr, tc.wantErr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d, one line containing %q\n%s", code, stderr, exitHardwareSignature, tc.wantErr, stdout)
			}
			if !strings.Contains(stdout, "result: FAILED") {
				t.Errorf("stdout lacks the FAILED verdict:\n%s", stdout)
			}
		})
	}
}

// TestCompareFetchTDX: --fetch gets TCB info, QE identity and both CRLs
// from a fake PCS (a PCCS layout: --pcs-url set), signed by a test PKI the
// quote is re-signed with; the TCB status policy decides the verdict.
func TestCompareFetchTDX(t *testing.T) {
	f := newCompareFixture(t)
	tmpl := mustRead(t, recordedQuote)
	pki, err := verifytest.NewTDXPKI(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	q, err := pki.Quote(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	quote := writeIn(t, f.dir, "test-quote.dat", q)
	root := writeIn(t, f.dir, "test-root.pem", pki.RootPEM())
	const at = "2024-01-11T00:00:00Z"
	issue := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	tcbTmpl := mustRead(t, "../../verify/testdata/tdx-tcbinfo.json")
	qeTmpl := mustRead(t, "../../verify/testdata/tdx-qeidentity.json")
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sa := []string{"INTEL-SA-00837", "INTEL-SA-00960"}
	chain := url.QueryEscape(string(pki.IssuerChain()))
	const (
		tcbPath     = "/tdx/certification/v4/tcb?fmspc=50806f000000"
		qePath      = "/tdx/certification/v4/qe/identity"
		pckCRLPath  = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
		rootCRLPath = "/sgx/certification/v4/rootcacrl"
	)
	pcs := func(over map[string]route) map[string]route {
		m := map[string]route{
			tcbPath:     {body: must(pki.TCBInfo(tcbTmpl, q, issue, far, verifytest.TDXLevel{Status: "UpToDate"})), header: map[string]string{"TCB-Info-Issuer-Chain": chain}},
			qePath:      {body: must(pki.QEIdentity(qeTmpl, issue, far)), header: map[string]string{"SGX-Enclave-Identity-Issuer-Chain": chain}},
			pckCRLPath:  {body: must(pki.PCKCRL(issue, far, false)), header: map[string]string{"SGX-PCK-CRL-Issuer-Chain": url.QueryEscape(string(pki.PCKCRLIssuerChain()))}},
			rootCRLPath: {body: must(pki.RootCRL(issue, far, false))},
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	outOfDate := route{body: must(pki.TCBInfo(tcbTmpl, q, issue, far, verifytest.TDXLevel{Status: "UpToDate", Higher: true}, verifytest.TDXLevel{Status: "OutOfDate", Advisories: sa})), header: map[string]string{"TCB-Info-Issuer-Chain": chain}}
	args := func(pcsURL, cache string, extra ...string) []string {
		return append([]string{"compare", "--quote", quote, "--refs", f.tdxRefs, "--key", f.key + ".pub", "--verify-time", at,
			"--trust-root", root, "--pcs-url", pcsURL, "--cache", cache}, extra...)
	}
	// The test root is given as the trusted root through --certs too,
	// since a quote's chain is verified to the root --certs names.
	certs := t.TempDir()
	writeIn(t, certs, "root.pem", pki.RootPEM())

	t.Run("fetch, then the cache with the server gone", func(t *testing.T) {
		srv := newFakeServer(t, pcs(nil))
		cache := t.TempDir()
		stdout, stderr, code := runCLI(args(srv.URL, cache, "--fetch", "--certs", certs)...)
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
		}
		for _, w := range []string{"result: PASSED", "TCB status: UpToDate", "revocation checked: Intel SGX PCK Platform CA", "source: " + srv.URL + tcbPath} {
			if !strings.Contains(stdout, w) {
				t.Errorf("stdout lacks %q:\n%s", w, stdout)
			}
		}
		if n := srv.hits.Load(); n != 4 {
			t.Errorf("%d requests to the PCS, want 4", n)
		}
		srv.Close()
		stdout, stderr, code = runCLI(args(srv.URL, cache, "--fetch", "--certs", certs)...)
		if code != 0 || !strings.Contains(stdout, "source: "+srv.URL+tcbPath+" (cache)") {
			t.Errorf("cached run: exit %d, %s\n%s", code, stderr, stdout)
		}
	})

	tests := []struct {
		name     string
		over     map[string]route
		extra    []string
		wantCode int
		wantErr  string
		wantOut  string
	}{
		{"OutOfDate refused", map[string]route{tcbPath: outOfDate}, nil, exitPolicy, "TCB status for the platform is OutOfDate (advisories INTEL-SA-00837, INTEL-SA-00960)", "TCB status: OutOfDate INTEL-SA-00837 INTEL-SA-00960"},
		{"OutOfDate accepted with --tcb-status", map[string]route{tcbPath: outOfDate}, []string{"--tcb-status", "OutOfDate"}, 0, "", "result: PASSED"},
		{"PCK revoked", map[string]route{pckCRLPath: {body: must(pki.PCKCRL(issue, far, true)), header: map[string]string{"SGX-PCK-CRL-Issuer-Chain": url.QueryEscape(string(pki.PCKCRLIssuerChain()))}}}, nil, exitHardwareSignature, "the PCK certificate (serial", "result: FAILED"},
		{"PCK CA revoked", map[string]route{rootCRLPath: {body: must(pki.RootCRL(issue, far, true))}}, nil, exitHardwareSignature, "the PCK CA certificate (serial", "result: FAILED"},
		{"root CRL signed by another key", map[string]route{rootCRLPath: {body: must(pki.OtherRootCRL(issue, far))}}, nil, exitHardwareSignature, "root CA CRL", "result: FAILED"},
		{"TCB info truncated", map[string]route{tcbPath: {body: outOfDate.body, header: outOfDate.header, truncate: true}}, nil, exitHardwareSignature, "truncated", "result: FAILED"},
		{"rate limited", map[string]route{qePath: {status: http.StatusTooManyRequests}}, nil, exitHardwareSignature, "HTTP 429", "result: FAILED"},
		{"TCB info without its issuer chain", map[string]route{tcbPath: {body: outOfDate.body}}, nil, exitHardwareSignature, "0 TCB-Info-Issuer-Chain headers, want 1", "result: FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeServer(t, pcs(tc.over))
			stdout, stderr, code := runCLI(append(args(srv.URL, t.TempDir(), "--fetch", "--certs", certs), tc.extra...)...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantOut) {
				t.Fatalf("exit %d, want %d; stdout lacks %q?\n%s\nstderr: %s", code, tc.wantCode, tc.wantOut, stdout, stderr)
			}
			if tc.wantCode != 0 && (!strings.Contains(stderr, tc.wantErr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", stderr, tc.wantErr)
			}
		})
	}
}

// TestCompareTDXCollateralFiles: go-tdx-guest's sample collateral, as files
// in --certs, for its sample quote at the time its tests use: no TCB level
// matches (go-tdx-guest's TestNegativeRawQuoteVerifyWithCollateral: "no
// matching TCB level found"), a hardware failure.
func TestCompareTDXCollateralFiles(t *testing.T) {
	f := newCompareFixture(t)
	certs := t.TempDir()
	for name, src := range map[string]string{
		"tcb_info.json": "tdx-tcbinfo.json", "tcb_info_issuer_chain.pem": "tdx-tcbinfo-issuer-chain.pem",
		"qe_identity.json": "tdx-qeidentity.json", "qe_identity_issuer_chain.pem": "tdx-qeidentity-issuer-chain.pem",
		"pck_crl.der": "tdx-pckcrl.der", "pck_crl_issuer_chain.pem": "tdx-pckcrl-issuer-chain.pem", "root_crl.der": "tdx-rootcrl.der",
	} {
		writeIn(t, certs, name, mustRead(t, filepath.Join("../../verify/testdata", src)))
	}
	base := []string{"compare", "--quote", recordedQuote, "--refs", f.tdxRefs, "--key", f.key + ".pub", "--certs", certs, "--verify-time", quoteTime}
	stdout, stderr, code := runCLI(base...)
	if code != exitHardwareSignature || !strings.Contains(stderr, "TCB not supported") || !strings.Contains(stdout, "result: FAILED") {
		t.Errorf("exit %d, stderr %q; want %d, TCB not supported\n%s", code, stderr, exitHardwareSignature, stdout)
	}
	for _, bad := range [][]string{{"--tcb-status", "Revoked"}, {"--tcb-status", "Fine"}, {"--pcs-url", "ftp://pcs"}} {
		_, stderr, code := runCLI(append(base, bad...)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", bad, code, stderr, exitUsage)
		}
	}
	_, stderr, code = runCLI("compare", "--report", recordedReport, "--refs", f.refs, "--key", f.key+".pub", "--tcb-status", "OutOfDate")
	if code != exitUsage || !strings.Contains(stderr, "--tcb-status applies to TDX quotes") {
		t.Errorf("--tcb-status on a report: exit %d, %s", code, stderr)
	}
}
