//go:build !measure_front

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/oci/ocitest"
)

// TestPushPull runs keygen, snp --output statement, sign, push and pull
// through the CLI against the in-process registry (with and without the
// referrers API) and against Debian's docker-registry when installed.
func TestPushPull(t *testing.T) {
	f := newSignFixture(t)
	registries := []struct {
		name string
		host func(t *testing.T) string
	}{
		{"referrers API", func(t *testing.T) string { return ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: true}) }},
		{"tag schema", func(t *testing.T) string { return ocitest.NewRegistry(t, ocitest.RegistryOptions{}) }},
		{"docker-registry", func(t *testing.T) string { return ocitest.StartDistribution(t).Host }},
	}
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			host := r.host(t)
			ref := strings.TrimSpace(f.run(t, 0, "push", host+"/ovmf:trixie", "--firmware", trixie, "--attach", f.envA, "--attach", f.envAB))
			if !strings.HasPrefix(ref, host+"/ovmf@sha256:") {
				t.Fatalf("push printed %q, want %s/ovmf@sha256:...", ref, host)
			}
			out := filepath.Join(t.TempDir(), "fw")
			files := strings.Fields(f.run(t, 0, "pull", ref, "--key", f.a+".pub", "--out", out))
			if len(files) != 3 || files[0] != filepath.Join(out, filepath.Base(trixie)) {
				t.Fatalf("pull printed %q, want the firmware and 2 envelopes under %s", files, out)
			}
			want, _ := os.ReadFile(trixie)
			got, _ := os.ReadFile(files[0])
			if !bytes.Equal(got, want) {
				t.Errorf("pulled firmware differs from %s", trixie)
			}
			for _, env := range files[1:] {
				if !strings.HasPrefix(filepath.Base(env), "reference-values.") {
					t.Errorf("envelope file %s, want reference-values.<digest>.dsse.json", env)
				}
				// What pull wrote verifies on its own.
				f.run(t, 0, "verify", "--key", f.a+".pub", "--artifact", files[0], env)
			}

			// A symlink planted at the firmware's name is replaced, never
			// written through.
			victim := filepath.Join(t.TempDir(), "victim")
			os.WriteFile(victim, []byte("keep"), 0o644)
			os.Remove(files[0])
			if err := os.Symlink(victim, files[0]); err != nil {
				t.Fatal(err)
			}
			var js pullOutput
			pulled := f.run(t, 0, "pull", ref, "--key", f.a+".pub", "--key", f.b+".pub", "--out", out, "--output", "json")
			checkOutputLanguage(t, []byte(pulled))
			if err := json.Unmarshal([]byte(pulled), &js); err != nil {
				t.Fatal(err)
			}
			checkOutputLanguage(t, []byte(f.run(t, 0, "push", host+"/ovmf:again", "--firmware", trixie, "--attach", f.envA, "--output", "json")))
			var keys []int
			for _, a := range js.Attestations {
				keys = append(keys, len(a.KeyIDs))
			}
			if js.Annotations[oci.AnnotationSNPMeasurement] != trixieSNPEPYCv4x4 || len(keys) != 2 {
				t.Errorf("pull --output json: %+v, want the SEV-SNP annotation %s and 2 attestations", js, trixieSNPEPYCv4x4)
			}
			if b, _ := os.ReadFile(victim); string(b) != "keep" {
				t.Errorf("pull wrote through a symlink at %s: the target holds %d bytes", files[0], len(b))
			}
			if st, err := os.Lstat(files[0]); err != nil || !st.Mode().IsRegular() {
				t.Errorf("%s after pull: %v, %v; want a regular file", files[0], st, err)
			}
			slices.Sort(keys)
			// envA has one signature (a), envAB two (a, b).
			if diff := cmp.Diff([]int{1, 2}, keys); diff != "" {
				t.Errorf("pull --output json: key ids per attestation (-want +got):\n%s", diff)
			}
		})
	}
}

// trixieSNPEPYCv4x4 is sev-snp-measure's digest for the trixie image, QEMU,
// 4 EPYC-v4 vCPUs (testdata/vectors/snp.tsv).
const trixieSNPEPYCv4x4 = "676826e902524799a067f7c43b3ab0101dce73a2506d41436dd2f8472fa208081f11f9e65ca5d2439785732a0bfd8339"

func TestPushPullErrors(t *testing.T) {
	f := newSignFixture(t)
	host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: true})
	signed := strings.TrimSpace(f.run(t, 0, "push", host+"/ovmf:signed", "--firmware", trixie, "--attach", f.envA))
	unsigned := strings.TrimSpace(f.run(t, 0, "push", host+"/ovmf:unsigned", "--firmware", bookworm))
	out := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"push without --firmware", []string{"push", host + "/x:1"}, exitUsage, "--firmware is required"},
		{"push envelope about other firmware", []string{"push", host + "/x:1", "--firmware", bookworm, "--attach", f.envA}, exitSubjectMismatch, "not a subject"},
		{"push unknown output", []string{"push", host + "/x:1", "--firmware", trixie, "-o", "yaml"}, exitUsage, `--output "yaml"`},
		{"pull by tag", []string{"pull", host + "/ovmf:signed", "--key", f.a + ".pub", "--out", out}, exitUsage, "reference is not by digest"},
		{"pull without --key", []string{"pull", signed, "--out", out}, exitUsage, "--key is required"},
		{"pull without --out", []string{"pull", signed, "--key", f.a + ".pub"}, exitUsage, "--out is required"},
		{"pull threshold above keys", []string{"pull", signed, "--key", f.a + ".pub", "--threshold", "2", "--out", out}, exitUsage, "--threshold 2"},
		{"pull with another key", []string{"pull", signed, "--key", f.b + ".pub", "--out", out}, exitThreshold, "not enough valid signatures"},
		{"pull two keys, one signed", []string{"pull", signed, "--key", f.a + ".pub", "--key", f.b + ".pub", "--threshold", "2", "--out", out}, exitThreshold, "not enough valid signatures"},
		{"pull unsigned", []string{"pull", unsigned, "--key", f.a + ".pub", "--out", out}, exitUnsigned, "no signed attestation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) || stdout != "" {
				t.Errorf("measure %s: exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout, an error containing %q",
					strings.Join(tc.args, " "), code, stdout, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}

	// A registry that serves the firmware blob with one byte changed.
	fw, err := os.ReadFile(trixie)
	if err != nil {
		t.Fatal(err)
	}
	fwBlob := fmt.Sprintf("/blobs/sha256:%x", sha256.Sum256(fw))
	tampered := ocitest.NewRegistry(t, ocitest.RegistryOptions{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, fwBlob) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			b := rec.Body.Bytes()
			b[0] ^= 1
			w.WriteHeader(rec.Code)
			w.Write(b)
		})
	}})
	ref := strings.TrimSpace(f.run(t, 0, "push", tampered+"/ovmf:signed", "--firmware", trixie, "--attach", f.envA))
	if _, stderr, code := runCLI("pull", ref, "--key", f.a+".pub", "--out", out); code != exitMismatch || !strings.Contains(stderr, "registry content does not match") {
		t.Errorf("pull of a replaced blob: exit %d, %q; want exit %d", code, stderr, exitMismatch)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused pulls wrote %d file(s) to --out, want none", len(entries))
	}
}
