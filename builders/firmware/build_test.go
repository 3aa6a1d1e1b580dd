package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// fakeFetch serves fixed bodies by URL and counts requests.
type fakeFetch struct {
	bodies map[string][]byte
	gets   int
}

func (f *fakeFetch) Get(url string) (*http.Response, error) {
	f.gets++
	b, ok := f.bodies[url]
	if !ok {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Body: io.NopCloser(bytes.NewReader(nil))}, nil
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// fakeToolchains hands out a fixed toolchain.
type fakeToolchains struct{ tc *toolchain.Toolchain }

func (f *fakeToolchains) Ensure(_ context.Context, s toolchain.Spec) (*toolchain.Toolchain, error) {
	tc := *f.tc
	tc.Spec = s
	return &tc, nil
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func testRecipe(t *testing.T, body []byte) *Recipe {
	t.Helper()
	r, err := ParseRecipe([]byte(`name: t
description: test
sources:
  - url: http://example.org/edk2.tar.xz
    sha256: "` + hexSHA(body) + `"
    strip: 1
patches: {series: debian/patches/series, files: [amdsev-grub-reproducible.patch]}
sourceDateEpoch: 1700000000
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, pins: {gcc-14: "14"}}
build:
  dir: /build/edk2
  env: {PYTHON3_ENABLE: "TRUE"}
  setup: [make -C BaseTools]
  platform: OvmfPkg/OvmfPkgX64.dsc
  arch: [X64]
  toolChain: GCC5
  target: RELEASE
  defines: [FD_SIZE_4MB]
  pcds: ['PcdFirmwareVendor=LX\0']
outputs: [{from: Build/FV/OVMF.fd, name: OVMF.fd}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// argValue returns the value of the NAME= argument of c.
func argValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func TestBuildCommands(t *testing.T) {
	body := []byte("edk2 source")
	fetch := &fakeFetch{bodies: map[string][]byte{"http://example.org/edk2.tar.xz": body}}
	fw := bytes.Repeat([]byte{0xff}, 4096)
	runner := &runtest.Fake{Hook: func(c *run.Cmd) error {
		// Play edk2: write the output where the sandbox's upper dir holds it.
		p := filepath.Join(argValue(c.Args, "W"), "upper/build/edk2/Build/FV/OVMF.fd")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		io.WriteString(c.Stdout, "build log line\n")
		return os.WriteFile(p, fw, 0o644)
	}}
	cache := t.TempDir()
	b := &Builder{
		CacheDir: cache, Runner: runner, Fetch: fetch, Jobs: 2, KeepWork: true,
		Toolchains: &fakeToolchains{tc: &toolchain.Toolchain{
			Digest: "sha256:" + strings.Repeat("ab", 32), Root: "/roots/tc",
			Packages: []toolchain.Package{{Name: "gcc-14", Version: "14", Arch: "amd64", SHA256: strings.Repeat("cd", 32)}},
		}},
	}
	r := testRecipe(t, body)
	out := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("staging chowns to the sandbox user: needs root")
	}
	res, err := b.Build(context.Background(), r, Options{OutDir: out, WorkName: "w"})
	if err != nil {
		t.Fatal(err)
	}
	calls := runner.Calls()
	if len(calls) != 1 {
		t.Fatalf("ran %d commands, want 1: %v", len(calls), calls)
	}
	c := calls[0]
	wantArgs := []string{"unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--fork", "--kill-child", "--", "/usr/bin/env", "-i",
		"PATH=" + sandbox.Path, "R=/roots/tc", "W=" + filepath.Join(cache, "work/w")}
	if diff := cmp.Diff(wantArgs, c.Args[:len(wantArgs)]); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	wantScript := `cd /build/edk2
set -e -o pipefail
# unpack
tar -xf /build/src/edk2.tar.xz --no-same-owner --strip-components=1 -C .
echo "measure: unpacked at ${SECONDS}s"
# patch
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' debian/patches/series | while read -r p _; do echo "patch $p"; patch -p1 -s -N < debian/patches/"$p"; done
echo "patch amdsev-grub-reproducible.patch"; patch -p1 -s -N < /build/patches/amdsev-grub-reproducible.patch
# build
. ./edksetup.sh
make -C BaseTools
echo "measure: set up at ${SECONDS}s"
build -a X64 -t GCC5 -p OvmfPkg/OvmfPkgX64.dsc -b RELEASE -n 2 -D FD_SIZE_4MB --pcd 'PcdFirmwareVendor=LX\0'
echo "measure: built at ${SECONDS}s"
`
	if diff := cmp.Diff(wantScript, argValue(c.Args, "S")); diff != "" {
		t.Errorf("script (-want +got):\n%s", diff)
	}
	wantEnv := []string{"HOME=/build", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LOGNAME=builder", "PATH=" + sandbox.Path,
		"PYTHON3_ENABLE=TRUE", "PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=1700000000", "TZ=UTC", "USER=builder"}
	if diff := cmp.Diff(wantEnv, c.Args[len(c.Args)-len(wantEnv):]); diff != "" {
		t.Errorf("sandbox environment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PATH=" + sandbox.Path}, c.Env); diff != "" {
		t.Errorf("process environment (-want +got):\n%s", diff)
	}
	// Inputs staged in the upper directory.
	for _, p := range []string{"upper/build/src/edk2.tar.xz", "upper/build/patches/amdsev-grub-reproducible.patch"} {
		if _, err := os.Stat(filepath.Join(cache, "work/w", p)); err != nil {
			t.Errorf("staged input: %v", err)
		}
	}
	if len(res.Files) != 1 || res.Files[0].SHA256 != hexSHA(fw) || res.Files[0].Path != filepath.Join(out, "OVMF.fd") {
		t.Errorf("Files = %+v, want OVMF.fd with sha256 %s", res.Files, hexSHA(fw))
	}
	log, _ := os.ReadFile(res.Log)
	if !bytes.Contains(log, []byte("build log line")) {
		t.Errorf("build log lacks the command output:\n%s", log)
	}
	// Provenance: sources, patches, toolchain and its packages.
	var deps []string
	for _, d := range res.Provenance.ResolvedDependencies {
		deps = append(deps, d.Name+" "+d.Digest["sha256"])
	}
	patch, _ := EmbeddedPatch("amdsev-grub-reproducible.patch")
	wantDeps := []string{
		"edk2.tar.xz " + hexSHA(body),
		"debian/patches/series ",
		"patches/amdsev-grub-reproducible.patch " + hexSHA(patch),
		"toolchain " + strings.Repeat("ab", 32),
		"gcc-14 " + strings.Repeat("cd", 32),
	}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("resolvedDependencies (-want +got):\n%s", diff)
	}

	// A second build finds the source in the cache.
	if _, err := b.Build(context.Background(), r, Options{OutDir: out, WorkName: "w"}); err != nil {
		t.Fatal(err)
	}
	if fetch.gets != 1 {
		t.Errorf("downloads = %d after two builds, want 1", fetch.gets)
	}
}

func TestBuildBadSource(t *testing.T) {
	r := testRecipe(t, []byte("expected"))
	b := &Builder{
		CacheDir:   t.TempDir(),
		Runner:     &runtest.Fake{},
		Fetch:      &fakeFetch{bodies: map[string][]byte{"http://example.org/edk2.tar.xz": []byte("tampered")}},
		Toolchains: &fakeToolchains{tc: &toolchain.Toolchain{}},
	}
	_, err := b.Build(context.Background(), r, Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "sha256 "+hexSHA([]byte("tampered"))+", want "+hexSHA([]byte("expected"))) {
		t.Errorf("Build() error = %v, want a sha256 mismatch", err)
	}
}

func TestCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("staging chowns to the sandbox user: needs root")
	}
	body := []byte("src")
	n := 0
	runner := &runtest.Fake{Hook: func(c *run.Cmd) error {
		n++
		p := filepath.Join(argValue(c.Args, "W"), "upper/build/edk2/Build/FV/OVMF.fd")
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := bytes.Repeat([]byte{0xff}, 4096)
		if n == 2 {
			data[100] = 0 // the second build differs in one byte
		}
		return os.WriteFile(p, data, 0o644)
	}}
	b := &Builder{
		CacheDir: t.TempDir(), Runner: runner,
		Fetch:      &fakeFetch{bodies: map[string][]byte{"http://example.org/edk2.tar.xz": body}},
		Toolchains: &fakeToolchains{tc: &toolchain.Toolchain{Digest: "sha256:00", Root: "/r"}},
	}
	res, err := b.Check(context.Background(), testRecipe(t, body), t.TempDir())
	if !errors.Is(err, ErrNotReproducible) {
		t.Fatalf("Check() error = %v, want ErrNotReproducible", err)
	}
	if !strings.Contains(err.Error(), "OVMF.fd (1 bytes differ, the first at 0x64)") {
		t.Errorf("Check() error = %v, want it to name OVMF.fd and the offset", err)
	}
	calls := runner.Calls()
	if len(calls) != 2 {
		t.Fatalf("ran %d commands, want 2", len(calls))
	}
	// The two builds differ outside the sandbox: work path, umask, hostname, env.
	if argValue(calls[0].Args, "W") == argValue(calls[1].Args, "W") {
		t.Errorf("both builds used work directory %q", argValue(calls[0].Args, "W"))
	}
	for i, v := range CheckVariations {
		setup := calls[i].Args[18]
		if !strings.HasPrefix(setup, "umask "+v.Umask+"\necho "+v.Hostname+" ") {
			t.Errorf("build %d setup does not apply variation %+v:\n%s", i, v, setup)
		}
	}
	if len(res.Mismatches) != 1 || res.Mismatches[0].Name != "OVMF.fd" {
		t.Errorf("Mismatches = %+v, want OVMF.fd", res.Mismatches)
	}
}
