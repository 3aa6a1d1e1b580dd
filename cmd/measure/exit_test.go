//go:build !measure_front

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// exitRows is one command's rows of the exit-code table: the arguments
// (after the command's path) that must give each code. A nil row is one
// the command cannot give here, for the reason in why.
type exitRows struct {
	// missing names an input file that does not exist: exit 3.
	missing []string
	// ok succeeds: exit 0. negative gives the command's negative answer:
	// exit 1.
	ok, negative []string
	// why says why a row is nil.
	why string
}

// exitFixture is what the rows read: keys, a statement and its envelope,
// reference values for a real SEV-SNP report and its VCEK, two firmware
// images that differ.
type exitFixture struct {
	dir, missing          string
	key, statement, env   string
	report, refs, badRefs string
	certs, explainReport  string
	imageA, imageB        string
}

func newExitFixture(t *testing.T) *exitFixture {
	t.Helper()
	f := &exitFixture{dir: t.TempDir()}
	f.missing = filepath.Join(f.dir, "missing", "file")
	f.key = keygen(t, f.dir, "ci", "")
	rv := hclRefs("sev-snp", "MEASUREMENT", strings.Repeat("ab", 48))
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: rv.Firmware.Name, Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	f.statement = writeIn(t, f.dir, "refs.json", b)
	f.env = signRefs(t, f.dir, f.key, "refs.dsse.json", rv)
	genoa := realReports[2]
	f.report = genoa.report
	f.refs = signedSNPRefs(t, f.dir, "genoa.dsse.json", f.key, genoa.measurement)
	f.badRefs = signedSNPRefs(t, f.dir, "other.dsse.json", f.key, strings.Repeat("cd", 48))
	f.certs = certsDir(t, genoa.cert, genoa.certName)
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	r, err := signer.Sign(verifytest.Report{Measurement: vectorDigest(t, "snp-gce-bookworm-ovmf-4")})
	if err != nil {
		t.Fatal(err)
	}
	f.explainReport = writeIn(t, f.dir, "explain.bin", r)
	a := ovmftest.AmdSev().MustBuild()
	f.imageA = writeIn(t, f.dir, "a.fd", a)
	other := slices.Clone(a)
	other[len(other)/2] ^= 1
	f.imageB = writeIn(t, f.dir, "b.fd", other)
	return f
}

// rows is the exit-code table of every command, by path below measure.
func (f *exitFixture) rows(t *testing.T) map[string]exitRows {
	compare := func(refs string) []string {
		return []string{"--report", f.report, "--refs", refs, "--key", f.key + ".pub", "--certs", f.certs, "--verify-time", realVerifyTime}
	}
	const group = "a group of commands: it only says which subcommands it has"
	const builds = "a build needs the sandbox: build_test.go and build_guest_test.go run builds on fakes"
	const registry = "needs a registry: pushpull_test.go runs it on one"
	digestRef := "localhost:1/x@sha256:" + strings.Repeat("0", 64)
	return map[string]exitRows{
		"snp":                   {missing: []string{"--ovmf", f.missing, "--vcpus", "1", "--vcpu-type", "EPYC-v4"}, ok: []string{"--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4"}, why: "a measurement has no negative answer"},
		"seves":                 {missing: []string{"--ovmf", f.missing, "--vcpus", "1", "--vcpu-type", "EPYC-v4"}, ok: []string{"--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4"}, why: "a measurement has no negative answer"},
		"sev":                   {missing: []string{"--ovmf", f.missing}, ok: []string{"--ovmf", trixie}, why: "a measurement has no negative answer"},
		"snp-ovmf-hash":         {missing: []string{"--ovmf", f.missing}, ok: []string{"--ovmf", trixie}, why: "a measurement has no negative answer"},
		"snp-create-id-block":   {missing: []string{"--measurement", strings.Repeat("ab", 48), "--id-key", f.missing}, ok: []string{"--measurement", strings.Repeat("ab", 48), "--id-key", keygen(t, f.dir, "id", "ecdsa-p384") + ".key"}, why: "creating an ID block has no negative answer"},
		"tdx":                   {missing: []string{"--ovmf", f.missing}, ok: []string{"--ovmf", bookworm}, why: "a measurement has no negative answer"},
		"ovmf":                  {why: group},
		"ovmf inspect":          {missing: []string{f.missing}, ok: []string{trixie}, why: "inspect has no negative answer"},
		"igvm":                  {why: group},
		"igvm measure":          {missing: []string{f.missing}, ok: []string{writeIn(t, f.dir, "snp.igvm", igvmtest.SNPFile().Build()), "--ignore-id-block"}, negative: []string{writeIn(t, f.dir, "snp.igvm", igvmtest.SNPFile().Build())}},
		"igvm inspect":          {missing: []string{f.missing}, ok: []string{writeIn(t, f.dir, "snp.igvm", igvmtest.SNPFile().Build())}, why: "inspect has no negative answer"},
		"keygen":                {missing: []string{"--out", f.missing}, ok: []string{"--out", filepath.Join(t.TempDir(), "k")}, why: "keygen has no negative answer"},
		"sign":                  {missing: []string{"--key", f.key + ".key", f.missing}, ok: []string{"--key", f.key + ".key", f.statement}, why: "a rejected statement is exit 14, not a negative answer"},
		"verify":                {missing: []string{"--key", f.key + ".pub", f.missing}, ok: []string{"--key", f.key + ".pub", f.env}, why: "a rejected envelope is exit 10-15"},
		"compare":               {missing: []string{"--report", f.missing, "--refs", f.refs, "--key", f.key + ".pub"}, ok: compare(f.refs), negative: compare(f.badRefs)},
		"export":                {missing: []string{"--format", "jsonl", "--key", f.key + ".pub", f.missing}, ok: []string{"--format", "jsonl", "--key", f.key + ".pub", f.env}, why: "an export has no negative answer"},
		"explain":               {missing: []string{"--report", f.missing, "--ovmf", bookworm}, ok: []string{"--report", f.explainReport, "--ovmf", bookworm}, negative: []string{"--report", f.report, "--ovmf", trixie, "--max-vcpus", "2"}},
		"report":                {why: group},
		"serve-web":             {missing: []string{"--dir", f.missing}, why: "a server runs until interrupted (TestServeWeb) and has no negative answer"},
		"report show":           {missing: []string{f.missing}, ok: []string{f.report}, why: "show has no negative answer"},
		"build":                 {why: group},
		"build ovmf":            {missing: []string{"--recipe", f.missing + ".yaml"}, why: builds},
		"build kernel":          {missing: []string{"--recipe", f.missing + ".yaml"}, why: builds},
		"build initramfs":       {missing: []string{"--init", f.missing}, why: builds},
		"build guest":           {missing: []string{"--recipe", f.missing + ".yaml"}, why: builds},
		"build shell":           {missing: []string{"--recipe", f.missing + ".yaml"}, why: builds},
		"recipes":               {why: group},
		"recipes list":          {ok: []string{}, why: "lists embedded recipes: reads no file"},
		"recipes show":          {ok: []string{"amdsev"}, why: "shows embedded recipes: reads no file"},
		"layout":                {missing: []string{"--recipe", "minimal", "--functionary", f.missing, "--owner-key", f.key + ".key"}, ok: []string{"--recipe", "minimal", "--functionary", f.key + ".pub", "--owner-key", f.key + ".key"}, why: "writing a layout has no negative answer"},
		"layout inspect":        {missing: []string{"--vcpus", "1", "--vcpu-types", "EPYC-v4", "--firmware", f.missing}, why: "needs a guest build's files: TestLayoutInspect runs it on one, with its negative answer"},
		"diff":                  {missing: []string{f.imageA, f.missing}, ok: []string{f.imageA, f.imageA}, negative: []string{f.imageA, f.imageB}},
		"push":                  {missing: []string{"localhost:1/x:tag", "--firmware", f.missing}, why: registry},
		"pull":                  {missing: []string{digestRef, "--key", f.missing, "--out", t.TempDir()}, why: registry},
		"help":                  {ok: []string{"snp"}, why: "cobra's help: reads no file"},
		"completion":            {why: group},
		"completion bash":       {ok: []string{}, why: "prints a script: reads no file"},
		"completion zsh":        {ok: []string{}, why: "prints a script: reads no file"},
		"completion fish":       {ok: []string{}, why: "prints a script: reads no file"},
		"completion powershell": {ok: []string{}, why: "prints a script: reads no file"},
	}
}

// allCommands returns the path below measure of every command a user can
// run, cobra's help and completion commands included.
func allCommands() []*cobra.Command {
	root := newRootCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			out = append(out, sub)
			walk(sub)
		}
	}
	walk(root)
	return out
}

func subPath(c *cobra.Command) string { return strings.TrimPrefix(c.CommandPath(), "measure ") }

// TestExitCodes walks every command and checks it against the exit-code
// table: an unknown flag is 2, an input that does not exist 3, and, where
// the fixtures reach them, success 0 and the negative answer 1. A command
// that prints JSON refuses --output json where it has none (2), and prints
// its answer as JSON when the answer is negative.
func TestExitCodes(t *testing.T) {
	f := newExitFixture(t)
	rows := f.rows(t)
	seen := map[string]bool{}
	for _, c := range allCommands() {
		path := subPath(c)
		seen[path] = true
		r, ok := rows[path]
		if !ok {
			t.Errorf("measure %s has no row in TestExitCodes: add its exit codes", path)
			continue
		}
		args := strings.Fields(path)
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			stdout, stderr, code := runCLI(append(slices.Clone(args), "--no-such-flag")...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, "unknown flag") {
				t.Errorf("unknown flag: exit %d, stdout %q, stderr %q; want %d, nothing, unknown flag", code, stdout, stderr, exitUsage)
			}
			if r.missing != nil {
				stdout, stderr, code := runCLI(append(slices.Clone(args), r.missing...)...)
				if code != exitUnreadable || stdout != "" || !strings.Contains(stderr, filepath.Base(f.missing)) {
					t.Errorf("missing input %v: exit %d, stdout %q, stderr %q; want %d, nothing, the file named", r.missing, code, stdout, stderr, exitUnreadable)
				}
			}
			if r.ok != nil {
				if stdout, stderr, code := runCLI(append(slices.Clone(args), r.ok...)...); code != exitOK || stdout == "" {
					t.Errorf("success %v: exit %d, stderr %q, %d bytes out; want %d and output", r.ok, code, stderr, len(stdout), exitOK)
				}
			}
			if r.negative != nil {
				stdout, stderr, code := runCLI(append(slices.Clone(args), r.negative...)...)
				if code != exitNegative || strings.Count(stderr, "measure: ") != 1 {
					t.Errorf("negative %v: exit %d, stderr %q; want %d and one error line", r.negative, code, stderr, exitNegative)
				}
				if path == "compare" && !strings.Contains(stdout, "MISMATCH") {
					t.Errorf("negative %v: stdout %q, want the verdict", r.negative, stdout)
				}
			}
			if (r.ok == nil || r.negative == nil) && r.why == "" {
				t.Errorf("rows without success or negative answer need a reason")
			}
			out := c.Flags().Lookup("output")
			if out == nil {
				if c.Runnable() && path != "help" && !strings.HasPrefix(path, "completion") {
					if _, _, code := runCLI(append(slices.Clone(args), "--output", "json")...); code != exitUsage {
						t.Errorf("--output json without an --output flag: exit %d, want %d", code, exitUsage)
					}
				}
				return
			}
			values := outputValues(out)
			if len(values) == 0 {
				t.Fatalf("--output lists no values: %q", out.Usage)
			}
			if !slices.Contains(values, "json") {
				if _, stderr, code := runCLI(append(slices.Clone(args), "--output", "json")...); code != exitUsage || !strings.Contains(stderr, `--output "json" is unknown`) {
					t.Errorf("--output json where it is not supported: exit %d, %q; want %d", code, stderr, exitUsage)
				}
				return
			}
			if r.negative != nil {
				stdout, stderr, code := runCLI(append(slices.Clone(args), append(slices.Clone(r.negative), "--output", "json")...)...)
				var v map[string]any
				if code != exitNegative || json.Unmarshal([]byte(stdout), &v) != nil {
					t.Errorf("negative %v --output json: exit %d, stderr %q, stdout %q; want %d and the answer as one JSON object", r.negative, code, stderr, stdout, exitNegative)
				}
			}
		})
	}
	for path := range rows {
		if !seen[path] {
			t.Errorf("row %q names no command", path)
		}
	}
}

// TestExitCodeTable maps each kind of error to its code, as README.md's
// table says.
func TestExitCodeTable(t *testing.T) {
	notFound := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"compare: no match", fmt.Errorf("r: %w", verify.ErrMismatch), exitNegative},
		{"compare: another platform", fmt.Errorf("r: %w", verify.ErrPlatform), exitNegative},
		{"explain: nothing explains", fmt.Errorf("r: %w", verify.ErrNoConfiguration), exitNegative},
		{"diff: differ", errDiffer, exitNegative},
		{"build --check: differ", fmt.Errorf("b: %w", engine.ErrNotReproducible), exitNegative},
		{"usage", usagef("--x"), exitUsage},
		{"cobra usage", errors.New(`unknown command "x" for "measure"`), exitUsage},
		{"missing file", notFound, exitUnreadable},
		{"missing file, wrapped", fmt.Errorf("firmware: %w", notFound), exitUnreadable},
		{"permission", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}, exitUnreadable},
		{"read error", &fs.PathError{Op: "read", Path: "x", Err: errors.New("is a directory")}, exitUnreadable},
		{"marked unreadable", unreadable(errors.New(`"x" is larger than 1 bytes`)), exitUnreadable},
		{"other", errors.New("firmware has no SEV metadata"), exitError},
		{"a write", &fs.PathError{Op: "write", Path: "x", Err: errors.New("no space left on device")}, exitError},
		{"envelope", provenance.ErrMalformedEnvelope, exitMalformedEnvelope},
		{"payload type", provenance.ErrPayloadType, exitPayloadType},
		{"signature", provenance.ErrBadSignature, exitBadSignature},
		{"threshold", provenance.ErrThreshold, exitThreshold},
		{"statement", provenance.ErrInvalidStatement, exitInvalidStatement},
		{"subject", provenance.ErrSubjectMismatch, exitSubjectMismatch},
		{"unsigned", oci.ErrUnsigned, exitUnsigned},
		{"registry mismatch", oci.ErrMismatch, exitMismatch},
		{"evidence", fmt.Errorf("%w: short", verify.ErrTruncated), exitEvidence},
		{"hardware", fmt.Errorf("%w: bad", verify.ErrHardwareSignature), exitHardwareSignature},
		{"hardware wins over a missing file", fmt.Errorf("%w: %w", verify.ErrNoCertificate, notFound), exitHardwareSignature},
		{"policy", verify.ErrPolicy, exitPolicy},
		{"unverified", verify.ErrHardwareUnverified, exitUnverified},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err, io.Discard); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
	// README.md's table lists every code.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for _, c := range []int{exitOK, exitNegative, exitUsage, exitUnreadable, exitError} {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		if !strings.Contains(string(readme), fmt.Sprintf("\n| %d | ", c)) {
			t.Errorf("README.md's exit-code table has no row for %d", c)
		}
	}
}
