//go:build !measure_front

package main

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
)

// realVerifyTime is when project-oak/oak's tests check its VCEKs
// (2025-10-01T08:00:00Z); every certificate of the reports below is valid
// then. The AWS VLEK expired on 2025-12-10.
const realVerifyTime = "2025-10-01T08:00:00Z"

// realReport is a report recorded on real hardware by another project, with
// the values its source's tests, or the certificate the source fetched for
// it, assert (verify/testdata/README.md).
type realReport struct {
	name        string
	report      string
	cert        string // the VCEK or VLEK
	certName    string // its name in --certs
	measurement string
	chipID      string
	tcb         string // REPORTED_TCB as report show prints it
	signer      string
	line        string
}

var realReports = []realReport{
	{
		name: "virtee Milan", report: "../../verify/testdata/snp-virtee-milan-report.bin",
		cert: "../../verify/testdata/snp-virtee-milan-vcek.der", certName: "vcek.der",
		measurement: "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
		chipID:      "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6",
		tcb:         "bl=3,tee=0,snp=8,ucode=115", signer: "VCEK", line: "Milan",
	},
	{
		name: "AWS VLEK", report: "../../verify/testdata/snp-vlek-report.bin",
		cert: "../../verify/testdata/snp-vlek.der", certName: "vlek.der",
		measurement: "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0",
		chipID:      strings.Repeat("00", 64),
		tcb:         "bl=4,tee=0,snp=24,ucode=217", signer: "VLEK", line: "Milan",
	},
	{
		name: "oak Genoa", report: "../../verify/testdata/snp-oak-genoa-report.bin",
		cert: "../../verify/testdata/snp-oak-genoa-vcek.der", certName: "vcek.pem", // DER under a .pem name: either is read
		measurement: "c57729018b0a6fb90dc17bb138b0aa35e4401004283ff4a2c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc",
		chipID:      "d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102adbc7c53d0302bff82a432c94a305dec7a7a270ceb19a10f04a83316c6486968d",
		tcb:         "bl=10,tee=0,snp=25,ucode=84", signer: "VCEK", line: "Genoa",
	},
}

// The Turin report (project-oak/oak): see TestRealReportTurin.
const (
	turinReport      = "../../verify/testdata/snp-oak-turin-report.bin"
	turinVCEK        = "../../verify/testdata/snp-oak-turin-vcek.der"
	turinMeasurement = "f924dd18f168df60fbea937f0b086284d51b1b376de872bac43694f61134d57967c318018de7335503023dbb50dee624"
)

// signedSNPRefs writes SEV-SNP reference values whose one configuration has
// MEASUREMENT m, signed with the key at prefix, and returns the envelope.
func signedSNPRefs(t *testing.T, dir, name, prefix, m string) string {
	t.Helper()
	rv := hclRefs("sev-snp", "MEASUREMENT", m)
	rv.Firmware.Name = "firmware.fd"
	rv.Values[0].Configuration = provenance.Configuration{VMMType: "qemu", VCPUs: 1}
	return signRefs(t, dir, prefix, name, rv)
}

// certsDir makes a --certs directory holding only the signing certificate:
// the ASK, ASVK and ARK are AMD's, built in.
func certsDir(t *testing.T, cert, name string) string {
	t.Helper()
	d := t.TempDir()
	writeIn(t, d, name, mustRead(t, cert))
	return d
}

// showFields runs report show in text and JSON and returns the fields of
// each, which must agree.
func showFields(t *testing.T, report string) map[string]string {
	t.Helper()
	text, stderr, code := runCLI("report", "show", report)
	if code != 0 {
		t.Fatalf("report show: exit %d: %s", code, stderr)
	}
	fromText := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		name, value, _ := strings.Cut(line, "  ")
		fromText[name] = strings.TrimSpace(value)
	}
	js, stderr, code := runCLI("report", "show", report, "--output", "json")
	if code != 0 {
		t.Fatalf("report show --output json: exit %d: %s", code, stderr)
	}
	var v struct {
		Platform string
		Fields   []struct{ Name, Value string }
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if v.Platform != "sev-snp" || fromText["PLATFORM"] != "sev-snp" {
		t.Errorf("platform %q (JSON), %q (text), want sev-snp", v.Platform, fromText["PLATFORM"])
	}
	for _, f := range v.Fields {
		if fromText[f.Name] != f.Value {
			t.Errorf("%s: text %q, JSON %q", f.Name, fromText[f.Name], f.Value)
		}
	}
	if len(v.Fields)+1 != len(fromText) {
		t.Errorf("%d fields in JSON, %d lines of text (with PLATFORM)", len(v.Fields), len(fromText))
	}
	return fromText
}

// TestRealReportShow: report show prints the values the sources assert.
func TestRealReportShow(t *testing.T) {
	for _, r := range realReports {
		t.Run(r.name, func(t *testing.T) {
			f := showFields(t, r.report)
			for name, want := range map[string]string{"MEASUREMENT": r.measurement, "CHIP_ID": r.chipID} {
				if f[name] != want {
					t.Errorf("%s = %s, want %s", name, f[name], want)
				}
			}
			if !strings.HasSuffix(f["REPORTED_TCB"], "("+r.tcb+")") {
				t.Errorf("REPORTED_TCB = %s, want (%s)", f["REPORTED_TCB"], r.tcb)
			}
			if !strings.Contains(f["SIGNER_INFO"], "signed by "+r.signer) {
				t.Errorf("SIGNER_INFO = %s, want signed by %s", f["SIGNER_INFO"], r.signer)
			}
			if !strings.Contains(f["POLICY"], "debug no") {
				t.Errorf("POLICY = %s, want debug no", f["POLICY"])
			}
		})
	}
}

// TestRealReportCompare: compare with signed reference values holding the
// report's MEASUREMENT and --certs holding only its VCEK or VLEK passes,
// verified to AMD's root (a VLEK through the built-in ASVK); another
// measurement is a MISMATCH; without --certs the verdict is UNVERIFIED.
func TestRealReportCompare(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	other := signedSNPRefs(t, dir, "other.dsse.json", key, turinMeasurement)
	for _, r := range realReports {
		t.Run(r.name, func(t *testing.T) {
			refs := signedSNPRefs(t, dir, r.name+".dsse.json", key, r.measurement)
			certs := certsDir(t, r.cert, r.certName)
			base := func(refs string) []string {
				return []string{"compare", "--report", r.report, "--refs", refs, "--key", key + ".pub", "--verify-time", realVerifyTime}
			}
			verified := "hardware signature: verified, " + r.signer + " (" + r.line + "), chained to ARK-" + r.line + " (sha256 "
			tests := []cliCase{
				{"match, verified", append(base(refs), "--certs", certs), 0,
					[]string{"MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 1", "result: PASSED", verified,
						"certified TCB: " + r.tcb + " (the " + r.signer + " certificate's, equal to REPORTED_TCB)", "MEASUREMENT: " + r.measurement}, ""},
				{"match, minimum TCB its own", append(base(refs), "--certs", certs, "--min-tcb", r.tcb), 0,
					[]string{"result: PASSED", "policy ok   REPORTED_TCB"}, ""},
				{"another measurement", append(base(other), "--certs", certs), exitNoMatch,
					[]string{"MISMATCH: the sev-snp evidence matches none of the 1 configurations", "result: FAILED", verified,
						"failure: measurement matches no reference value: MEASUREMENT " + r.measurement + " matches none of 1 configuration(s)"}, "measurement matches no reference value"},
				{"match, reference values in a Sigstore bundle", append(base(bundleOf(t, dir, r.name, key, refs)), "--certs", certs), 0,
					[]string{"MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 1", "result: PASSED", verified}, ""},
				{"no certificates", base(refs), exitUnverified,
					[]string{"MATCH:", "result: UNVERIFIED", "hardware signature: NOT CHECKED"}, "no certificates were given"},
				{"certificates valid only later", append(base(refs), "--certs", certs, "--verify-time", "2020-01-01T00:00:00Z"), exitHardwareSignature,
					[]string{"hardware signature: FAILED", "result: FAILED"}, "not yet valid"},
			}
			runCases(t, tests)

			stdout, stderr, code := runCLI(append(base(refs), "--certs", certs, "--output", "json")...)
			if code != 0 {
				t.Fatalf("--output json: exit %d: %s", code, stderr)
			}
			var v struct {
				Result            string
				HardwareSignature struct {
					Checked, Verified bool
					VendorRoot        bool `json:"vendor_root"`
					Signer            string
					ProductLine       string                                        `json:"product_line"`
					CertifiedTCB      struct{ Bootloader, TEE, SNP, Microcode int } `json:"certified_tcb"`
				} `json:"hardware_signature"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			h := v.HardwareSignature
			if v.Result != "PASSED" || !h.Checked || !h.Verified || !h.VendorRoot || h.Signer != r.signer || h.ProductLine != r.line {
				t.Errorf("JSON verdict %+v, want PASSED, verified to the vendor root by the %s (%s)\n%s", v, r.signer, r.line, stdout)
			}
		})
	}
}

// TestRealReportVLEKExpired: AWS's VLEK is valid to 2025-12-10; the report
// fails after that however well everything else matches.
func TestRealReportVLEKExpired(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	r := realReports[1]
	refs := signedSNPRefs(t, dir, "refs.dsse.json", key, r.measurement)
	stdout, stderr, code := runCLI("compare", "--report", r.report, "--refs", refs, "--key", key+".pub",
		"--certs", certsDir(t, r.cert, r.certName), "--verify-time", "2026-01-01T00:00:00Z")
	if code != exitHardwareSignature || !strings.Contains(stdout, "MATCH:") || !strings.Contains(stdout, "hardware signature: FAILED") ||
		!strings.Contains(stderr, "VLEK") || !strings.Contains(stderr, "expired") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s\nwant exit %d, a match whose expired VLEK fails", code, stdout, stderr, exitHardwareSignature)
	}
}

// TestRealReportExplain: no firmware here reproduces the real reports'
// measurements (their firmware is not published with them), so explain
// exits 1 naming the MEASUREMENT the source asserts, prints nothing on
// standard output, and does not reach the warnings it prints with an
// explanation.
func TestRealReportExplain(t *testing.T) {
	reports := append([]realReport{}, realReports...)
	reports = append(reports, realReport{name: "oak Turin", report: turinReport, measurement: turinMeasurement})
	for _, r := range reports {
		t.Run(r.name, func(t *testing.T) {
			stdout, stderr, code := runCLI("explain", "--report", r.report, "--ovmf", bookworm, "--max-vcpus", "16")
			if code != exitNoMatch || stdout != "" || !strings.Contains(stderr, "explains MEASUREMENT "+r.measurement) || strings.Contains(stderr, "warning:") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, nothing, the MEASUREMENT named", code, stdout, stderr, exitNoMatch)
			}
		})
	}
}

// TestRealReportTurin: a genuine Turin report and VCEK (project-oak/oak;
// routex-client-lua asserts its fields). report show prints its TCB_VERSION
// fields in Turin's layout, with FMC: REPORTED_TCB fmc=0,bl=1,tee=0,snp=2,
// ucode=71 (Oak's reference values and the KDS request Oak made for the
// VCEK). compare with matching reference values and only the VCEK passes,
// verified to AMD's Turin ARK (the VCEK's FMC SPL extension, which
// go-sev-guest v0.15.0 refuses, is read by verify), the certified TCB
// with FMC. --min-tcb is held against Turin's components: tee=1, which
// the Milan/Genoa layout's misreading (bl=0,tee=1,snp=0,ucode=71) met,
// fails; an FMC minimum fails any Milan or Genoa report.
func TestRealReportTurin(t *testing.T) {
	const tcb = "fmc=0,bl=1,tee=0,snp=2,ucode=71"
	f := showFields(t, turinReport)
	if f["MEASUREMENT"] != turinMeasurement || f["CPUID_FAM_ID/MOD_ID/STEP"] != "0x1a/0x2/0x1 (Turin)" || f["VERSION"] != "5" {
		t.Errorf("MEASUREMENT %s, CPUID %s, VERSION %s; want %s, 0x1a/0x2/0x1 (Turin), 5", f["MEASUREMENT"], f["CPUID_FAM_ID/MOD_ID/STEP"], f["VERSION"], turinMeasurement)
	}
	if got, want := f["REPORTED_TCB"], "0x4700000002000100 ("+tcb+")"; got != want {
		t.Errorf("REPORTED_TCB = %s, want %s", got, want)
	}
	for _, name := range []string{"CURRENT_TCB", "COMMITTED_TCB", "LAUNCH_TCB"} {
		if !strings.Contains(f[name], "(fmc=") {
			t.Errorf("%s = %s, want Turin's layout with fmc", name, f[name])
		}
	}

	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	refs := signedSNPRefs(t, dir, "refs.dsse.json", key, turinMeasurement)
	base := []string{"compare", "--report", turinReport, "--refs", refs, "--key", key + ".pub",
		"--certs", certsDir(t, turinVCEK, "vcek.der"), "--verify-time", realVerifyTime}
	verified := "hardware signature: verified, VCEK (Turin), chained to ARK-Turin (sha256 "
	tests := []cliCase{
		{"match, verified", base, 0,
			[]string{"MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 1", "result: PASSED", verified,
				"certified TCB: " + tcb + " (the VCEK certificate's, equal to REPORTED_TCB)"}, ""},
		{"minimum TCB its own", append(base, "--min-tcb", tcb), 0, []string{"result: PASSED", "policy ok   REPORTED_TCB"}, ""},
		{"minimum TCB its own TCB_VERSION", append(base, "--min-tcb", "0x4700000002000100"), 0, []string{"result: PASSED"}, ""},
		{"minimum tee=1", append(base, "--min-tcb", "tee=1"), exitPolicy, []string{"result: FAILED"},
			"REPORTED_TCB is " + tcb + ", want at least bl=0,tee=1,snp=0,ucode=0"},
		{"minimum fmc=1", append(base, "--min-tcb", "fmc=1,bl=1,snp=2,ucode=71"), exitPolicy, []string{"result: FAILED"},
			"want at least fmc=1,bl=1,tee=0,snp=2,ucode=71"},
		{"VCEK not yet valid", append(base, "--verify-time", "2020-01-01T00:00:00Z"), exitHardwareSignature,
			[]string{"hardware signature: FAILED", "result: FAILED"}, "not yet valid"},
	}
	runCases(t, tests)

	stdout, stderr, code := runCLI(append(base, "--output", "json")...)
	if code != 0 {
		t.Fatalf("--output json: exit %d: %s", code, stderr)
	}
	var v struct {
		Result            string
		HardwareSignature struct {
			Verified     bool
			ProductLine  string         `json:"product_line"`
			CertifiedTCB map[string]int `json:"certified_tcb"`
		} `json:"hardware_signature"`
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	wantTCB := map[string]int{"fmc": 0, "bootloader": 1, "tee": 0, "snp": 2, "microcode": 71}
	if h := v.HardwareSignature; v.Result != "PASSED" || !h.Verified || h.ProductLine != "Turin" || !maps.Equal(h.CertifiedTCB, wantTCB) {
		t.Errorf("JSON verdict %+v, want PASSED, verified, Turin, certified TCB %v", v, wantTCB)
	}

	// An FMC minimum against a Milan report fails closed, saying why.
	milan := realReports[0]
	milanRefs := signedSNPRefs(t, dir, "milan.dsse.json", key, milan.measurement)
	stdout, stderr, code = runCLI("compare", "--report", milan.report, "--refs", milanRefs, "--key", key+".pub",
		"--certs", certsDir(t, milan.cert, milan.certName), "--verify-time", realVerifyTime, "--min-tcb", "fmc=0")
	if code != exitPolicy || !strings.Contains(stderr, "FMC component only a Turin TCB has") {
		t.Errorf("Milan report, --min-tcb fmc=0: exit %d, stderr %q\nstdout:\n%s\nwant exit %d saying only Turin has FMC", code, stderr, stdout, exitPolicy)
	}
}

// bundleOf re-signs the statement in the envelope refs as a Sigstore
// bundle with key, through the CLI (measure sign --bundle).
func bundleOf(t *testing.T, dir, name, key, refs string) string {
	t.Helper()
	env, err := provenance.ParseEnvelope(mustRead(t, refs))
	if err != nil {
		t.Fatal(err)
	}
	st := writeIn(t, dir, name+".statement.json", env.Payload)
	out := filepath.Join(dir, name+".sigstore.json")
	if _, stderr, code := runCLI("sign", "--bundle", "--key", key+".key", st, "--output-file", out); code != 0 {
		t.Fatalf("sign --bundle: exit %d: %s", code, stderr)
	}
	return out
}
