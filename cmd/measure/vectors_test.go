//go:build !measure_front

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root relative to this package.
const repoRoot = "../.."

// fixtures maps vector placeholders to a path under testdata/fixtures and a
// path under ../shared/fixtures; the first that exists is used.
var fixtures = map[string][2]string{
	"BOOKWORM_OVMF":    {"bookworm-OVMF.fd", "debian/bookworm-OVMF.fd"},
	"BOOKWORM_CODE":    {"bookworm-OVMF_CODE.fd", "debian/bookworm-OVMF_CODE.fd"},
	"BOOKWORM_CODE4M":  {"bookworm-OVMF_CODE_4M.fd", "debian/bookworm-OVMF_CODE_4M.fd"},
	"TRIXIE_OVMF":      {"trixie-OVMF.fd", "debian/trixie-OVMF.fd"},
	"TRIXIE_CODE4M":    {"trixie-OVMF_CODE_4M.fd", "debian/trixie-OVMF_CODE_4M.fd"},
	"TRIXIE_VARS4M":    {"trixie-OVMF_VARS_4M.fd", "debian/trixie-OVMF_VARS_4M.fd"},
	"TRIXIE_VARS4M_MS": {"", "debian/trixie-OVMF_VARS_4M.ms.fd"},
	"KERNEL":           {"", "debian/vmlinuz-6.1.0-56-cloud-amd64"},
	"INITRD":           {"test-initrd.cpio", "test-initrd.cpio"},
	"INITRD1M":         {"zero-initrd-1MiB.bin", "zero-initrd-1MiB.bin"},
	"AMDSEV_SUFFIX":    {"", "upstream/ovmf_AmdSev_suffix.bin"},
	"OVMFX64_SUFFIX":   {"", "upstream/ovmf_OvmfX64_suffix.bin"},
}

func fixturePath(name string) (string, bool) {
	f, ok := fixtures[name]
	if !ok {
		return "", false
	}
	for _, p := range []string{
		filepath.Join(repoRoot, "testdata/fixtures", f[0]),
		filepath.Join(repoRoot, "../shared/fixtures", f[1]),
	} {
		if strings.HasSuffix(p, "fixtures") {
			continue // no local copy
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// vector is one row of a vectors TSV.
type vector struct {
	file, id, args, expected string
}

// snpVectorFiles returns the SEV-family vector files: the repository's and
// the shared ones (which may hold more rows), without repeats.
func snpVectorFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	seen := map[[32]byte]bool{}
	for _, glob := range []string{
		filepath.Join(repoRoot, "testdata/vectors/*.tsv"),
		filepath.Join(repoRoot, "../shared/vectors/*.tsv"),
	} {
		matches, _ := filepath.Glob(glob)
		for _, m := range matches {
			if filepath.Base(m) == "tdx.tsv" { // TestTDXVectors
				continue
			}
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(b); !seen[h] {
				seen[h] = true
				files = append(files, m)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no vector files found under testdata/vectors")
	}
	return files
}

func readVectors(t *testing.T, path string) []vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if header {
			header = false
			if !strings.HasPrefix(line, "id\targs\texpected") {
				t.Fatalf("%s: header %q, want id, args, expected, note", path, line)
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 3 {
			t.Fatalf("%s: row %q has %d columns, want at least 3", path, line, len(cols))
		}
		out = append(out, vector{file: filepath.Base(path), id: cols[0], args: cols[1], expected: strings.TrimSpace(cols[2])})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shellSplit splits s as a POSIX shell would for the subset vectors use:
// blanks, single and double quotes, backslash escapes, and $NAME placeholders
// replaced through lookup.
func shellSplit(s string, lookup func(string) (string, error)) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			inWord = true
		case c == '$':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			v, err := lookup(s[i+1 : j])
			if err != nil {
				return nil, err
			}
			cur.WriteString(v)
			i = j - 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

type missingFixture struct{ name string }

func (m missingFixture) Error() string { return "fixture $" + m.name + " is not available" }

func TestSNPVectors(t *testing.T) {
	total := 0
	for _, file := range snpVectorFiles(t) {
		for _, v := range readVectors(t, file) {
			t.Run(v.file+"/"+v.id, func(t *testing.T) {
				args, err := shellSplit(v.args, func(name string) (string, error) {
					p, ok := fixturePath(name)
					if !ok {
						return "", missingFixture{name}
					}
					return p, nil
				})
				if _, ok := err.(missingFixture); ok {
					t.Skip(err)
				}
				if err != nil {
					t.Fatal(err)
				}
				total++
				checkVector(t, args, v.expected)
			})
		}
	}
	t.Logf("%d vector rows run", total)
}

// checkVector runs measure ARGS in-process and checks it prints expected, or
// for ERROR that it fails with one line on stderr and nothing on stdout.
func checkVector(t *testing.T, args []string, expected string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	if expected == "ERROR" {
		if code == 0 {
			t.Fatalf("measure %q: exit 0 and stdout %q, want an error", args, stdout.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("measure %q: stdout %q, want nothing", args, stdout.String())
		}
		if lines := strings.Count(stderr.String(), "\n"); lines != 1 {
			t.Errorf("measure %q: stderr has %d lines, want 1: %q", args, lines, stderr.String())
		}
		return
	}
	if code != 0 {
		t.Fatalf("measure %q: exit %d: %s", args, code, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != expected {
		t.Errorf("measure %q = %s, want %s", args, got, expected)
	}
}
