//go:build !measure_front

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
)

// exportFixture: keys, SEV-SNP reference values holding the Genoa report's
// MEASUREMENT (and another configuration's), signed and unsigned, and TDX
// ones.
type exportFixture struct {
	dir, key, other      string
	snpEnv, snpStatement string
	tdxEnv               string
	badEnv               string
	report, certs        string
}

func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	f := &exportFixture{dir: t.TempDir()}
	f.key = keygen(t, f.dir, "ci", "ecdsa-p384")
	f.other = keygen(t, f.dir, "other", "")
	genoa := realReports[2]
	rv := hclRefs("sev-snp", "MEASUREMENT", genoa.measurement)
	rv.Firmware.Name = "OVMF.fd"
	rv.Values[0].Configuration = provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-Genoa"}
	rv.Values = append(rv.Values, provenance.ReferenceValue{
		Configuration: provenance.Configuration{VMMType: "qemu", VCPUs: 8, VCPUType: "EPYC-Genoa"},
		Measurements:  []provenance.Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": strings.Repeat("ab", 48)}}},
	})
	f.snpEnv = signRefs(t, f.dir, f.key, "snp.dsse.json", rv)
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: rv.Firmware.Name, Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	f.snpStatement = writeIn(t, f.dir, "snp.json", b)
	bad := hclRefs("sev-snp", "MEASUREMENT", strings.Repeat("cd", 48))
	f.badEnv = signRefs(t, f.dir, f.key, "bad.dsse.json", bad)
	tdx := hclRefs("tdx", "MRTD", hclTDXMRTD)
	tdx.Values[0].Measurements = append(tdx.Values[0].Measurements, provenance.Measurement{Register: "RTMR1", Digest: map[string]string{"sha384": strings.Repeat("11", 48)}})
	f.tdxEnv = signRefs(t, f.dir, f.key, "tdx.dsse.json", tdx)
	f.report = genoa.report
	f.certs = certsDir(t, genoa.cert, genoa.certName)
	return f
}

func TestExportFormats(t *testing.T) {
	f := newExportFixture(t)
	pub := f.key + ".pub"
	genoa := realReports[2].measurement
	t.Run("rvps", func(t *testing.T) {
		out, stderr, code := runCLI("export", "--format", "rvps", "--key", pub, f.tdxEnv)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var msg struct{ Version, Type, Payload string }
		if err := json.Unmarshal([]byte(out), &msg); err != nil {
			t.Fatal(err)
		}
		p, _ := base64.StdEncoding.DecodeString(msg.Payload)
		want := `{"mr_td":["` + hclTDXMRTD + `"],"rtmr_1":["` + strings.Repeat("11", 48) + `"]}`
		if msg.Version != "0.1.0" || msg.Type != "sample" || string(p) != want {
			t.Errorf("message %+v, payload %s; want 0.1.0, sample, %s", msg, p, want)
		}
		if stderr != "" {
			t.Errorf("stderr %q, want nothing for verified values", stderr)
		}
	})
	t.Run("corim", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "refs.corim")
		out, stderr, code := runCLI("export", "--format", "corim", "--key", pub, "--sign-key", f.key+".key", "--signer-name", "CI", f.snpEnv, "--output-file", file)
		if code != 0 || out != "" {
			t.Fatalf("exit %d, stdout %q: %s", code, out, stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0xd2 || !bytes.Contains(b, []byte("application/rim+cbor")) || !bytes.Contains(b, []byte("CI")) {
			t.Errorf("not a signed CoRIM: %x", b[:min(len(b), 32)])
		}
	})
	t.Run("sev-guest-check", func(t *testing.T) {
		out, stderr, code := runCLI("export", "--format", "sev-guest-check", "--key", pub, "--where", "vcpus=4", "--min-tcb", "snp=22", "--vmpl", "0", f.snpEnv)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"policy: 131072\n", "vmpl {\n    value: 0\n  }", "minimum_tcb: " + "6192449487634432\n", `vcpuType="EPYC-Genoa"`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		_, stderr, code = runCLI("export", "--format", "sev-guest-check", "--key", pub, f.snpEnv)
		if code != exitError || !strings.Contains(stderr, "2 different MEASUREMENTs") || !strings.Contains(stderr, "--where") {
			t.Errorf("two MEASUREMENTs: exit %d, %q; want %d and a hint", code, stderr, exitError)
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		out, stderr, code := runCLI("export", "--format", "jsonl", "--allow-unsigned", f.snpStatement)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, `"digest":"`+genoa+`"`) {
			t.Errorf("%d lines:\n%s", n, out)
		}
		if !strings.Contains(stderr, "warning: exporting the reference values of") {
			t.Errorf("stderr %q, want a warning that nothing was checked", stderr)
		}
	})
}

func TestExportRefuses(t *testing.T) {
	f := newExportFixture(t)
	pub := f.key + ".pub"
	tampered := writeIn(t, f.dir, "tampered.json", bytes.Replace(mustRead(t, f.snpEnv), []byte(`"sig": "`), []byte(`"sig": "AAAA`), 1))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no format", []string{f.snpEnv, "--key", pub}, exitUsage, "--format is required"},
		{"unknown format", []string{f.snpEnv, "--key", pub, "--format", "json"}, exitUsage, `format "json" is unknown`},
		{"unverified", []string{f.snpEnv, "--format", "rvps"}, exitUsage, "--key is required"},
		{"corim unsigned", []string{f.snpEnv, "--format", "corim", "--key", pub}, exitUsage, "--sign-key"},
		{"flag of another format", []string{f.snpEnv, "--format", "rvps", "--key", pub, "--min-tcb", "snp=1"}, exitUsage, "--min-tcb applies to --format sev-guest-check"},
		{"bad where", []string{f.snpEnv, "--format", "rvps", "--key", pub, "--where", "vcpus"}, exitUsage, "want KEY=VALUE"},
		{"unknown field", []string{f.snpEnv, "--format", "rvps", "--key", pub, "--where", "cores=2"}, exitError, `"cores" is unknown`},
		{"bad tcb", []string{f.snpEnv, "--format", "sev-guest-check", "--key", pub, "--min-tcb", "fmc=1"}, exitUsage, "Turin"},
		{"another key", []string{f.snpEnv, "--format", "rvps", "--key", f.other + ".pub"}, exitThreshold, "not enough valid signatures"},
		{"tampered", []string{tampered, "--format", "rvps", "--key", pub}, exitBadSignature, "signature does not verify"},
		{"statement given a key", []string{f.snpStatement, "--format", "rvps", "--key", pub}, exitMalformedEnvelope, "malformed DSSE envelope"},
		{"not a statement", []string{pub, "--format", "rvps", "--allow-unsigned"}, exitInvalidStatement, "invalid statement"},
		{"sev-guest-check of tdx", []string{f.tdxEnv, "--format", "sev-guest-check", "--key", pub}, exitError, "go-sev-guest checks SEV-SNP reports"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCLI(append([]string{"export"}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "measure: ") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, nothing, one line with %q", code, out, stderr, tc.code, tc.want)
			}
		})
	}
}

// TestCompareExported: compare reads back what export wrote and gives the
// verdict it gives on the envelope, for a real Genoa report.
func TestCompareExported(t *testing.T) {
	f := newExportFixture(t)
	pub := f.key + ".pub"
	write := func(env, format string, extra ...string) string {
		out, stderr, code := runCLI(append([]string{"export", "--format", format, "--key", pub, env}, extra...)...)
		if code != 0 {
			t.Fatalf("export %s: exit %d: %s", format, code, stderr)
		}
		return writeIn(t, t.TempDir(), "refs."+format, []byte(out))
	}
	compare := func(refs string, args ...string) []string {
		return append([]string{"compare", "--report", f.report, "--refs", refs, "--certs", f.certs, "--verify-time", realVerifyTime}, args...)
	}
	rvps, corim, jsonl := write(f.snpEnv, "rvps"), write(f.snpEnv, "corim", "--sign-key", f.key+".key"), write(f.snpEnv, "jsonl")
	badRVPS := write(f.badEnv, "rvps")
	altered := mustRead(t, corim)
	altered[bytes.Index(altered, []byte("MEASUREMENT"))] ^= 0x20
	badCoRIM := writeIn(t, t.TempDir(), "altered.corim", altered)
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{"envelope", compare(f.snpEnv, "--key", pub), exitOK, "PASSED", ""},
		// Unsigned reference values may match, but are never a PASS.
		{"rvps", compare(rvps, "--refs-format", "rvps", "--allow-unsigned-refs"), exitUnverified, "result: UNVERIFIED\n  reference-values    NOT-CHECKED", "carry no checked signature"},
		{"rvps, json", compare(rvps, "--refs-format", "rvps", "--allow-unsigned-refs", "--output", "json"), exitUnverified, `"name": "` + rvps + ` (rvps, signature not checked)"`, "not signed by a trusted key"},
		{"jsonl", compare(jsonl, "--refs-format", "jsonl", "--allow-unsigned-refs"), exitUnverified, "MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 4 --vcpu-type EPYC-Genoa\nresult: UNVERIFIED", ""},
		{"corim", compare(corim, "--refs-format", "corim", "--key", pub), exitOK, "PASSED", ""},
		{"rvps, other values", compare(badRVPS, "--refs-format", "rvps", "--allow-unsigned-refs"), exitNegative, "MISMATCH", ""},
		{"rvps unsigned refused", compare(rvps, "--refs-format", "rvps"), exitUsage, "", "--allow-unsigned-refs"},
		{"rvps with a key", compare(rvps, "--refs-format", "rvps", "--key", pub), exitUsage, "", "carries no signature for --key"},
		{"corim without a key", compare(corim, "--refs-format", "corim"), exitUsage, "", "--key is required"},
		{"corim altered", compare(badCoRIM, "--refs-format", "corim", "--key", pub), exitBadSignature, "", "does not verify with key"},
		{"corim, another key", compare(corim, "--refs-format", "corim", "--key", f.other+".pub"), exitThreshold, "", "verifies with none"},
		{"corim read as jsonl", compare(corim, "--refs-format", "jsonl", "--allow-unsigned-refs"), exitInvalidStatement, "", "line 1"},
		{"unknown form", compare(corim, "--refs-format", "cbor", "--key", pub), exitUsage, "", `--refs-format "cbor"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, stderr, tc.code, tc.out, tc.err)
			}
		})
	}
}
