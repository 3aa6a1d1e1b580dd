//go:build !measure_front

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify/verifytest"
)

// The output language (docs/output.md), as a checker: JSON keys are
// snake_case; digests are lower-case hex; sizes are numbers; addresses and
// offsets are "0x" hex strings; null is never printed.
var (
	snakeKey   = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	lowerHex   = regexp.MustCompile(`^([0-9a-f]{2})+$`)
	ociDigest  = regexp.MustCompile(`^sha(256|384|512):[0-9a-f]+$`)
	hexAddress = regexp.MustCompile(`^0x[0-9a-f]+$`)
)

// dataMaps are keys whose objects map data to data (annotation names,
// Go build settings, digest algorithms), not field names to values.
var dataMaps = []string{"annotations", "go_settings", "digest"}

// nullable are the keys whose values may be null: a value that cannot be
// computed, with the reason beside it (tdx's RTMRs, docs/tdx.md).
var nullable = []string{"rtmrs"}

// checkOutputLanguage fails t for each place where out, a command's JSON,
// breaks the output language.
func checkOutputLanguage(t *testing.T, out []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Errorf("not JSON: %v\n%s", err, out)
		return
	}
	for _, p := range languageProblems(v, "$", "") {
		t.Errorf("%s", p)
	}
}

func languageProblems(v any, path, key string) []string {
	var out []string
	switch x := v.(type) {
	case nil:
		if !slices.Contains(nullable, key) {
			out = append(out, path+": null")
		}
	case map[string]any:
		for k, e := range x {
			if !slices.Contains(dataMaps, key) && !snakeKey.MatchString(k) {
				out = append(out, fmt.Sprintf("%s: key %q is not snake_case", path, k))
			}
			out = append(out, languageProblems(e, path+"."+k, k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, languageProblems(e, fmt.Sprintf("%s[%d]", path, i), key)...)
		}
	case string:
		switch {
		case key == "sha256" || key == "sha384" || strings.HasSuffix(key, "_sha256") || key == "measurement":
			if !lowerHex.MatchString(x) {
				out = append(out, fmt.Sprintf("%s: digest %q is not lower-case hex", path, x))
			}
		case key == "digest":
			if !lowerHex.MatchString(x) && !ociDigest.MatchString(x) {
				out = append(out, fmt.Sprintf("%s: digest %q is neither lower-case hex nor an OCI digest", path, x))
			}
		case key == "offset" || key == "gpa" || strings.HasSuffix(key, "_offset") || strings.HasSuffix(key, "_address"):
			if !hexAddress.MatchString(x) {
				out = append(out, fmt.Sprintf("%s: address %q is not 0x and lower-case hex", path, x))
			}
		case key == "size" || strings.HasSuffix(key, "_size") || strings.HasPrefix(key, "size_") || strings.HasSuffix(key, "_bytes"):
			out = append(out, fmt.Sprintf("%s: size %q is a string, want a number", path, x))
		}
	case float64:
		if key == "offset" || key == "gpa" || strings.HasSuffix(key, "_offset") || strings.HasSuffix(key, "_address") {
			out = append(out, fmt.Sprintf("%s: address %v is a number, want a 0x string", path, x))
		}
	}
	return out
}

func TestLanguageChecker(t *testing.T) {
	tests := []struct {
		json string
		bad  bool
	}{
		{`{"a_b": 1, "digest": {"sha256": "ab"}, "offset": "0x10", "size": 16}`, false},
		{`{"aB": 1}`, true},
		{`{"a": null}`, true},
		{`{"sha256": "AB"}`, true},
		{`{"offset": 16}`, true},
		{`{"size": "0x10"}`, true},
		{`{"annotations": {"io.github.x": "y"}}`, false},
		{`[{"Base": 0}]`, true},
	}
	for _, tc := range tests {
		var v any
		if err := json.Unmarshal([]byte(tc.json), &v); err != nil {
			t.Fatal(err)
		}
		if got := len(languageProblems(v, "$", "")) > 0; got != tc.bad {
			t.Errorf("languageProblems(%s) = %v, want problems %v", tc.json, languageProblems(v, "$", ""), tc.bad)
		}
	}
}

// seededReader is a deterministic source of key material: a golden
// verdict names the key that signed the reference values.
type seededReader struct{ n byte }

func (r *seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// goldenKey writes a key pair made from a fixed seed into dir.
func goldenKey(t *testing.T, dir string) string {
	t.Helper()
	priv, pub, err := provenance.GenerateKey(provenance.Ed25519, &seededReader{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "golden")
	writeIn(t, dir, "golden.key", priv)
	writeIn(t, dir, "golden.pub", pub)
	return prefix
}

// jsonCase is one command whose --output json is checked against the
// language and, when golden is set, against testdata/golden.
type jsonCase struct {
	name     string
	args     []string
	wantCode int
	golden   string
	// pending, when set, names what the command still does against the
	// language: the case is skipped until it is fixed.
	pending string
}

// TestOutputLanguage runs every command that prints JSON and checks its
// output against the language; the JSON of compare, explain, diff and
// recipes is also compared with golden files (-update rewrites them), the
// temporary directory written as $DIR.
func TestOutputLanguage(t *testing.T) {
	dir := t.TempDir()
	key := goldenKey(t, dir)
	genoa := realReports[2]
	refs := signedSNPRefs(t, dir, "genoa.dsse.json", key, genoa.measurement)
	otherRefs := signedSNPRefs(t, dir, "other.dsse.json", key, strings.Repeat("cd", 48))
	zero := strings.Repeat("0", 96)
	tdxRV := hclRefs("tdx", "MRTD", recordedMRTD)
	tdxRV.Values[0].Configuration = provenance.Configuration{VMMType: "qemu"}
	tdxRV.Values[0].Measurements = append(tdxRV.Values[0].Measurements, provenance.Measurement{Register: "RTMR0", Digest: map[string]string{"sha384": zero}})
	tdxRefs := signRefs(t, dir, key, "tdx.dsse.json", tdxRV)
	certs := filepath.Join(dir, "kds")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIn(t, certs, genoa.certName, mustRead(t, genoa.cert))
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	r, err := signer.Sign(verifytest.Report{Measurement: vectorDigest(t, "snp-qemu-bookworm-ovmf-milan-16")})
	if err != nil {
		t.Fatal(err)
	}
	explainable := writeIn(t, dir, "explainable.bin", r)
	img, err := os.ReadFile(bookworm)
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(img)
	changed[len(changed)-0x800] ^= 1
	changedPath := writeIn(t, dir, "changed.fd", changed)
	igvmFile := writeIn(t, dir, "snp.igvm", igvmtest.SNPFile().Build())
	compare := func(refs string, more ...string) []string {
		return append([]string{"compare", "--report", genoa.report, "--refs", refs, "--key", key + ".pub", "--verify-time", realVerifyTime, "--output", "json"}, more...)
	}
	tests := []jsonCase{
		{"compare passed", compare(refs, "--certs", certs), exitOK, "compare-passed.json", ""},
		{"compare mismatch", compare(otherRefs, "--certs", certs), exitNegative, "compare-mismatch.json", ""},
		{"compare unverified", compare(refs), exitUnverified, "", ""},
		{"compare TDX nearest", []string{"compare", "--quote", recordedQuote, "--refs", tdxRefs, "--key", key + ".pub", "--verify-time", quoteTime, "--output", "json"}, exitNegative, "compare-tdx-nearest.json", ""},
		{"compare another platform", []string{"compare", "--quote", recordedQuote, "--refs", refs, "--key", key + ".pub", "--verify-time", quoteTime, "--output", "json"}, exitNegative, "compare-platform.json", ""},
		{"explain explained", []string{"explain", "--report", explainable, "--ovmf", bookworm, "--max-vcpus", "16", "--output", "json"}, exitOK, "explain-explained.json", ""},
		{"explain unexplained", []string{"explain", "--report", genoa.report, "--ovmf", bookworm, "--max-vcpus", "2", "--output", "json"}, exitNegative, "explain-unexplained.json", ""},
		{"diff identical", []string{"diff", bookworm, bookworm, "--output", "json"}, exitOK, "diff-identical.json", ""},
		{"diff differ", []string{"diff", bookworm, changedPath, "--output", "json"}, exitNegative, "diff-differ.json", ""},
		{"recipes list", []string{"recipes", "list", "--output", "json"}, exitOK, "recipes-list.json", ""},
		{"report show", []string{"report", "show", genoa.report, "--output", "json"}, exitOK, "", ""},
		{"report show TDX", []string{"report", "show", recordedQuote, "--output", "json"}, exitOK, "", ""},
		{"snp", []string{"snp", "--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--output", "json"}, exitOK, "", ""},
		{"snp sweep", []string{"snp", "--ovmf", trixie, "--vcpus", "1,2", "--vcpu-type", "EPYC-v4", "--output", "json"}, exitOK, "", ""},
		{"seves", []string{"seves", "--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--output", "json"}, exitOK, "", ""},
		{"sev", []string{"sev", "--ovmf", trixie, "--output", "json"}, exitOK, "", ""},
		{"tdx", []string{"tdx", "--ovmf", bookworm, "--output", "json"}, exitOK, "", ""},
		{"ovmf inspect", []string{"ovmf", "inspect", bookworm, "--output", "json"}, exitOK, "", ""},
		{"igvm inspect", []string{"igvm", "inspect", igvmFile, "--output", "json"}, exitOK, "", ""},
		{"igvm measure", []string{"igvm", "measure", igvmFile, "--ignore-id-block", "--output", "json"}, exitOK, "", ""},
		{"export jsonl", []string{"export", "--format", "jsonl", "--key", key + ".pub", refs}, exitOK, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pending != "" {
				t.Skip("pending: " + tc.pending)
			}
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.wantCode, stderr, stdout)
			}
			checkOutputLanguage(t, []byte(stdout))
			if tc.golden != "" {
				checkGolden(t, tc.golden, bytes.ReplaceAll([]byte(stdout), []byte(dir), []byte("$DIR")))
			}
		})
	}
	// One output shape whatever the number of items: one configuration
	// prints the same shape as two.
	t.Run("one shape", func(t *testing.T) {
		for _, cmd := range [][]string{{"snp", "--vcpu-type", "EPYC-v4"}, {"seves", "--vcpu-type", "EPYC-v4"}} {
			one, _, _ := runCLI(append(slices.Clone(cmd), "--ovmf", trixie, "--vcpus", "1", "--output", "json")...)
			two, _, _ := runCLI(append(slices.Clone(cmd), "--ovmf", trixie, "--vcpus", "1,2", "--output", "json")...)
			if one == "" || one[0] != two[0] {
				t.Errorf("measure %s --output json: one configuration prints %.1q..., two %.1q...", cmd[0], one, two)
			}
		}
	})
}
