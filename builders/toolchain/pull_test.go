package toolchain

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
)

// lyingRegistry serves an in-process registry, except that the blob whose
// digest is target is answered, on the GETs for which lie returns true
// (counted from 1), with other bytes of the same length: a gzip tar that
// holds usr/bin/trojan.
type lyingRegistry struct {
	next   http.Handler
	target v1.Hash
	fake   []byte

	mu   sync.Mutex
	gets int
	lie  func(n int) bool
}

func (l *lyingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+l.target.String()) {
		l.next.ServeHTTP(w, r)
		return
	}
	l.mu.Lock()
	l.gets++
	lie := l.lie(l.gets)
	l.mu.Unlock()
	if !lie {
		l.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(l.fake)))
	w.Header().Set("Docker-Content-Digest", l.target.String())
	w.Write(l.fake)
}

func (l *lyingRegistry) getCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gets
}

// trojanLayer returns a gzip tar that holds usr/bin/trojan, padded with
// zeros to size bytes.
func trojanLayer(t *testing.T, size int64) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(tarOf(t, file("usr/bin/trojan", "trojan", 0o755)))
	zw.Close()
	if int64(buf.Len()) > size {
		t.Fatalf("trojan layer is %d bytes, more than %d", buf.Len(), size)
	}
	return append(buf.Bytes(), make([]byte, size-int64(buf.Len()))...)
}

// pushImage pushes a toolchain image of fakeRoot to a registry behind l
// and returns its reference by digest.
func pushImage(t *testing.T, pkgs []Package) (v1.Image, string, *lyingRegistry) {
	t.Helper()
	layerPath := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(layerPath, fakeRoot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Image(Spec{Suite: "trixie"}, pkgs, layerPath)
	if err != nil {
		t.Fatal(err)
	}
	l := &lyingRegistry{next: registry.New(registry.Logger(log.New(io.Discard, "", 0))), lie: func(int) bool { return false }}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host + "/measure/toolchain:trixie")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, host + "/measure/toolchain@" + d.String(), l
}

var pullPkgs = []Package{{Name: "nasm", Version: "2.16.03-1", Arch: "amd64", SHA256: strings.Repeat("ab", 32)}}

// TestEnsurePullLying pulls from a registry that serves other bytes for a
// blob on some requests: Ensure fetches each blob once, so it either gets
// the real root or fails naming the digest; the fake layer never reaches
// the cached root.
func TestEnsurePullLying(t *testing.T) {
	tests := []struct {
		name    string
		config  bool // lie about the config blob, not the layer
		lie     func(n int) bool
		wantErr string // "" for success
	}{
		{"honest", false, func(int) bool { return false }, ""},
		{"lies on the second GET", false, func(n int) bool { return n == 2 }, ""},
		{"lies on the first GET", false, func(n int) bool { return n == 1 }, "layer 0: blob sha256:"},
		{"always lies", false, func(int) bool { return true }, "layer 0: blob sha256:"},
		{"config lies on the first GET", true, func(n int) bool { return n == 1 }, "config sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, ref, l := pushImage(t, pullPkgs)
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			target := m.Layers[0]
			if tc.config {
				target = m.Config
			}
			l.mu.Lock()
			l.target, l.fake, l.lie = target.Digest, trojanLayer(t, target.Size), tc.lie
			l.mu.Unlock()

			dir := filepath.Join(t.TempDir(), "cache")
			fake := dpkgOf(pullPkgs)
			c := &Cache{Dir: dir, Runner: fake}
			spec := Spec{Image: ref, Pins: map[string]string{"nasm": "2.16.03-1"}}
			tc1, err := c.Ensure(context.Background(), spec)
			if got := l.getCount(); got != 1 {
				t.Errorf("blob %s fetched %d times, want once", target.Digest, got)
			}
			for _, c := range fake.Calls() {
				if c.Args[0] != "dpkg-query" {
					t.Errorf("Ensure ran %v, want only dpkg-query on the unpacked root", c.Args)
				}
			}
			checkNoTrojan(t, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), target.Digest.String()) {
					t.Fatalf("Ensure() error = %v, want %q naming %s", err, tc.wantErr, target.Digest)
				}
				if des, _ := os.ReadDir(filepath.Join(dir, "toolchains")); len(des) != 0 {
					t.Errorf("a failed pull left records %v", des)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			if tc1.Digest != d.String() {
				t.Errorf("Digest = %s, want %s", tc1.Digest, d)
			}
			if diff := cmp.Diff(pullPkgs, tc1.Packages); diff != "" {
				t.Errorf("Packages (-want +got):\n%s", diff)
			}
			if b, err := os.ReadFile(filepath.Join(tc1.Root, "usr/bin/nasm")); err != nil || string(b) != "nasm" {
				t.Errorf("usr/bin/nasm = %q, %v", b, err)
			}

			// From now on the registry always lies. A tampered root is
			// unpacked again from the layout, without the network.
			l.mu.Lock()
			l.lie = func(int) bool { return true }
			l.mu.Unlock()
			os.WriteFile(filepath.Join(tc1.Root, "usr/bin/nasm"), []byte("trojan"), 0o755)
			var progress bytes.Buffer
			c.Progress = &progress
			tc2, err := c.Ensure(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(progress.String(), "does not match its record") {
				t.Errorf("progress = %q, want the root not matching", progress.String())
			}
			if b, err := os.ReadFile(filepath.Join(tc2.Root, "usr/bin/nasm")); err != nil || string(b) != "nasm" {
				t.Errorf("after tampering, usr/bin/nasm = %q, %v, want the original", b, err)
			}
			if got := l.getCount(); got != 1 {
				t.Errorf("blob fetched %d times after re-unpacking, want still once", got)
			}
			// Without its record the root is not trusted: pulling again
			// meets the lie and fails.
			os.Remove(filepath.Join(dir, "toolchains", spec.Key()+".json"))
			if _, err := c.Ensure(context.Background(), spec); err == nil || !strings.Contains(err.Error(), target.Digest.String()) {
				t.Errorf("Ensure() without a record, from a lying registry: error = %v, want one naming %s", err, target.Digest)
			}
			checkNoTrojan(t, dir)
		})
	}
}

// checkNoTrojan fails if usr/bin/trojan is anywhere under the cache's roots.
func checkNoTrojan(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "roots", "*", "usr/bin/trojan"))
	m2, _ := filepath.Glob(filepath.Join(dir, "tmp", "*", "usr/bin/trojan"))
	if len(m)+len(m2) != 0 {
		t.Errorf("the fake layer's file is in the cache: %v", append(m, m2...))
	}
}

func TestEnsurePullRefused(t *testing.T) {
	_, ref, _ := pushImage(t, pullPkgs)
	host, _, _ := strings.Cut(ref, "/")
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"wrong pin", Spec{Image: ref, Pins: map[string]string{"nasm": "1"}}, `"nasm" is 2.16.03-1, want 1`},
		{"tag", Spec{Image: host + "/measure/toolchain:trixie"}, "want a reference by digest"},
		{"unknown digest", Spec{Image: host + "/measure/toolchain@sha256:" + strings.Repeat("0", 64)}, "pulling toolchain image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cache{Dir: t.TempDir(), Runner: &runtest.Fake{}}
			if _, err := c.Ensure(context.Background(), tc.spec); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Ensure() error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckManifest(t *testing.T) {
	img, _, _ := pushImage(t, pullPkgs)
	raw, _ := img.RawManifest()
	d, _ := img.Digest()
	if _, err := checkManifest(raw, d); err != nil {
		t.Errorf("checkManifest(real) = %v", err)
	}
	other := append(bytes.Clone(raw), ' ')
	if _, err := checkManifest(other, d); err == nil || !strings.Contains(err.Error(), "manifest: digest mismatch") {
		t.Errorf("checkManifest(other bytes) error = %v, want a digest mismatch", err)
	}
}

// dpkgOf plays dpkg-query for a root that holds pkgs.
func dpkgOf(pkgs []Package) *runtest.Fake {
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		if c.Args[0] != "dpkg-query" {
			return fmt.Errorf("unexpected command %q", c.Args)
		}
		for _, p := range pkgs {
			fmt.Fprintf(c.Stdout, "ii \t%s\t%s\t%s\n", p.Name, p.Version, p.Arch)
		}
		return nil
	}}
}

// TestEnsurePullLabelLies: an image whose label claims the pinned package
// versions while its root holds others is refused: the pins are checked
// against the root's own dpkg database.
func TestEnsurePullLabelLies(t *testing.T) {
	_, ref, _ := pushImage(t, pullPkgs)
	root := append([]Package(nil), pullPkgs...)
	root[0].Version = "0.0-trojan"
	dir := filepath.Join(t.TempDir(), "cache")
	_, err := (&Cache{Dir: dir, Runner: dpkgOf(root)}).Ensure(context.Background(), Spec{Image: ref, Pins: map[string]string{"nasm": "2.16.03-1"}})
	if err == nil || !strings.Contains(err.Error(), "0.0-trojan") {
		t.Errorf("Ensure() = %v, want the root's own version named", err)
	}
	if des, _ := os.ReadDir(filepath.Join(dir, "toolchains")); len(des) != 0 {
		t.Errorf("a refused image left records %v", des)
	}
}
