//go:build !measure_front

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const (
	bookworm = "../../testdata/fixtures/bookworm-OVMF.fd"
	trixie   = "../../testdata/fixtures/trixie-OVMF.fd"
	code4m   = "../../testdata/fixtures/bookworm-OVMF_CODE_4M.fd"
	initrd   = "../../testdata/fixtures/test-initrd.cpio"
)

// runCLI runs measure in-process and returns stdout, stderr and the exit code.
func runCLI(args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := exitCode(run(args, &stdout, &stderr), &stderr)
	return stdout.String(), stderr.String(), code
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIErrors(t *testing.T) {
	full, err := os.ReadFile(bookworm)
	if err != nil {
		t.Fatal(err)
	}
	truncated := writeTemp(t, "truncated.fd", full[:len(full)-4096-1000])
	tail := writeTemp(t, "tail.fd", full[len(full)-8192:len(full)-4096]) // a page-aligned cut: no footer table
	overlap := ovmftest.AmdSev()
	overlap.SEV = append([]ovmf.SEVMetadataSection(nil), overlap.SEV...)
	overlap.SEV[1].GPA = 0x801000
	overlapping := writeTemp(t, "overlap.fd", overlap.MustBuild())
	noReset := ovmftest.AmdSev()
	noReset.ResetEIP = nil
	noResetFile := writeTemp(t, "noreset.fd", noReset.MustBuild())
	dir := t.TempDir()

	snp := []string{"snp", "--vcpus", "4", "--vcpu-type", "EPYC-v4"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no ovmf", snp, exitUsage, "--ovmf is required"},
		{"no vcpus", []string{"snp", "--vcpu-type", "EPYC-v4", "--ovmf", bookworm}, exitUsage, "--vcpus is required"},
		{"vcpus 0", []string{"snp", "--vcpus", "0", "--vcpu-type", "EPYC", "--ovmf", bookworm}, exitUsage, "--vcpus: 0, want 1 to 4096"},
		{"vcpus too many", []string{"snp", "--vcpus", "1-5000", "--vcpu-type", "EPYC", "--ovmf", bookworm}, exitUsage, "--vcpus: 5000"},
		{"vcpus backwards", []string{"snp", "--vcpus", "8-2", "--vcpu-type", "EPYC", "--ovmf", bookworm}, exitUsage, "runs backwards"},
		{"vcpus not a number", []string{"snp", "--vcpus", "four", "--vcpu-type", "EPYC", "--ovmf", bookworm}, exitUsage, `"four" is not a number`},
		{"no vcpu type for qemu", []string{"snp", "--vcpus", "4", "--ovmf", bookworm}, exitUsage, "--vcpu-type, --vcpu-sig or"},
		{"unknown vcpu type", []string{"snp", "--vcpus", "4", "--vcpu-type", "EPYC-Zen9", "--ovmf", bookworm}, exitUsage, `"EPYC-Zen9" is unknown`},
		{"type and sig", append(snp, "--vcpu-sig", "0x800f12", "--ovmf", bookworm), exitUsage, "none of the others"},
		{"family alone", []string{"snp", "--vcpus", "4", "--vcpu-family", "25", "--ovmf", bookworm}, exitUsage, "vcpu-family"},
		{"family too large", []string{"snp", "--vcpus", "4", "--vcpu-family", "300", "--vcpu-model", "1", "--vcpu-stepping", "1", "--ovmf", bookworm}, exitUsage, "--vcpu-family 300"},
		{"sig too large", []string{"snp", "--vcpus", "4", "--vcpu-sig", "0x1ffffffff", "--ovmf", bookworm}, exitUsage, "does not fit in 32 bits"},
		{"unknown vmm", append(snp, "--vmm-type", "kvm", "--ovmf", bookworm), exitUsage, `VMM type "kvm" is unknown`},
		{"bad guest features", append(snp, "--guest-features", "lots", "--ovmf", bookworm), exitUsage, "--guest-features"},
		{"short seed", append(snp, "--snp-ovmf-hash", "abcd", "--ovmf", bookworm), exitUsage, "4 hex digits, want 96"},
		{"bad output", append(snp, "--output", "yaml", "--ovmf", bookworm), exitUsage, `--output "yaml" is unknown`},
		{"append without kernel", append(snp, "--append", "x", "--ovmf", bookworm), exitUsage, "--append needs --kernel"},
		{"unknown flag", append(snp, "--vcpu", "4"), exitUsage, "unknown flag"},
		{"unknown command", []string{"tpm"}, exitUsage, "unknown command"},
		{"inspect without file", []string{"ovmf", "inspect"}, exitUsage, "accepts 1 arg"},
		{"missing file", append(snp, "--ovmf", "/nonexistent/OVMF.fd"), exitUnreadable, "no such file or directory"},
		{"directory", append(snp, "--ovmf", dir), exitUnreadable, "is a directory"},
		{"kernel is a directory", []string{"sev", "--ovmf", bookworm, "--kernel", dir}, exitUnreadable, "is a directory"},
		{"truncated firmware", append(snp, "--ovmf", truncated), exitError, "not a multiple of 4 KiB"},
		{"no footer table", append(snp, "--ovmf", tail), exitError, "no SEV metadata"},
		{"no SEV metadata", append(snp, "--ovmf", code4m), exitError, "no SEV metadata"},
		{"overlapping sections", append(snp, "--ovmf", overlapping), exitError, "overlap"},
		{"seves without reset block", []string{"seves", "--vcpus", "2", "--vcpu-type", "EPYC", "--ovmf", noResetFile}, exitError, "no SEV-ES reset block"},
		{"kernel without hashes table", []string{"sev", "--ovmf", bookworm, "--kernel", initrd}, exitError, "hashes table"},
		{"inspect directory", []string{"ovmf", "inspect", dir}, exitUnreadable, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "measure: ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting with \"measure: \"", stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.wantErr)
			}
		})
	}
}

func TestOutputFormats(t *testing.T) {
	single := []string{"snp", "--vcpus", "4", "--vcpu-type", "EPYC-v4", "--ovmf", trixie}
	hexOut, _, code := runCLI(single...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(hexOut))
	if err != nil || len(raw) != 48 {
		t.Fatalf("hex output %q: %v", hexOut, err)
	}
	b64, _, _ := runCLI(append(single, "--output", "base64")...)
	if got := strings.TrimSpace(b64); got != base64.StdEncoding.EncodeToString(raw) {
		t.Errorf("base64 output %q, want %q", got, base64.StdEncoding.EncodeToString(raw))
	}

	js, _, _ := runCLI(append(single, "--output", "json")...)
	var jsonRecs []map[string]any
	if err := json.Unmarshal([]byte(js), &jsonRecs); err != nil || len(jsonRecs) != 1 {
		t.Fatalf("json output, want an array of jsonRecs: %v\n%s", err, js)
	}
	rec := jsonRecs[0]
	for k, want := range map[string]any{
		"platform": "sev-snp", "vmm_type": "qemu", "vcpus": 4.0, "vcpu_type": "EPYC-v4", "vcpu_sig": "0x800f12",
		"guest_features": "0x1", "measurement": hex.EncodeToString(raw),
		"ovmf_sha256": "14954040cc754ade0c625ac3470ea46d4c14318b5b1396de4ef77090203d76db",
	} {
		if rec[k] != want {
			t.Errorf("json %s = %v, want %v", k, rec[k], want)
		}
	}

	sweep := []string{"snp", "--vcpus", "1-3,8", "--vcpu-type", "EPYC-Milan,EPYC-Genoa", "--vmm-type", "qemu,EC2,gce", "--ovmf", trixie}
	tsv, stderr, code := runCLI(sweep...)
	if code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(tsv), "\n")
	// qemu: 2 types x 4 counts; ec2 and gce ignore the type: 4 counts each.
	if len(lines) != 1+8+4+4 {
		t.Errorf("sweep printed %d lines, want a header and 16 rows:\n%s", len(lines), tsv)
	}
	if lines[0] != "vmm_type\tvcpu_type\tvcpu_sig\tvcpus\tguest_features\tmeasurement" {
		t.Errorf("header %q", lines[0])
	}
	// The 4-vCPU EPYC-v4 value must not appear (different type), the single
	// Milan value for 3 vCPUs must equal the sweep's row.
	one, _, _ := runCLI("snp", "--vcpus", "3", "--vcpu-type", "EPYC-Milan", "--ovmf", trixie)
	want := "qemu\tEPYC-Milan\t0xa00f11\t3\t0x1\t" + strings.TrimSpace(one)
	if !strings.Contains(tsv, want+"\n") {
		t.Errorf("sweep lacks row %q:\n%s", want, tsv)
	}
	ec2, _, _ := runCLI("snp", "--vcpus", "8", "--vmm-type", "ec2", "--ovmf", trixie)
	if !strings.Contains(tsv, "ec2\t-\t-\t8\t0x1\t"+strings.TrimSpace(ec2)+"\n") {
		t.Errorf("sweep lacks the ec2 8-vCPU row %s", ec2)
	}
	arr, _, _ := runCLI(append(sweep, "--output", "json")...)
	var recs []map[string]any
	if err := json.Unmarshal([]byte(arr), &recs); err != nil || len(recs) != 16 {
		t.Errorf("json sweep: %d records, %v", len(recs), err)
	}
}

func TestListVCPUTypes(t *testing.T) {
	out, _, code := runCLI("snp", "--list-vcpu-types")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"EPYC-Turin-v1", "0xb00f00", "EPYC-IBPB", "EPYC-Rome-v5", "0x830f10", "EPYC-Milan-v3", "EPYC-Genoa-v2"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list-vcpu-types lacks %q", want)
		}
	}
}

// TestGolden compares whole outputs with files in testdata/; run with
// -update to rewrite them after a deliberate change.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"inspect-bookworm.txt", []string{"ovmf", "inspect", bookworm}},
		{"inspect-bookworm.json", []string{"ovmf", "inspect", bookworm, "--output", "json"}},
		{"inspect-code4m.txt", []string{"ovmf", "inspect", code4m}},
		{"snp-sweep.tsv", []string{"snp", "--ovmf", bookworm, "--vcpus", "1,2,64", "--vcpu-type", "EPYC-v4,EPYC-Turin", "--vmm-type", "qemu,gce"}},
		{"seves-sig.json", []string{"seves", "--ovmf", bookworm, "--vcpus", "2", "--vcpu-sig", "0xa10f10", "--output", "json"}},
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
}

// TestSevSnpMeasureCompat: flags sev-snp-measure accepts in modes that do not
// use them are accepted and change nothing; its --output-format still works;
// malformed values are still errors.
func TestSevSnpMeasureCompat(t *testing.T) {
	same := func(a, b []string) {
		t.Helper()
		outA, errA, codeA := runCLI(a...)
		outB, errB, codeB := runCLI(b...)
		if codeA != 0 || codeB != 0 || outA != outB {
			t.Errorf("measure %q = %q (exit %d, %s); measure %q = %q (exit %d, %s); want equal successes", a, outA, codeA, errA, b, outB, codeB, errB)
		}
	}
	same([]string{"sev", "--ovmf", bookworm}, []string{"sev", "--ovmf", bookworm, "--vcpus", "4", "--vcpu-type", "EPYC-v4", "--vmm-type", "QEMU", "--guest-features", "0x21"})
	seves := []string{"seves", "--ovmf", bookworm, "--vcpus", "4", "--vcpu-type", "EPYC-v4"}
	same(seves, append(seves, "--guest-features", "0x21"))
	same(append(seves, "--output", "base64"), append(seves, "--output-format", "base64"))
	for _, bad := range [][]string{
		{"sev", "--ovmf", bookworm, "--vcpu-type", "EPYC-Zen9"},
		{"sev", "--ovmf", bookworm, "--vcpus", "0"},
		{"sev", "--ovmf", bookworm, "--vmm-type", "xen"},
		append(seves, "--guest-features", "x"),
	} {
		if out, _, code := runCLI(bad...); code != exitUsage || out != "" {
			t.Errorf("measure %q: exit %d, stdout %q; want exit %d and nothing", bad, code, out, exitUsage)
		}
	}
}

// cliCase is one run of measure and what it must give: the exit status,
// lines stdout must contain (nil: stdout must be empty) and, when it
// fails, the one "measure: " line on stderr, which must contain wantErr.
type cliCase struct {
	name     string
	args     []string
	wantCode int
	wantOut  []string
	wantErr  string
}

// runCases runs each case as a subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if tc.wantOut == nil && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if tc.wantCode == 0 && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if tc.wantCode != 0 && (!strings.Contains(stderr, tc.wantErr) || !strings.HasPrefix(stderr, "measure: ") || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line starting \"measure: \" containing %q", stderr, tc.wantErr)
			}
		})
	}
}
