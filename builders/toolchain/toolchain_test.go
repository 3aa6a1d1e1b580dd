package toolchain

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
)

var testSpec = Spec{
	Suite: "trixie", Mirror: "http://deb.debian.org/debian", Variant: "buildd",
	Packages: []string{"nasm", "gcc-multilib"},
	Pins:     map[string]string{"nasm": "2.16.03-1"},
}

// fakeDebian plays debootstrap, dpkg-query and tar.
func fakeDebian(nasmVersion string) *runtest.Fake {
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		switch c.Args[0] {
		case "debootstrap":
			root := c.Args[len(c.Args)-2]
			arch := filepath.Join(root, "var/cache/apt/archives")
			if err := os.MkdirAll(filepath.Join(root, "usr"), 0o755); err != nil {
				return err
			}
			if err := os.MkdirAll(arch, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(arch, "nasm_"+nasmVersion+"_amd64.deb"), []byte("deb"), 0o644)
		case "dpkg-query":
			_, err := fmt.Fprintf(c.Stdout, "ii \tnasm\t%s\tamd64\nii \tgcc-14\t14.2.0-19\tamd64\nrc \told\t1\tamd64\n", nasmVersion)
			return err
		case "tar":
			out := c.Args[len(c.Args)-2]
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			tw := tar.NewWriter(f)
			tw.WriteHeader(&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755})
			tw.Close()
			return f.Close()
		}
		return fmt.Errorf("unexpected command %q", c.Args)
	}}
}

func TestEnsureBootstrap(t *testing.T) {
	dir := t.TempDir()
	fake := fakeDebian("2.16.03-1")
	c := &Cache{Dir: dir, Runner: fake}
	tc, err := c.Ensure(context.Background(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	key := testSpec.Key()
	tmpRoot := filepath.Join(dir, "tmp", key, "root")
	var got [][]string
	for _, call := range fake.Calls() {
		got = append(got, call.Args)
	}
	want := [][]string{
		{"debootstrap", "--variant=buildd", "--include=nasm,gcc-multilib", "trixie", tmpRoot, "http://deb.debian.org/debian"},
		{"dpkg-query", "--admindir=" + filepath.Join(tmpRoot, "var/lib/dpkg"), "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"},
		{"tar", "--sort=name", "--numeric-owner", "--xattrs", "--one-file-system", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
			"-C", tmpRoot, "-cf", filepath.Join(dir, "tmp", key, "layer.tar"), "."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	for _, call := range fake.Calls() {
		if diff := cmp.Diff([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"}, call.Env); diff != "" {
			t.Errorf("%s environment (-want +got):\n%s", call.Args[0], diff)
		}
	}
	if !strings.HasPrefix(tc.Digest, "sha256:") || tc.Root != filepath.Join(dir, "roots", strings.ReplaceAll(tc.Digest, ":", "-")) {
		t.Errorf("Ensure() = digest %q root %q", tc.Digest, tc.Root)
	}
	wantPkgs := []Package{
		{Name: "gcc-14", Version: "14.2.0-19", Arch: "amd64"},
		{Name: "nasm", Version: "2.16.03-1", Arch: "amd64", SHA256: sha256hex("deb")},
	}
	if diff := cmp.Diff(wantPkgs, tc.Packages); diff != "" {
		t.Errorf("Packages (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(tc.Root, "var/cache/apt/archives/nasm_2.16.03-1_amd64.deb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the .deb is still in the root: %v", err)
	}
	// The image is in the layout, with the package list in its config.
	img, err := c.layoutImage(tc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ImagePackages(img)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantPkgs, pkgs); diff != "" {
		t.Errorf("ImagePackages (-want +got):\n%s", diff)
	}

	// A second Ensure is served from the cache: no command runs.
	fake2 := fakeDebian("x")
	c2 := &Cache{Dir: dir, Runner: fake2}
	tc2, err := c2.Ensure(context.Background(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	if len(fake2.Calls()) != 0 || tc2.Digest != tc.Digest {
		t.Errorf("second Ensure ran %v and gave %s, want nothing run and %s", fake2.Calls(), tc2.Digest, tc.Digest)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestEnsurePinMismatch(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Runner: fakeDebian("2.16.01-1")}
	_, err := c.Ensure(context.Background(), testSpec)
	if !errors.Is(err, ErrPin) || !strings.Contains(err.Error(), `"nasm" is 2.16.01-1, want 2.16.03-1`) {
		t.Errorf("Ensure() error = %v, want a pin mismatch naming nasm", err)
	}
}

func TestParseDpkgQuery(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Package
		wantErr string
	}{
		{"installed only, sorted", "ii \tz\t1\tall\nrc \ta\t2\tamd64\nii \tb\t1:2-3\tamd64\n",
			[]Package{{Name: "b", Version: "1:2-3", Arch: "amd64"}, {Name: "z", Version: "1", Arch: "all"}}, ""},
		{"empty", "", nil, ""},
		{"short line", "ii \tz\t1\n", nil, "3 fields, want 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDpkgQuery([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseDpkgQuery() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDpkgQuery() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpecKey(t *testing.T) {
	a := testSpec
	b := testSpec
	b.Packages = []string{"gcc-multilib", "nasm"}
	if a.Key() != b.Key() {
		t.Errorf("Key() depends on package order")
	}
	b.Pins = map[string]string{"nasm": "2"}
	if a.Key() == b.Key() {
		t.Errorf("Key() ignores the pins")
	}
}
