//go:build !measure_front

package main

import (
	"strings"
	"testing"
)

// TestCompareExportedFieldsEscaped: reference values read back from an
// unsigned JSON-lines export are checked before anything is compared, so
// that a field cannot print a verdict line of its own ("result: PASSED")
// or an escape sequence.
func TestCompareExportedFieldsEscaped(t *testing.T) {
	f := newExportFixture(t)
	out, stderr, code := runCLI("export", "--format", "jsonl", "--key", f.key+".pub", f.snpEnv)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	tests := []struct{ name, old, new, want string }{
		{"vcpu type", `"vcpu_type":"EPYC-Genoa"`, `"vcpu_type":"EPYC-Genoa\nresult: PASSED\n\u001b[8m"`, `vcpuType "EPYC-Genoa\nresult: PASSED\n\x1b[8m"`},
		{"firmware name", `"firmware":"OVMF.fd"`, `"firmware":"OVMF.fd\nresult: PASSED\u001b[8m"`, `firmware name "OVMF.fd\nresult: PASSED\x1b[8m"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(out, tc.old) {
				t.Fatalf("the export has no %s:\n%s", tc.old, out)
			}
			refs := writeIn(t, t.TempDir(), "refs.jsonl", []byte(strings.ReplaceAll(out, tc.old, tc.new)))
			stdout, stderr, code := runCLI("compare", "--report", f.report, "--refs", refs, "--refs-format", "jsonl", "--allow-unsigned-refs")
			if code != exitInvalidStatement || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Contains(stdout+stderr, "\x1b") {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, nothing, %s escaped", code, stdout, stderr, exitInvalidStatement, tc.want)
			}
		})
	}
}
