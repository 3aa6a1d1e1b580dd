package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/provenance"
)

// TestProvenance: the statement is valid SLSA v1 about the binaries given,
// and the same inputs give the same bytes.
func TestProvenance(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, f := range []struct{ name, data string }{{"measure-linux-amd64", "a"}, {"measure-linux-arm64", "b"}, {"go.sum", "sums"}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if f.name != "go.sum" {
			files = append(files, p)
		}
	}
	args := append([]string{"-version", "v1.0.0", "-commit", strings.Repeat("ab", 20), "-source-date-epoch", "1700000000",
		"-ldflags", "-buildid= -X main.version=v1.0.0", "-targets", "linux/amd64 linux/arm64", "-gosum", filepath.Join(dir, "go.sum")}, files...)
	var a, b bytes.Buffer
	if err := run(args, &a); err != nil {
		t.Fatal(err)
	}
	if err := run(args, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two runs over the same inputs differ")
	}
	st, err := provenance.ParseStatement(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := provenance.ValidateStatement(st); err != nil {
		t.Errorf("ValidateStatement: %v", err)
	}
	var got []string
	for _, s := range st.GetSubject() {
		got = append(got, s.GetName()+" "+s.GetDigest()["sha256"])
	}
	want := []string{
		"measure-linux-amd64 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
		"measure-linux-arm64 3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
	if err := run([]string{"-version", "v1"}, &a); err == nil {
		t.Error("run without -commit succeeded, want an error")
	}
}
