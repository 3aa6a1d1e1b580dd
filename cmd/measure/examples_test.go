//go:build !measure_front

package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/provenance"
)

// example is one command line of a command's Example: the words of each
// measure command of its pipeline (a producer that is not measure, such
// as base64, is kept as words too).
type example struct {
	line     string
	pipeline [][]string
}

// parseExamples reads a cobra Example: one command per line (a trailing
// backslash continues it), "# ..." comments and "> FILE" redirections
// dropped, "$(measure ...)" unwrapped, "|" splitting a pipeline.
func parseExamples(t *testing.T, text string) []example {
	t.Helper()
	var out []example
	var cont string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		if line == "" {
			continue
		}
		cmdline := line
		if i := unquotedIndex(cmdline, " # "); i >= 0 {
			cmdline = cmdline[:i]
		}
		if i := unquotedIndex(cmdline, "$("); i >= 0 {
			cmdline = strings.TrimSuffix(cmdline[i+2:], ")")
		}
		ex := example{line: line}
		for cmdline != "" {
			seg := cmdline
			if i := unquotedIndex(seg, " | "); i >= 0 {
				seg, cmdline = seg[:i], seg[i+3:]
			} else {
				cmdline = ""
			}
			if i := unquotedIndex(seg, " > "); i >= 0 {
				seg = seg[:i]
			}
			words, err := shellSplit(strings.TrimSpace(seg), func(name string) (string, error) { return "$" + name, nil })
			if err != nil {
				t.Fatalf("example %q: %v", line, err)
			}
			ex.pipeline = append(ex.pipeline, words)
		}
		out = append(out, ex)
	}
	return out
}

// unquotedIndex is strings.Index of sep in s outside single and double
// quotes.
func unquotedIndex(s, sep string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case strings.HasPrefix(s[i:], sep):
			return i
		}
	}
	return -1
}

// TestExamplesParse: every command has examples, and every measure
// command line in them names a command and flags that exist, with valid
// arguments and flag combinations.
func TestExamplesParse(t *testing.T) {
	for _, c := range allCommands() {
		path := subPath(c)
		if path == "help" || strings.HasPrefix(path, "completion") {
			continue // cobra's
		}
		if c.Example == "" {
			if path == "ovmf" {
				continue // the other engineer's file (cmd/measure/ovmf.go)
			}
			t.Errorf("measure %s has no Example", path)
			continue
		}
		for _, ex := range parseExamples(t, c.Example) {
			for _, words := range ex.pipeline {
				if words[0] != "measure" {
					continue
				}
				root := newRootCmd()
				cmd, rest, err := root.Find(words[1:])
				if err != nil || cmd == root {
					t.Errorf("measure %s example %q: no such command: %v", path, ex.line, err)
					continue
				}
				if err := parseAsCobra(cmd, rest); err != nil {
					t.Errorf("measure %s example %q: %v", path, ex.line, err)
				}
			}
		}
	}
}

// parseAsCobra parses args as cobra does before running cmd.
func parseAsCobra(cmd *cobra.Command, args []string) error {
	if err := cmd.ParseFlags(args); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}

// exampleFiles makes the files the examples name, in dir: firmware images,
// a kernel and initrd, a real SEV-SNP report and its VCEK (kds/), a TDX
// quote, an Azure HCL report and its quote, keys, and reference values
// for the firmware (subject OVMF.fd) whose one configuration has the
// report's MEASUREMENT, signed by ci, alice and bob.
func exampleFiles(t *testing.T, dir string) {
	t.Helper()
	link := func(name, target string) {
		abs, err := filepath.Abs(target)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	genoa := realReports[2]
	link("OVMF.fd", trixie)
	link("report.bin", genoa.report)
	link("kds/vcek.der", genoa.cert)
	link("quote.dat", recordedQuote)
	link("CCEL", "../../verify/testdata/cceventlog/gce-cos113-tdx.bin")
	link("td-quote.dat", hclTDXQuote)
	link("hcl-report.bin", hclTDX)
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	amdSevImage(t, dir)
	bootFiles(t, dir)
	a, err := os.ReadFile(bookworm)
	if err != nil {
		t.Fatal(err)
	}
	b := slices.Clone(a)
	b[len(b)-0x800] ^= 1 // in the reset vector's volume, not in a compressed one
	for name, data := range map[string][]byte{"out/OVMF.fd": a, "out/a/OVMF.fd": a, "out/b/OVMF.fd": b} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var signers []*provenance.Signer
	for _, name := range []string{"ci", "alice", "bob", "carol"} {
		priv, _ := os.ReadFile(keygen(t, dir, name, "") + ".key")
		s, err := provenance.ParseSigner(priv)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	fw, err := os.Open(trixie)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	d, err := provenance.Digests(fw)
	if err != nil {
		t.Fatal(err)
	}
	rv := hclRefs("sev-snp", "MEASUREMENT", genoa.measurement)
	rv.Firmware = provenance.Firmware{Name: "OVMF.fd", Digest: d}
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: "OVMF.fd", Digest: d}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env, err := provenance.Sign(t.Context(), stmt, signers[:3]...)
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, dir, "refs.json", stmt)
	writeIn(t, dir, "refs.dsse.json", env)
}

// exampleRuns says which commands' examples TestExamplesRun runs: those
// that need no sandbox, registry or network.
var exampleRuns = []string{"compare", "export", "explain", "report", "report show", "diff", "recipes", "recipes list", "recipes show", "keygen", "sign", "verify"}

// TestExamplesRun runs, as written, the examples of the commands in
// exampleRuns, each in a fresh directory holding the files they name
// (exampleFiles), and wants each to give an answer: exit 0, or the
// negative answer 1 (diff of two images that differ, explain of a report
// this firmware does not explain), or a verdict of compare that the clock
// decides (20 to 23): never a usage error (2), a file it cannot read (3) or
// another failure (4).
func TestExamplesRun(t *testing.T) {
	base := t.TempDir()
	exampleFiles(t, base)
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, c := range allCommands() {
		path := subPath(c)
		if !slices.Contains(exampleRuns, path) {
			continue
		}
		for i, ex := range parseExamples(t, c.Example) {
			t.Run(strings.ReplaceAll(path, " ", "_")+"_"+string(rune('a'+i)), func(t *testing.T) {
				dir := t.TempDir()
				if path != "keygen" { // keygen refuses to overwrite the keys
					for _, e := range entries {
						if err := os.Symlink(filepath.Join(base, e.Name()), filepath.Join(dir, e.Name())); err != nil {
							t.Fatal(err)
						}
					}
				}
				t.Chdir(dir)
				var stdin []byte
				for j, words := range ex.pipeline {
					last := j == len(ex.pipeline)-1
					switch {
					case words[0] == "base64" && len(words) == 3 && words[1] == "-w0":
						b, err := os.ReadFile(words[2])
						if err != nil {
							t.Fatal(err)
						}
						stdin = []byte(base64.StdEncoding.EncodeToString(b))
						continue
					case words[0] != "measure":
						t.Skipf("%q: %s is not run here", ex.line, words[0])
					}
					for _, w := range words {
						if filepath.IsAbs(w) {
							if _, err := os.Stat(w); err != nil {
								t.Skipf("%q: %v", ex.line, err)
							}
						}
					}
					var stdout, stderr bytes.Buffer
					root := newRootCmd()
					root.SetIn(bytes.NewReader(stdin))
					code := exitCode(runWith(root, words[1:], &stdout, &stderr), &stderr)
					ok := code == exitOK || code == exitNegative || (strings.HasPrefix(path, "compare") && code >= exitEvidence && code <= exitUnverified)
					if !ok || (last && code == exitOK && stdout.Len() == 0 && path != "sign") {
						t.Errorf("%q: exit %d, stdout %q, stderr %q", ex.line, code, stdout.String(), stderr.String())
					}
					stdin = stdout.Bytes()
				}
				ran++
			})
		}
	}
	if ran < 20 {
		t.Errorf("ran %d examples, want at least 20", ran)
	}
}
