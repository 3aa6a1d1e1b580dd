//go:build !measure_front

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
)

// The recorded Azure HCL reports (verify/testdata/README.md, "Azure HCL
// reports").
const (
	hclSNP      = "../../verify/testdata/hcl-snp-milan.bin"
	hclSNPVCEK  = "../../verify/testdata/hcl-snp-milan-vcek.pem"
	hclTDX      = "../../verify/testdata/hcl-tdx.bin"
	hclTDXQuote = "../../verify/testdata/hcl-tdx-quote.dat"
	// hclTime: the VCEK, AMD's roots and the quote's PCK chain are valid.
	hclTime = "2025-06-01T00:00:00Z"
	// hclSNPMeasurement is MEASUREMENT of hcl-snp-milan.bin and hclTDXMRTD
	// the MRTD of hcl-tdx.bin's TD report, as their bytes hold them
	// (report offsets 0x20+0x90 and 0x20+0x210): the reference values the
	// tests sign.
	hclSNPMeasurement = "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315"
	hclTDXMRTD        = "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b"
	// hclSNPChipID and the TCB are the VCEK's HWID and SPL extensions,
	// which trustee's tests require CHIP_ID and REPORTED_TCB to equal.
	hclSNPChipID = "19752a447db501a32ade46428a46e92639bd3515dbb45e2e67bbcb0934ffcf1f3e3c004ccb4a99c9fa7e4ffb09da6b324ac58acedaf679f24ba7db5f838c6cca"
	hclSNPTCB    = "bl=3,tee=0,snp=8,ucode=115"
)

// signRefs signs reference values with key (a keygen prefix) into dir.
func signRefs(t *testing.T, dir, key, name string, rv provenance.ReferenceValues) string {
	t.Helper()
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: rv.Firmware.Name, Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := os.ReadFile(key + ".key")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := provenance.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	env, err := provenance.Sign(context.Background(), b, signer)
	if err != nil {
		t.Fatal(err)
	}
	return writeIn(t, dir, name, env)
}

func hclRefs(platform, register, digest string) provenance.ReferenceValues {
	return provenance.ReferenceValues{
		Platform: platform,
		Firmware: provenance.Firmware{Name: "azure-paravisor", Digest: map[string]string{"sha256": strings.Repeat("33", 32), "sha384": strings.Repeat("44", 48)}},
		Values: []provenance.ReferenceValue{{Configuration: provenance.Configuration{},
			Measurements: []provenance.Measurement{{Register: register, Digest: map[string]string{"sha384": digest}}}}},
		Tool: provenance.Tool{Name: "measure", Version: "test"},
	}
}

func TestHCLReportShow(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
		facts  []string
	}{
		{"report-show-hcl-snp.txt", []string{"report", "show", hclSNP}, []string{
			"PLATFORM                   sev-snp", "HCL_BINDING                holds: REPORT_DATA[0:32] is the SHA-256 of the runtime data",
			"HCL_KEY HCLAkPub           RSA-2048 (e=65537)", hclSNPChipID, "VMPL                       0", "REPORTED_TCB               0x7308000000000003 (" + hclSNPTCB + ")"}},
		{"report-show-hcl-snp.json", []string{"report", "show", hclSNP, "--output", "json"}, []string{`"platform": "sev-snp"`, `"name": "HCL_BINDING"`, hclSNPChipID}},
		{"report-show-hcl-tdx.txt", []string{"report", "show", hclTDX}, []string{
			"PLATFORM                   tdx", "MRTD                       " + hclTDXMRTD, "(in the TD report, which is MAC'd, not signed: its TDX quote must match it)",
			"HCL_USER_DATA              " + strings.Repeat("00", 64)}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			out, stderr, code := runCLI(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGolden(t, tc.golden, []byte(out))
			words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
			for _, f := range tc.facts {
				if !strings.Contains(words(out), words(f)) {
					t.Errorf("output lacks %q:\n%s", f, out)
				}
			}
		})
	}
}

func TestHCLCompare(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	snpRefs := signRefs(t, dir, key, "snp.dsse.json", hclRefs("sev-snp", "MEASUREMENT", hclSNPMeasurement))
	tdxRefs := signRefs(t, dir, key, "tdx.dsse.json", hclRefs("tdx", "MRTD", hclTDXMRTD))
	certs := filepath.Join(dir, "certs")
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{certs, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The VCEK as Azure's THIM serves it: the VCEK, then the ASK and ARK.
	writeIn(t, certs, "vcek.pem", mustRead(t, hclSNPVCEK))

	snp := mustRead(t, hclSNP)
	tampered := append([]byte(nil), snp...)
	tampered[0x06e0]++ // a byte of the runtime data: the EK's modulus
	tamperedSNP := writeIn(t, dir, "tampered.bin", tampered)
	truncated := writeIn(t, dir, "truncated.bin", snp[:2000])
	short := writeIn(t, dir, "short.bin", snp[:1000])
	tdxTampered := append([]byte(nil), mustRead(t, hclTDX)...)
	tdxTampered[0x0880]++
	tamperedTDX := writeIn(t, dir, "tampered-tdx.bin", tdxTampered)

	snpArgs := func(flag, path string) []string {
		return []string{"compare", flag, path, "--refs", snpRefs, "--key", key + ".pub", "--certs", certs, "--verify-time", hclTime}
	}
	tdxArgs := func(quote, hcl string) []string {
		return []string{"compare", "--quote", quote, "--hcl", hcl, "--refs", tdxRefs, "--key", key + ".pub", "--certs", empty, "--verify-time", hclTime}
	}
	tests := []cliCase{
		{"SEV-SNP HCL report, VCEK chained to AMD's root", snpArgs("--report", hclSNP), 0, []string{
			"MATCH: the sev-snp evidence matches (the only configuration)", "result: PASSED", "hardware signature: verified, VCEK (Milan), chained to ARK-Milan",
			"certified TCB: " + hclSNPTCB, "source: " + hclSNP + ": Azure HCL report (SEV-SNP): 1110 bytes of runtime data, SHA-256 in REPORT_DATA, vTPM attestation key RSA-2048"}, ""},
		{"--hcl alone", snpArgs("--hcl", hclSNP), 0, []string{"result: PASSED", "bound to the hardware report"}, ""},
		{"runtime data changed", snpArgs("--report", tamperedSNP), exitHardwareSignature, []string{"result: FAILED", "hardware signature: FAILED"},
			"the hardware report does not bind the HCL runtime data: REPORT_DATA[0:32] is b3fbad65"},
		{"runtime data changed, no certificates", []string{"compare", "--report", tamperedSNP, "--refs", snpRefs, "--key", key + ".pub"}, exitHardwareSignature, []string{"result: FAILED"}, "does not bind the HCL runtime data"},
		{"truncated in the runtime data", snpArgs("--report", truncated), exitEvidence, nil, "HCL report is 2000 bytes, its report size at 0x8 is 2346"},
		{"truncated in the hardware report", snpArgs("--hcl", short), exitEvidence, nil, "HCL report is 1000 bytes, want at least 1236"},
		{"TDX HCL report with its quote", tdxArgs(hclTDXQuote, hclTDX), 0, []string{
			"MATCH: the tdx evidence matches (the only configuration)", "result: PASSED", "MRTD: " + hclTDXMRTD, "source: " + hclTDX + ": Azure HCL report (TDX)"}, ""},
		{"TDX HCL report, runtime data changed", tdxArgs(hclTDXQuote, tamperedTDX), exitHardwareSignature, []string{"result: FAILED"}, "REPORTDATA[0:32] is 9734504f"},
		{"TDX HCL report with another TD's quote", []string{"compare", "--quote", recordedQuote, "--hcl", hclTDX, "--refs", tdxRefs, "--key", key + ".pub"}, exitHardwareSignature,
			[]string{"result: FAILED"}, "the TDX quote is not a quote of the HCL report's TD report: TEE_TCB_SVN"},
		{"TDX HCL report without its quote", []string{"compare", "--hcl", hclTDX, "--refs", tdxRefs, "--key", key + ".pub"}, exitUsage, nil, "give its TDX quote with --quote"},
		{"TDX HCL report as --report", []string{"compare", "--report", hclTDX, "--refs", tdxRefs, "--key", key + ".pub"}, exitUsage, nil, "MAC'd, not signed"},
		{"SEV-SNP HCL report with a quote", []string{"compare", "--quote", hclTDXQuote, "--hcl", hclSNP, "--refs", tdxRefs, "--key", key + ".pub"}, exitUsage, nil, "holds an SEV-SNP report, not a TD report"},
		{"--report and --hcl", []string{"compare", "--report", hclSNP, "--hcl", hclSNP, "--refs", snpRefs, "--key", key + ".pub"}, exitUsage, nil, "none of the others can be"},
	}
	runCases(t, tests)

	// JSON: the HCL report is named among the hardware check's sources.
	out, stderr, code := runCLI(append(snpArgs("--report", hclSNP), "--output", "json")...)
	var v struct {
		Result            string
		HardwareSignature struct {
			Verified bool
			Sources  []string
		} `json:"hardware_signature"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s\n%s", code, err, stderr, out)
	}
	if v.Result != "PASSED" || !v.HardwareSignature.Verified || len(v.HardwareSignature.Sources) == 0 ||
		!strings.Contains(strings.Join(v.HardwareSignature.Sources, "\n"), "Azure HCL report (SEV-SNP)") {
		t.Errorf("verdict %+v, want PASSED, verified, the HCL report among the sources", v)
	}

	// explain reads the SEV-SNP report inside an HCL report.
	_, stderr, code = runCLI("explain", "--report", hclSNP, "--ovmf", bookworm, "--max-vcpus", "2")
	if code != exitNoMatch || !strings.Contains(stderr, "explains MEASUREMENT 9ac48fca") {
		t.Errorf("explain: exit %d, %q; want %d, no configuration explains MEASUREMENT 9ac48fca…", code, stderr, exitNoMatch)
	}
}
