package toolchain

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
)

// TestEnsurePull pulls a toolchain image by digest from an in-process
// registry, checks its pins from the image labels, and unpacks it with tar.
func TestEnsurePull(t *testing.T) {
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	if err := fakeDebian("").Hook(&run.Cmd{Args: []string{"tar", "-cf", layer, "."}}); err != nil {
		t.Fatal(err)
	}
	pkgs := []Package{{Name: "nasm", Version: "2.16.03-1", Arch: "amd64", SHA256: strings.Repeat("ab", 32)}}
	img, err := Image(Spec{Suite: "trixie"}, pkgs, layer)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host + "/measure/toolchain:trixie")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	ref := host + "/measure/toolchain@" + d.String()

	fake := &runtest.Fake{}
	c := &Cache{Dir: filepath.Join(dir, "cache"), Runner: fake}
	tc, err := c.Ensure(context.Background(), Spec{Image: ref, Pins: map[string]string{"nasm": "2.16.03-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if tc.Digest != d.String() {
		t.Errorf("Digest = %s, want %s", tc.Digest, d)
	}
	if diff := cmp.Diff(pkgs, tc.Packages); diff != "" {
		t.Errorf("Packages (-want +got):\n%s", diff)
	}
	calls := fake.Calls()
	want := []string{"tar", "--numeric-owner", "--xattrs", "-xpf", "-", "-C", tc.Root + ".tmp"}
	if len(calls) != 1 || !cmp.Equal(want, calls[0].Args) {
		t.Errorf("commands = %v, want one %v", calls, want)
	}
	if _, err := os.Stat(tc.Root); err != nil {
		t.Errorf("root: %v", err)
	}

	// A pin the image does not meet is an error.
	c2 := &Cache{Dir: filepath.Join(dir, "cache2"), Runner: &runtest.Fake{}}
	if _, err := c2.Ensure(context.Background(), Spec{Image: ref, Pins: map[string]string{"nasm": "1"}}); err == nil {
		t.Errorf("Ensure() with a wrong pin succeeded")
	}
	// A tag is not a pin.
	if _, err := c2.Ensure(context.Background(), Spec{Image: tag.String()}); err == nil || !strings.Contains(err.Error(), "want a reference by digest") {
		t.Errorf("Ensure(tag) error = %v, want a reference by digest", err)
	}
}
