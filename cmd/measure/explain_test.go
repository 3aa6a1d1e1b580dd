//go:build !measure_front

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// profilesDir holds the launch-profile known answers: digests computed by
// virtee/sev-snp-measure and Kata Containers (its README).
const profilesDir = "../../measure/snp/testdata/profiles"

// explainRows are rows of vectors.tsv chosen so that every profile, both
// platforms, seeds (the firmware's own and a foreign one), a command line,
// 4 vCPUs and guest features 0x21 are each met at least once.
var explainRows = []string{
	"ssm-001", "kata-seves-4", "ssm-003", "ssm-004", "ssm-005", "ssm-013", "ssm-022",
	"ssm-025", "ssm-041", "ssm-047", "ssm-056", "ssm-058",
}

// TestExplainMeasurementVectors gives explain the known answers as bare
// measurements (with the row's seed, when it has one) and checks that it
// finds the row's configuration, profile included, and that the command
// line it prints, run as printed, gives the same digest.
func TestExplainMeasurementVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(profilesDir, "vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[1:] {
		c := strings.Split(line, "\t")
		if len(c) != 13 {
			t.Fatalf("vectors.tsv: %d columns, want 13: %q", len(c), line)
		}
		rows[c[0]] = c
	}
	empty := writeTemp(t, "empty", nil) // sev-snp-measure's --kernel /dev/null
	for _, id := range explainRows {
		c := rows[id]
		if c == nil {
			t.Fatalf("vectors.tsv has no row %s", id)
		}
		t.Run(id, func(t *testing.T) {
			platform, profile, firmware, vcpus, features, boot, cmdline, seed, expected := c[1], c[2], c[3], c[4], c[6], c[7], c[8], c[9], c[10]
			args := []string{"explain", "--measurement", expected, "--ovmf", filepath.Join(profilesDir, firmware), "--output", "json"}
			if seed != "-" {
				args = append(args, "--snp-ovmf-hash", seed)
			}
			if boot == "devnull" {
				args = append(args, "--kernel", empty)
				if cmdline != "" {
					args = append(args, "--append", cmdline)
				}
			}
			stdout, stderr, code := runCLI(args...)
			if code != exitOK {
				t.Fatalf("measure %s: exit %d, %s", strings.Join(args, " "), code, stderr)
			}
			var got explanationJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("explain JSON: %v\n%s", err, stdout)
			}
			wantPlatform := map[string]string{"snp": "sev-snp", "seves": "sev-es"}[platform]
			if got.Result != resultExplained || got.Platform != wantPlatform || got.Measurement != expected || got.SignatureVerified != nil || got.DebugAllowed != nil || len(got.Found) != 1 {
				t.Fatalf("explain = %s, want one %s configuration, no report fields", stdout, wantPlatform)
			}
			f := got.Found[0]
			wantFeatures := features
			if features == "-" {
				wantFeatures = ""
			}
			if f.Profile != profile || f.VCPUs != atoi(t, vcpus) || f.GuestFeatures != wantFeatures || f.Kernel != (boot == "devnull") || f.Cmdline != (cmdline != "") {
				t.Errorf("explain found %+v, want profile %s, %s vCPUs, guest features %q, boot %s, command line %q", f, profile, vcpus, wantFeatures, boot, cmdline)
			}
			words := splitWords(t, f.Command)
			if len(words) < 2 || words[0] != "measure" || words[1] != platform {
				t.Fatalf("command %q, want measure %s ...", f.Command, platform)
			}
			if hasProfile := strings.Contains(f.Command, "--profile "+profile); hasProfile == f.DefaultProfile {
				t.Errorf("command %q: --profile given %v for profile %s, default %v", f.Command, hasProfile, profile, f.DefaultProfile)
			}
			out, errOut, code := runCLI(words[1:]...)
			if code != exitOK || out != expected+"\n" {
				t.Errorf("%s = exit %d, %q (%s), want %s", f.Command, code, out, errOut, expected)
			}
		})
	}
}

// TestExplainText: the text form names the profile and prints the command
// line, for an SEV-ES digest ending with LAUNCH_DIGEST.
func TestExplainText(t *testing.T) {
	stdout, _, code := runCLI("explain", "--measurement", "45a10654fbcca80ff3199c2d2befc7b4ae5ae80acfe4663b1cfc6f94ccba4dd5", "--ovmf", trixie, "--max-vcpus", "4")
	want := "explained: --vmm-type qemu --vcpus 2 --vcpu-type EPYC-Milan --profile qemu-kvm-sev-init\n" +
		"  profile: qemu-kvm-sev-init\n" +
		"  vCPU types with signature 0xa00f11: EPYC-Milan, EPYC-Milan-v1, EPYC-Milan-v2, EPYC-Milan-v3\n" +
		"  boot: no measured direct boot\n" +
		"  reproduce: measure seves --ovmf " + trixie + " --vmm-type qemu --vcpus 2 --vcpu-type EPYC-Milan --profile qemu-kvm-sev-init\n" +
		"LAUNCH_DIGEST: 45a10654fbcca80ff3199c2d2befc7b4ae5ae80acfe4663b1cfc6f94ccba4dd5\n"
	if code != exitOK || stdout != want {
		t.Errorf("explain = exit %d\n%s\nwant\n%s", code, stdout, want)
	}
	// The value above is what measure seves computes; an independent one
	// reads alike: sev-snp-measure's SEV-ES digest of ae95e59 (ssm-025),
	// 4 vCPUs under today's QEMU profile, which needs no --profile.
	stdout, _, code = runCLI("explain", "--measurement", "2806971adf7a9d5bdef59d007f0200af685dec6721781fe1d6efa9236b3361f1", "--ovmf", filepath.Join(profilesDir, "ovmf_AmdSev_suffix-4ecfc95.bin"), "--kernel", writeTemp(t, "empty", nil))
	if code != exitOK || !strings.Contains(stdout, "  profile: qemu-kvm-sev-init2 (qemu's default)\n") || strings.Contains(stdout, "--profile") {
		t.Errorf("explain ssm-025 = exit %d\n%s\nwant the default profile, no --profile", code, stdout)
	}
}

// TestExplainUsage: the combinations explain refuses, each a usage error
// (exit 2) before any search.
func TestExplainUsage(t *testing.T) {
	snpHex, esHex := strings.Repeat("ab", 48), strings.Repeat("ab", 32)
	report := writeTemp(t, "report.bin", make([]byte, 0x4a0))
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"neither", []string{"--ovmf", trixie}, "exactly one of --report and --measurement"},
		{"both", []string{"--report", report, "--measurement", snpHex, "--ovmf", trixie}, "exactly one of --report and --measurement"},
		{"47 bytes", []string{"--measurement", snpHex[2:], "--ovmf", trixie}, "--measurement: 47 bytes, want 48"},
		{"33 bytes", []string{"--measurement", esHex + "ab", "--ovmf", trixie}, "--measurement: 33 bytes"},
		{"odd length", []string{"--measurement", esHex + "a", "--ovmf", trixie}, "not hex"},
		{"not hex", []string{"--measurement", strings.Repeat("zz", 48), "--ovmf", trixie}, "not hex"},
		{"no firmware", []string{"--measurement", snpHex}, "--ovmf is required"},
		{"seed without firmware", []string{"--measurement", snpHex, "--snp-ovmf-hash", snpHex}, "--snp-ovmf-hash needs --ovmf"},
		{"short seed", []string{"--measurement", snpHex, "--ovmf", trixie, "--snp-ovmf-hash", esHex}, "--snp-ovmf-hash: digest"},
		{"seed with SEV-ES", []string{"--measurement", esHex, "--ovmf", trixie, "--snp-ovmf-hash", snpHex}, "cannot explain an SEV-ES launch digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(append([]string{"explain"}, tc.args...)...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.wantErr) || strings.Contains(stderr, "searched") {
				t.Errorf("explain %v = exit %d, %q, %q; want %d, %q, no search", tc.args, code, stdout, stderr, exitUsage, tc.wantErr)
			}
		})
	}
}

// TestExplainUnexplainedMeasurement: a bare measurement nothing explains
// exits 1, and its JSON has no report fields.
func TestExplainUnexplainedMeasurement(t *testing.T) {
	m := strings.Repeat("ab", 32)
	stdout, stderr, code := runCLI("explain", "--measurement", m, "--ovmf", trixie, "--max-vcpus", "2", "--output", "json")
	want := `{
  "result": "unexplained",
  "platform": "sev-es",
  "measurement": "` + m + `",
  "firmware": "` + trixie + `",
  "searched": 26
}
`
	if code != exitNoMatch || stdout != want || !strings.Contains(stderr, "explains LAUNCH_DIGEST abab") {
		t.Errorf("explain = exit %d\n%s%s\nwant %d\n%s", code, stdout, stderr, exitNoMatch, want)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// splitWords splits a command line as a POSIX shell does for the words
// explain quotes: blanks separate, single quotes group, '\” is a quote.
func splitWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted || escaped {
		t.Fatalf("%q: unterminated quote", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// TestShellQuote: each word explain quotes reads back as itself.
func TestShellQuote(t *testing.T) {
	for _, w := range []string{"plain", "", "console=ttyS0 loglevel=7", "it's", `a\b`, "'"} {
		if got := splitWords(t, "measure "+shellQuote(w)); len(got) != 2 || got[1] != w {
			t.Errorf("splitWords(shellQuote(%q)) = %q", w, got)
		}
	}
}
