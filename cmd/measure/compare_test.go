//go:build !measure_front

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/internal/vectors"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

const (
	recordedReport = "../../verify/testdata/snp-attestation.bin"
	recordedQuote  = "../../verify/testdata/tdx-quote-v4.dat"
	// recordedMRTD etc. are the recorded quote's registers as go-tdx-guest's
	// validate/validate_test.go lists them (see verify/testdata/README.md).
	recordedMRTD  = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"
	recordedRTMR0 = "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a"
	quoteTime     = "2023-07-01T01:00:00Z" // when go-tdx-guest's tests verify the quote
	reportTime    = "2025-01-01T00:00:00Z" // the test chain and the recorded VCEK are valid then
)

// vectorDigest returns the expected value of row id of testdata/vectors/snp.tsv
// (virtee/sev-snp-measure's digest).
func vectorDigest(t *testing.T, id string) [48]byte {
	t.Helper()
	d, err := vectors.SNPDigest(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// compareFixture holds signed reference values for bookworm's OVMF.fd (1 to
// 8 vCPUs, EPYC-v4 and EPYC-Milan, QEMU), a TDX statement with the recorded
// quote's MRTD, and synthetic reports signed by go-sev-guest's test keys.
type compareFixture struct {
	dir, key, otherKey string
	refs, tdxRefs      string
	certs, emptyCerts  string
	signer             *verifytest.Signer
}

func newCompareFixture(t *testing.T) *compareFixture {
	t.Helper()
	f := &compareFixture{dir: t.TempDir()}
	f.key = keygen(t, f.dir, "ci", "")
	f.otherKey = keygen(t, f.dir, "other", "")
	stmt, stderr, code := runCLI("snp", "--ovmf", bookworm, "--vcpus", "1-8", "--vcpu-type", "EPYC-v4,EPYC-Milan", "--output", "statement")
	if code != 0 {
		t.Fatalf("snp: %s", stderr)
	}
	stmtPath := writeIn(t, f.dir, "refs.json", []byte(stmt))
	env, stderr, code := runCLI("sign", "--key", f.key+".key", stmtPath)
	if code != 0 {
		t.Fatalf("sign: %s", stderr)
	}
	f.refs = writeIn(t, f.dir, "refs.dsse.json", []byte(env))

	// TDX reference values with the recorded quote's MRTD and RTMR0 (a
	// hand-written statement: measure tdx does not write statements yet).
	rv := provenance.ReferenceValues{
		Platform: "tdx",
		Firmware: provenance.Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("11", 32), "sha384": strings.Repeat("22", 48)}},
		Values: []provenance.ReferenceValue{
			{Configuration: provenance.Configuration{VMMType: "qemu"}, Measurements: []provenance.Measurement{
				{Register: "MRTD", Digest: map[string]string{"sha384": recordedMRTD}},
				{Register: "RTMR0", Digest: map[string]string{"sha384": recordedRTMR0}},
			}},
		},
		Tool: provenance.Tool{Name: "measure", Version: "test"},
	}
	f.tdxRefs = signRefs(t, f.dir, f.key, "tdx.dsse.json", rv)

	var err error
	if f.signer, err = verifytest.NewSigner(); err != nil {
		t.Fatal(err)
	}
	f.certs = filepath.Join(f.dir, "certs")
	f.emptyCerts = filepath.Join(f.dir, "empty")
	for _, d := range []string{f.certs, f.emptyCerts} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeIn(t, f.certs, "vcek.der", f.signer.VCEK())
	writeIn(t, f.certs, "ask.der", f.signer.ASK())
	writeIn(t, f.certs, "ark.der", f.signer.ARK())
	return f
}

func writeIn(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *compareFixture) report(t *testing.T, name string, r verifytest.Report, mutate func([]byte) []byte) string {
	t.Helper()
	b, err := f.signer.Sign(r)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		b = mutate(b)
	}
	return writeIn(t, f.dir, name, b)
}

func TestCompare(t *testing.T) {
	f := newCompareFixture(t)
	v4 := vectorDigest(t, "snp-qemu-bookworm-ovmf-v4-4")
	genoa := vectorDigest(t, "snp-qemu-bookworm-ovmf-genoa-64")
	match := f.report(t, "match.bin", verifytest.Report{Measurement: v4}, nil)
	matchHex := writeIn(t, f.dir, "match.hex", []byte(hex.EncodeToString(mustRead(t, match))+"\n"))
	mismatch := f.report(t, "mismatch.bin", verifytest.Report{Measurement: genoa}, nil)
	tampered := f.report(t, "tampered.bin", verifytest.Report{Measurement: v4}, func(b []byte) []byte { b[0x50] ^= 1; return b })
	truncated := f.report(t, "truncated.bin", verifytest.Report{Measurement: v4}, func(b []byte) []byte { return b[:1000] })
	debug := f.report(t, "debug.bin", verifytest.Report{Measurement: v4, Policy: verifytest.PolicyNoDebug | verifytest.PolicyDebugBit}, nil)
	table, err := f.signer.CertTable()
	if err != nil {
		t.Fatal(err)
	}
	extended := writeIn(t, f.dir, "extended.bin", append(mustRead(t, match), table...))
	withRD := f.report(t, "rd.bin", verifytest.Report{Measurement: v4, ReportData: [64]byte{0xca, 0xfe}, VMPL: 2}, nil)
	// A report that claims bl=9,tee=9,snp=30,ucode=250, signed by the test
	// VCEK, which was issued for TCB 0: it gave PASSED with --min-tcb.
	forged := f.report(t, "forged.bin", verifytest.Report{Measurement: v4, TCB: uint64(250)<<56 | uint64(30)<<48 | uint64(9)<<8 | 9}, nil)

	base := func(report string) []string {
		return []string{"compare", "--report", report, "--refs", f.refs, "--key", f.key + ".pub", "--verify-time", reportTime}
	}
	tests := []cliCase{
		// A match whose hardware signature was not checked is not a PASS:
		// exit 23 unless the caller says, with --no-hardware-check, that it
		// accepts that.
		{"match, signature not checked", base(match), exitUnverified,
			[]string{"MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1", "result: UNVERIFIED", "hardware signature: NOT CHECKED", "policy ok   POLICY.DEBUG = 0"}, "no certificates were given"},
		{"match, hardware check skipped on purpose", append(base(match), "--no-hardware-check"), 0,
			[]string{"result: PASSED", "hardware signature: NOT CHECKED"}, ""},
		{"hex report", append(base(matchHex), "--no-hardware-check"), 0, []string{"MATCH:", "result: PASSED"}, ""},
		// The test chain's root is not AMD's: verified, but trusted only
		// when named with --trust-root.
		{"match, signature checked to a root nobody named", append(base(match), "--certs", f.certs), exitUnverified,
			[]string{"MATCH:", "result: UNVERIFIED", "hardware signature: verified, VCEK (Milan), chained to ARK-Milan", "NOT the vendor's published root"}, "not the vendor's root and was not named as trusted"},
		{"match, signature checked to a named root", append(base(match), "--certs", f.certs, "--trust-root", filepath.Join(f.certs, "ark.der")), 0,
			[]string{"MATCH:", "result: PASSED", "hardware signature: verified, VCEK (Milan), chained to ARK-Milan"}, ""},
		{"extended report carries the VCEK", append(base(extended), "--certs", f.certs, "--trust-root", filepath.Join(f.certs, "ark.der")), 0, []string{"hardware signature: verified, VCEK"}, ""},
		{"mismatch", append(base(mismatch), "--certs", f.certs), exitNoMatch,
			[]string{"MISMATCH: the sev-snp evidence matches none of the 16 configurations", "result: FAILED", "MEASUREMENT: " + hex.EncodeToString(genoa[:])}, "measurement matches no reference value"},
		{"forged TCB", append(base(forged), "--certs", f.certs, "--min-tcb", "snp=30"), exitHardwareSignature,
			[]string{"hardware signature: FAILED", "result: FAILED"}, "REPORTED_TCB is 0xfa1e000000000909"},
		{"wrong signature", append(base(tampered), "--certs", f.certs), exitHardwareSignature, []string{"hardware signature: FAILED", "result: FAILED"}, "hardware signature does not verify"},
		{"test key against AMD roots", append(base(match), "--certs", f.emptyCerts), exitHardwareSignature, []string{"result: FAILED"}, "no VCEK certificate was given"},
		{"truncated", base(truncated), exitEvidence, nil, "SEV-SNP report is 1000 bytes, want 1184"},
		{"debug policy", base(debug), exitPolicy, []string{"MATCH:", "policy FAIL POLICY.DEBUG = 1", "result: FAILED"}, "policy check failed"},
		{"debug allowed", append(base(debug), "--allow-debug", "--no-hardware-check"), 0, []string{"result: PASSED"}, ""},
		{"report data and vmpl", append(base(withRD), "--report-data", "cafe", "--vmpl", "2", "--min-tcb", "snp=0", "--no-hardware-check"), 0, []string{"policy ok   REPORT_DATA", "policy ok   VMPL = 2", "policy ok   REPORTED_TCB"}, ""},
		{"wrong report data", append(base(withRD), "--report-data", "beef"), exitPolicy, []string{"policy FAIL REPORT_DATA"}, "REPORT_DATA is cafe"},
		{"wrong refs key", []string{"compare", "--report", match, "--refs", f.refs, "--key", f.otherKey + ".pub"}, exitThreshold, nil, "not enough valid signatures"},
		{"recorded report, debug and not in refs", base(recordedReport), exitNoMatch, []string{"MISMATCH", "policy FAIL POLICY.DEBUG = 1"}, "matches no reference value"},
		{"recorded quote", []string{"compare", "--quote", recordedQuote, "--refs", f.tdxRefs, "--key", f.key + ".pub", "--certs", f.emptyCerts, "--verify-time", quoteTime}, 0,
			[]string{"MATCH: the tdx evidence matches --vmm-type qemu", "MRTD: " + recordedMRTD, "hardware signature: verified, attestation key certified by the PCK, chained to Intel SGX Root CA", "TCB status collateral (TCB info, QE identity) not checked"}, ""},
		{"quote against SNP refs", []string{"compare", "--quote", recordedQuote, "--refs", f.refs, "--key", f.key + ".pub"}, exitNegative, []string{"MISMATCH: the tdx evidence cannot match reference values for sev-snp", "the reference values are for sev-snp, the evidence is tdx"}, "reference values are for another platform"},
		{"no evidence", []string{"compare", "--refs", f.refs, "--key", f.key + ".pub"}, exitUsage, nil, "--report or --quote is required"},
		{"no key", []string{"compare", "--report", match, "--refs", f.refs}, exitUsage, nil, "--key is required"},
		{"vmpl on a quote", []string{"compare", "--quote", recordedQuote, "--refs", f.tdxRefs, "--key", f.key + ".pub", "--vmpl", "0"}, exitUsage, nil, "--vmpl applies to SEV-SNP"},
		{"bad min-tcb", append(base(match), "--min-tcb", "snp=lots"), exitUsage, nil, "--min-tcb"},
		{"bad verify-time", append(base(match), "--verify-time", "yesterday"), exitUsage, nil, "RFC 3339"},
		{"certs not a directory", append(base(match), "--certs", match), exitUsage, nil, "is not a directory"},
	}
	runCases(t, tests)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompareJSON(t *testing.T) {
	f := newCompareFixture(t)
	match := f.report(t, "match.bin", verifytest.Report{Measurement: vectorDigest(t, "snp-qemu-bookworm-ovmf-v4-1")}, nil)
	args := []string{"compare", "--report", match, "--refs", f.refs, "--key", f.key + ".pub", "--certs", f.certs, "--verify-time", reportTime, "--trust-root", filepath.Join(f.certs, "ark.der")}
	stdout, stderr, code := runCLI(append(args, "--output", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Without --certs, the JSON cannot be read as a pass.
	un, _, ucode := runCLI("compare", "--report", match, "--refs", f.refs, "--key", f.key+".pub", "--output", "json")
	var u struct {
		Result            string
		HardwareSignature struct{ Checked, Verified bool } `json:"hardware_signature"`
	}
	if err := json.Unmarshal([]byte(un), &u); err != nil || ucode != exitUnverified || u.Result != "UNVERIFIED" || u.HardwareSignature.Checked || u.HardwareSignature.Verified {
		t.Errorf("without --certs: exit %d, %+v (%v), want exit %d, result UNVERIFIED, not checked, not verified", ucode, u, err, exitUnverified)
	}
	var v struct {
		Result     string
		Platform   string
		Comparison struct {
			Compared int
			Matches  []struct {
				Configuration struct {
					VCPUs    int
					VCPUType string `json:"vcpu_type"`
				}
			}
		}
		HardwareSignature struct {
			Checked    bool
			Verified   bool
			Signer     string
			VendorRoot bool `json:"vendor_root"`
		} `json:"hardware_signature"`
		Policy []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if v.Result != "PASSED" || v.Platform != "sev-snp" || v.Comparison.Compared != 16 || len(v.Comparison.Matches) != 1 ||
		v.Comparison.Matches[0].Configuration.VCPUs != 1 || v.Comparison.Matches[0].Configuration.VCPUType != "EPYC-v4" ||
		!v.HardwareSignature.Checked || !v.HardwareSignature.Verified || v.HardwareSignature.Signer != "VCEK" || v.HardwareSignature.VendorRoot {
		t.Errorf("verdict %+v, want PASSED, 1 vCPU EPYC-v4 of 16, VCEK checked against a non-vendor root\n%s", v, stdout)
	}

	stdout, stderr, code = runCLI(append(args, "--output", "vsa")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string
		Subject       []struct {
			Name   string
			Digest map[string]string
		}
		Predicate struct {
			Verifier           struct{ ID string }
			TimeVerified       string
			VerificationResult string
			VerifiedLevels     []string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/verification_summary/v1" ||
		st.Predicate.VerificationResult != "PASSED" || st.Predicate.TimeVerified != reportTime ||
		strings.Join(st.Predicate.VerifiedLevels, " ") != strings.Join([]string{verify.LevelMeasurement, verify.LevelPolicy, verify.LevelHardware, verify.LevelTCBCertified}, " ") ||
		len(st.Subject) != 1 || len(st.Subject[0].Digest["sha256"]) != 64 {
		t.Errorf("VSA %+v\n%s", st, stdout)
	}
}

func TestExplain(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	report := func(id string) string {
		b, err := signer.Sign(verifytest.Report{Measurement: vectorDigest(t, id)})
		if err != nil {
			t.Fatal(err)
		}
		return writeIn(t, dir, id+".bin", b)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"qemu", []string{"explain", "--report", report("snp-qemu-bookworm-ovmf-milan-16"), "--ovmf", bookworm}, 0,
			"explained: --vmm-type qemu --vcpus 16 --vcpu-type EPYC-Milan --guest-features 0x1\n", "searched 39936 configurations"},
		{"guest features 0x21", []string{"explain", "--report", report("snp-qemu-bookworm-ovmf-gf21-2"), "--ovmf", bookworm}, 0,
			"explained: --vmm-type qemu --vcpus 2 --vcpu-type EPYC --guest-features 0x21\n", ""},
		{"gce", []string{"explain", "--report", report("snp-gce-bookworm-ovmf-4"), "--ovmf", bookworm, "--output", "json"}, 0,
			`"flags": "--vmm-type gce --vcpus 4 --guest-features 0x1"`, ""},
		{"outside a narrowed space", []string{"explain", "--report", report("snp-qemu-bookworm-ovmf-genoa-64"), "--ovmf", bookworm, "--max-vcpus", "32"}, exitNoMatch,
			"", "no sev-snp configuration of firmware"},
		{"recorded report", []string{"explain", "--report", recordedReport, "--ovmf", trixie}, exitNoMatch, "", "explains MEASUREMENT b07af962"},
		{"kernel on a firmware without a hashes section", []string{"explain", "--report", report("snp-ec2-bookworm-ovmf-4"), "--ovmf", bookworm, "--kernel", initrd}, 0,
			"explained: --vmm-type ec2 --vcpus 4 --guest-features 0x1\n", "skipped: measured direct boot"},
		{"quote", []string{"explain", "--quote", recordedQuote, "--ovmf", bookworm}, exitNoMatch, "", "no page-add order of this firmware gives MRTD 6363b804"},
		{"no firmware", []string{"explain", "--report", recordedReport}, exitUsage, "", "--ovmf is required"},
		{"bad max-vcpus", []string{"explain", "--report", recordedReport, "--ovmf", bookworm, "--max-vcpus", "0"}, exitUsage, "", "--max-vcpus 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantOut) || (tc.wantCode != 0 && stdout != "") {
				t.Errorf("stdout:\n%s\nwant it to contain %q", stdout, tc.wantOut)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.wantErr)
			}
		})
	}
}

// TestReportShowGolden compares report show's output on the recorded
// evidence with files in testdata/ (-update rewrites them).
func TestReportShowGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"report-show-snp.txt", []string{"report", "show", recordedReport}},
		{"report-show-snp.json", []string{"report", "show", recordedReport, "--output", "json"}},
		{"report-show-tdx.txt", []string{"report", "show", recordedQuote}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCLI(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s:\n got:\n%s\nwant:\n%s", path, out, want)
			}
		})
	}
	// The facts the golden files must hold, from go-sev-guest's and
	// go-tdx-guest's own tests.
	for file, want := range map[string][]string{
		"report-show-snp.txt": {"3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d", "bl=2,tee=0,snp=5,ucode=68"},
		"report-show-tdx.txt": {recordedMRTD, recordedRTMR0, "0000004000000000 (pks)"},
	} {
		b := mustRead(t, filepath.Join("testdata", file))
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
}

func TestReportShowErrors(t *testing.T) {
	dir := t.TempDir()
	short := writeIn(t, dir, "short.bin", mustRead(t, recordedReport)[:100])
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"truncated", []string{"report", "show", short}, exitEvidence, "SEV-SNP report is 100 bytes, want 1184"},
		{"not evidence", []string{"report", "show", "../../testdata/fixtures/zero-initrd-1MiB.bin"}, exitEvidence, "neither an SEV-SNP report nor a TDX quote"},
		{"missing", []string{"report", "show", filepath.Join(dir, "none")}, exitUnreadable, "no such file"},
		{"bad output", []string{"report", "show", recordedReport, "--output", "yaml"}, exitUsage, `--output "yaml" is unknown`},
		{"no subcommand", []string{"report"}, exitUsage, "needs a subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || stdout != "" || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, nothing, %q", code, stdout, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestCraftedQuoteExit: a TDX quote whose QE authentication data size runs
// past its end (it made go-tdx-guest panic, exit 2), and a quote with junk
// after it (it gave PASSED), are unreadable evidence: exit 20, one line,
// nothing on stdout.
func TestCraftedQuoteExit(t *testing.T) {
	f := newCompareFixture(t)
	q, err := os.ReadFile(recordedQuote)
	if err != nil {
		t.Fatal(err)
	}
	crafted := append([]byte(nil), q...)
	binary.LittleEndian.PutUint16(crafted[0x4c2:], 0xffff)
	junk := append(append([]byte(nil), q...), bytes.Repeat([]byte{'j'}, 100)...)
	for name, data := range map[string][]byte{"qe auth size": crafted, "trailing junk": junk} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "quote.dat")
			os.WriteFile(p, data, 0o644)
			for _, args := range [][]string{{"report", "show", p}, {"compare", "--quote", p, "--refs", f.tdxRefs, "--key", f.key + ".pub"}} {
				stdout, stderr, code := runCLI(args...)
				if code != exitEvidence || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "TDX quote") {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, one line naming the quote", args[:2], code, stdout, stderr, exitEvidence)
				}
			}
		})
	}
}

// TestExplainWarns: explain finds the configuration, and says that it did
// not verify the hardware signature and, for a debug guest, that the host
// can read it; the JSON carries both facts.
func TestExplainWarns(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	b, err := signer.Sign(verifytest.Report{Measurement: vectorDigest(t, "snp-gce-bookworm-ovmf-4"), Policy: verifytest.PolicyNoDebug | verifytest.PolicyDebugBit})
	if err != nil {
		t.Fatal(err)
	}
	b[0x50] ^= 1 // a broken signature: explain does not look at it
	p := writeIn(t, t.TempDir(), "debug.bin", b)
	stdout, stderr, code := runCLI("explain", "--report", p, "--ovmf", bookworm, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"hardware signature was not verified", "allows debugging (POLICY.DEBUG = 1)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var e struct {
		Result            string `json:"result"`
		SignatureVerified bool   `json:"signature_verified"`
		DebugAllowed      bool   `json:"debug_allowed"`
		Found             []struct{ Flags string }
	}
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || e.Result != "explained" || e.SignatureVerified || !e.DebugAllowed || len(e.Found) != 1 || e.Found[0].Flags == "" {
		t.Errorf("explain JSON %+v (%v), want explained, debug_allowed true, signature_verified false, one configuration\n%s", e, err, stdout)
	}
}
