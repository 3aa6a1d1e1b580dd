package toolchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
)

var testSpec = Spec{
	Suite: "trixie", Mirror: "http://deb.debian.org/debian", Variant: "buildd",
	Packages: []string{"nasm", "gcc-multilib", "nasm"},
	Pins:     map[string]string{"nasm": "2.16.03-1"},
}

// fakeRoot is the tarball the fake mmdebstrap writes.
func fakeRoot(t testing.TB) []byte {
	return tarOf(t,
		dir("./", 0o755), dir("usr/", 0o755), dir("usr/bin/", 0o755),
		file("usr/bin/nasm", "nasm", 0o755),
		symlink("usr/bin/cc", "/etc/alternatives/cc"),
		dir("var/", 0o755), dir("var/lib/", 0o755), dir("var/lib/dpkg/", 0o755),
		file("var/lib/dpkg/status", "Package: nasm\n", 0o644),
	)
}

// fakeDebian plays mmdebstrap (the tarball and the customize hook's .deb
// sums) and dpkg-query. before, when not nil, runs first in mmdebstrap's
// part.
func fakeDebian(t testing.TB, nasmVersion string, before func(c *run.Cmd) error) *runtest.Fake {
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		switch c.Args[0] {
		case "mmdebstrap":
			if before != nil {
				if err := before(c); err != nil {
					return err
				}
			}
			out := c.Args[len(c.Args)-2]
			if err := os.WriteFile(out, fakeRoot(t), 0o644); err != nil {
				return err
			}
			sums := fmt.Sprintf("%s  nasm_%s_amd64.deb\n%s  libc6_2.41-12_amd64.deb\n",
				sha256hex("deb"), strings.ReplaceAll(nasmVersion, ":", "%3a"), sha256hex("libc"))
			return os.WriteFile(filepath.Join(c.Dir, debSumsFile), []byte(sums), 0o644)
		case "dpkg-query":
			_, err := fmt.Fprintf(c.Stdout, "ii \tnasm\t%s\tamd64\nii \tgcc-14\t14.2.0-19\tamd64\nrc \told\t1\tamd64\n", nasmVersion)
			return err
		}
		return fmt.Errorf("unexpected command %q", c.Args)
	}}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func layoutImage(t *testing.T, dir, digest string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestEnsureBootstrap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	fake := fakeDebian(t, "2.16.03-1", nil)
	c := &Cache{Dir: dir, Runner: fake}
	tc, err := c.Ensure(context.Background(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "tmp", testSpec.Key())
	want := []runtest.Call{
		{
			Args: []string{"mmdebstrap", "--mode=unshare", "--variant=buildd", "--skip=output/dev", "--skip=essential/unlink",
				"--include=gcc-multilib,nasm",
				`--customize-hook=cd "$1"/var/cache/apt/archives && sha256sum -- *.deb > "$1"/tmp/measure-debs.sha256`,
				"--customize-hook=download /tmp/measure-debs.sha256 debs.sha256",
				"--",
				"trixie", filepath.Join(work, "rootfs.tar"), "http://deb.debian.org/debian"},
			Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC",
				"SOURCE_DATE_EPOCH=1735689600", "TMPDIR=" + filepath.Join(work, "mmdebstrap")},
			Dir: work,
		},
		{
			Args: []string{"dpkg-query", "--admindir=" + filepath.Join(work, "root", "var/lib/dpkg"), "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"},
			Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"},
		},
	}
	if diff := cmp.Diff(want, fake.Calls()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
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
	if b, err := os.ReadFile(filepath.Join(tc.Root, "usr/bin/nasm")); err != nil || string(b) != "nasm" {
		t.Errorf("root usr/bin/nasm = %q, %v", b, err)
	}
	// The image is in the layout, with the package list in its config.
	pkgs, err := ImagePackages(layoutImage(t, dir, tc.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantPkgs, pkgs); diff != "" {
		t.Errorf("ImagePackages (-want +got):\n%s", diff)
	}
	// Nothing is left in tmp/; what the cache made is private.
	if des, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil && len(des) != 0 {
		t.Errorf("tmp/ holds %v after Ensure", des)
	}
	for _, d := range []string{dir, filepath.Join(dir, "roots"), filepath.Join(dir, "toolchains"), filepath.Join(dir, "oci")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v, want 0700", d, fi.Mode(), err)
		}
	}

	// A second Ensure is served from the cache: no command runs.
	fake2 := fakeDebian(t, "x", nil)
	tc2, err := (&Cache{Dir: dir, Runner: fake2}).Ensure(context.Background(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	if len(fake2.Calls()) != 0 || tc2.Digest != tc.Digest {
		t.Errorf("second Ensure ran %v and gave %s, want nothing run and %s", fake2.Calls(), tc2.Digest, tc.Digest)
	}

	// The same Spec in another cache gives the same image; another
	// SOURCE_DATE_EPOCH is another Spec.
	s := testSpec
	s.SourceDateEpoch = 1762625177
	fake3 := fakeDebian(t, "2.16.03-1", nil)
	if _, err := (&Cache{Dir: t.TempDir(), Runner: fake3}).Ensure(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if env := fake3.Calls()[0].Env; !cmp.Equal(env[3], "SOURCE_DATE_EPOCH=1762625177") {
		t.Errorf("mmdebstrap environment %q, want SOURCE_DATE_EPOCH=1762625177", env)
	}
	tc4, err := (&Cache{Dir: t.TempDir(), Runner: fakeDebian(t, "2.16.03-1", nil)}).Ensure(context.Background(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	if tc4.Digest != tc.Digest {
		t.Errorf("the same Spec in another cache gave %s, want %s", tc4.Digest, tc.Digest)
	}
}

func TestEnsurePinMismatch(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Runner: fakeDebian(t, "2.16.01-1", nil)}
	_, err := c.Ensure(context.Background(), testSpec)
	if !errors.Is(err, ErrPin) || !strings.Contains(err.Error(), `"nasm" is 2.16.01-1, want 2.16.03-1`) {
		t.Errorf("Ensure() error = %v, want a pin mismatch naming nasm", err)
	}
}

// TestEnsureDistrust changes the cache behind the record's back: Ensure
// must never hand out a root that does not match what it verified.
func TestEnsureDistrust(t *testing.T) {
	tests := []struct {
		name string
		// change alters the cache after the first Ensure.
		change func(t *testing.T, dir string, tc *Toolchain)
		// rebuild is whether mmdebstrap must run again.
		rebuild  bool
		progress string
	}{
		{"tampered file", func(t *testing.T, dir string, tc *Toolchain) {
			os.WriteFile(filepath.Join(tc.Root, "usr/bin/nasm"), []byte("trojan"), 0o755)
		}, false, "does not match its record"},
		{"changed mode", func(t *testing.T, dir string, tc *Toolchain) {
			os.Chmod(filepath.Join(tc.Root, "usr/bin/nasm"), 0o4777)
		}, false, "does not match its record"},
		{"added file", func(t *testing.T, dir string, tc *Toolchain) {
			os.WriteFile(filepath.Join(tc.Root, "usr/bin/trojan"), []byte("trojan"), 0o755)
		}, false, "does not match its record"},
		{"root gone", func(t *testing.T, dir string, tc *Toolchain) {
			removeAll(tc.Root)
		}, false, "is missing: unpacking it again"},
		{"record gone", func(t *testing.T, dir string, tc *Toolchain) {
			os.WriteFile(filepath.Join(tc.Root, "usr/bin/nasm"), []byte("trojan"), 0o755)
			os.Remove(filepath.Join(dir, "toolchains", testSpec.Key()+".json"))
		}, true, "mmdebstrap"},
		{"record garbage", func(t *testing.T, dir string, tc *Toolchain) {
			os.WriteFile(filepath.Join(tc.Root, "usr/bin/nasm"), []byte("trojan"), 0o755)
			os.WriteFile(filepath.Join(dir, "toolchains", testSpec.Key()+".json"), []byte("{"), 0o600)
		}, true, "is not readable"},
		{"record names another directory", func(t *testing.T, dir string, tc *Toolchain) {
			p := filepath.Join(dir, "toolchains", testSpec.Key()+".json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.ReplaceAll(b, []byte(tc.Digest), []byte("../../victim")), 0o600)
		}, true, "is not readable"},
		{"layout blob tampered", func(t *testing.T, dir string, tc *Toolchain) {
			os.WriteFile(filepath.Join(tc.Root, "usr/bin/nasm"), []byte("trojan"), 0o755)
			m, _ := layoutImage(t, dir, tc.Digest).Manifest()
			l := m.Layers[0].Digest
			os.WriteFile(filepath.Join(dir, "oci", "blobs", l.Algorithm, l.Hex), []byte("garbage"), 0o644)
		}, true, "in the layout: layer 0: layer sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := (&Cache{Dir: dir, Runner: fakeDebian(t, "2.16.03-1", nil)}).Ensure(context.Background(), testSpec)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir, first)
			var progress bytes.Buffer
			fake := fakeDebian(t, "2.16.03-1", nil)
			again, err := (&Cache{Dir: dir, Runner: fake, Progress: &progress}).Ensure(context.Background(), testSpec)
			if err != nil {
				t.Fatal(err)
			}
			ran := false
			for _, c := range fake.Calls() {
				ran = ran || c.Args[0] == "mmdebstrap"
			}
			if ran != tc.rebuild {
				t.Errorf("second Ensure ran %v, want mmdebstrap run = %v", fake.Calls(), tc.rebuild)
			}
			if !strings.Contains(progress.String(), tc.progress) {
				t.Errorf("progress = %q, want %q", progress.String(), tc.progress)
			}
			if again.Digest != first.Digest {
				t.Errorf("digest %s, want %s", again.Digest, first.Digest)
			}
			if b, err := os.ReadFile(filepath.Join(again.Root, "usr/bin/nasm")); err != nil || string(b) != "nasm" {
				t.Errorf("usr/bin/nasm = %q, %v, want the original", b, err)
			}
			if fi, err := os.Stat(filepath.Join(again.Root, "usr/bin/nasm")); err != nil || fi.Mode() != 0o755 {
				t.Errorf("usr/bin/nasm mode %v, %v, want 0755", fi.Mode(), err)
			}
			if _, err := os.Lstat(filepath.Join(again.Root, "usr/bin/trojan")); err == nil {
				t.Errorf("usr/bin/trojan is still there")
			}
			// Now it is served from the cache again.
			progress.Reset()
			if _, err := (&Cache{Dir: dir, Runner: fake, Progress: &progress}).Ensure(context.Background(), testSpec); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(progress.String(), "(cached)") {
				t.Errorf("third Ensure progress = %q, want cached", progress.String())
			}
		})
	}
}

// TestEnsureInterrupted cancels Ensure while mmdebstrap runs: it returns
// ctx.Err() and leaves nothing in tmp/, and the next Ensure cleans up
// after a run that could not.
func TestEnsureInterrupted(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	fake := fakeDebian(t, "2.16.03-1", func(c *run.Cmd) error {
		os.WriteFile(filepath.Join(c.Dir, "rootfs.tar"), []byte("half"), 0o644)
		cancel()
		return fmt.Errorf("running mmdebstrap: %w", context.Canceled)
	})
	_, err := (&Cache{Dir: dir, Runner: fake}).Ensure(ctx, testSpec)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Ensure() error = %v, want context.Canceled", err)
	}
	if des, err := os.ReadDir(filepath.Join(dir, "tmp")); !errors.Is(err, os.ErrNotExist) && len(des) != 0 {
		t.Errorf("tmp/ holds %v after an interrupted Ensure", des)
	}
	// A killed run leaves debris, which the next Ensure removes.
	debris := filepath.Join(dir, "tmp", "x", "mmdebstrap", "mmdebstrap.abc", "ro")
	os.MkdirAll(debris, 0o755)
	os.WriteFile(filepath.Join(debris, "f"), nil, 0o644)
	os.Chmod(debris, 0o555)
	fake2 := fakeDebian(t, "2.16.03-1", func(c *run.Cmd) error {
		if _, err := os.Stat(filepath.Join(dir, "tmp", "x")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("debris of an interrupted run still there when mmdebstrap runs: %v", err)
		}
		return nil
	})
	if _, err := (&Cache{Dir: dir, Runner: fake2}).Ensure(context.Background(), testSpec); err != nil {
		t.Fatal(err)
	}
}

// TestEnsureLock holds the cache lock: a second Ensure waits for it and
// goes on once it is released; a cancelled one returns promptly.
func TestEnsureLock(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	started := make(chan struct{})
	fake := fakeDebian(t, "2.16.03-1", func(*run.Cmd) error {
		close(started)
		<-release
		return nil
	})
	first := make(chan error, 1)
	go func() {
		_, err := (&Cache{Dir: dir, Runner: fake}).Ensure(context.Background(), testSpec)
		first <- err
	}()
	<-started

	// Cancelled while waiting.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var progress bytes.Buffer
	_, err := (&Cache{Dir: dir, Runner: fakeDebian(t, "2.16.03-1", nil), Progress: &progress}).Ensure(ctx, testSpec)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Ensure(cancelled while waiting) = %v after %v, want DeadlineExceeded promptly", err, time.Since(start))
	}
	if got := progress.String(); got != "waiting for the toolchain cache lock\n" {
		t.Errorf("progress = %q, want one waiting line", got)
	}

	// Waiting, then going on: served from the cache the first one made.
	second := make(chan error, 1)
	fake2 := fakeDebian(t, "2.16.03-1", nil)
	go func() {
		_, err := (&Cache{Dir: dir, Runner: fake2}).Ensure(context.Background(), testSpec)
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second Ensure returned %v while the first held the lock", err)
	case <-time.After(500 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if len(fake2.Calls()) != 0 {
		t.Errorf("second Ensure ran %v, want it served from the cache", fake2.Calls())
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

func TestAddDebHashes(t *testing.T) {
	pkgs := []Package{{Name: "a", Version: "1:2.0-1", Arch: "amd64"}, {Name: "b", Version: "1", Arch: "all"}}
	sums := sha256hex("a") + "  a_1%3a2.0-1_amd64.deb\n"
	if err := addDebHashes([]byte(sums), pkgs); err != nil {
		t.Fatal(err)
	}
	want := []Package{{Name: "a", Version: "1:2.0-1", Arch: "amd64", SHA256: sha256hex("a")}, {Name: "b", Version: "1", Arch: "all"}}
	if diff := cmp.Diff(want, pkgs); diff != "" {
		t.Errorf("addDebHashes (-want +got):\n%s", diff)
	}
	if err := addDebHashes([]byte("zz  a.deb\n"), pkgs); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("addDebHashes(bad line) error = %v, want line 1", err)
	}
}

func TestSpecKey(t *testing.T) {
	a := testSpec
	b := testSpec
	b.Packages = []string{"gcc-multilib", "nasm", "nasm"}
	if a.Key() != b.Key() {
		t.Errorf("Key() depends on package order")
	}
	b.Pins = map[string]string{"nasm": "2"}
	if a.Key() == b.Key() {
		t.Errorf("Key() ignores the pins")
	}
	c := testSpec
	c.SourceDateEpoch = 1
	if a.Key() == c.Key() {
		t.Errorf("Key() ignores SourceDateEpoch")
	}
}

// TestBootstrapFailureTail: when mmdebstrap fails, its last lines reach the
// progress writer and the error names the last one, not just an exit status.
func TestBootstrapFailureTail(t *testing.T) {
	fake := fakeDebian(t, "2.16.03-1", func(c *run.Cmd) error {
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(c.Stderr, "I: line %d\n", i)
		}
		fmt.Fprintln(c.Stderr, "E: cannot find a range for root in /etc/subuid")
		return errors.New("running mmdebstrap: exit status 1")
	})
	var progress, log strings.Builder
	_, err := (&Cache{Dir: t.TempDir(), Runner: fake, Progress: &progress, Log: &log}).Ensure(context.Background(), testSpec)
	if err == nil || !strings.Contains(err.Error(), "exit status 1: E: cannot find a range for root in /etc/subuid") {
		t.Errorf("Ensure() = %v, want the exit status and mmdebstrap's last line", err)
	}
	p := progress.String()
	if !strings.Contains(p, "| I: line 12\n") || strings.Contains(p, "| I: line 11\n") || !strings.Contains(p, "| E: cannot find") {
		t.Errorf("progress does not end with mmdebstrap's last 20 lines:\n%s", p)
	}
	if !strings.Contains(log.String(), "I: line 1\n") {
		t.Errorf("the log lacks mmdebstrap's whole output")
	}
}

// TestSpecValidate: a hostile recipe's toolchain fields never reach
// mmdebstrap's command line as options or as an unsigned source.
func TestSpecValidate(t *testing.T) {
	good := Spec{Suite: "trixie", Mirror: "http://deb.debian.org/debian", Variant: "buildd", Packages: []string{"nasm", "python3-setuptools", "g++-14", "libc6:i386"}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
	tests := []struct {
		name    string
		edit    func(s *Spec)
		wantErr string
	}{
		{"hook as mirror", func(s *Spec) { s.Mirror = "--setup-hook=id > /tmp/pwned" }, "mirror"},
		{"unsigned source line", func(s *Spec) { s.Mirror = "deb [trusted=yes] http://evil/ trixie main" }, "mirror"},
		{"mirror with spaces", func(s *Spec) { s.Mirror = "http://a/ http://b/" }, "mirror"},
		{"file mirror", func(s *Spec) { s.Mirror = "file:///srv/evil" }, "mirror"},
		{"hook as suite", func(s *Spec) { s.Suite = "--customize-hook=sh" }, "suite"},
		{"empty suite", func(s *Spec) { s.Suite = "" }, "suite"},
		{"option as variant", func(s *Spec) { s.Variant = "buildd --hook-dir=/x" }, "variant"},
		{"option as package", func(s *Spec) { s.Packages = []string{"--essential-hook=sh"} }, "package"},
		{"list in a package", func(s *Spec) { s.Packages = []string{"nasm,evil"} }, "package"},
		{"image by tag", func(s *Spec) { s.Image = "registry.example/tc:latest" }, "image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error about the %s", err, tc.wantErr)
			}
			// Ensure refuses it before running anything.
			fake := &runtest.Fake{}
			if _, err := (&Cache{Dir: t.TempDir(), Runner: fake}).Ensure(context.Background(), s); err == nil || len(fake.Calls()) != 0 {
				t.Errorf("Ensure() = %v after %d commands, want a refusal before any", err, len(fake.Calls()))
			}
		})
	}
}
