package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/builders/toolchain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

func argValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

const testDeb = "http://example.org/pool/linux-source-6.12_6.12.117-1%7Edeb12u1_all.deb"

func testRecipe(t *testing.T, body []byte) *Recipe {
	t.Helper()
	r, err := ParseRecipe([]byte(`name: t
description: test
source:
  url: ` + testDeb + `
  sha256: "` + hexSHA(body) + `"
  tarball: usr/src/linux-source-6.12.tar.xz
  strip: 1
sourceDateEpoch: 1700000000
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, pins: {gcc-14: "14"}}
build:
  dir: /build/linux
  arch: x86_64
  baseConfig: tinyconfig
  config: [CONFIG_SMP=y, "# CONFIG_MODULES is not set", CONFIG_CMDLINE="a b"]
  target: bzImage
  timestamp: Thu Jan  1 00:00:00 UTC 2026
  user: u
  host: h
outputs: [{from: arch/x86/boot/bzImage, name: bzImage}, {from: .config, name: config}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEmbeddedRecipes(t *testing.T) {
	rs, err := Recipes()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"cvm-minimal"}, names); diff != "" {
		t.Errorf("Recipes() names (-want +got):\n%s", diff)
	}
	if _, err := LookupRecipe(DefaultRecipe); err != nil {
		t.Errorf("LookupRecipe(%q) = %v", DefaultRecipe, err)
	}
	if _, err := LookupRecipe("nope"); !errors.Is(err, ErrUnknownRecipe) {
		t.Errorf("LookupRecipe(nope) = %v, want ErrUnknownRecipe", err)
	}
}

// TestCVMFragment checks that the default recipe asks for what the issue's
// contract names: SEV-SNP and TDX guest support, virtio, a serial console,
// the EFI stub, initramfs support, no modules, no randstruct.
func TestCVMFragment(t *testing.T) {
	r, err := LookupRecipe(DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range r.Build.Config {
		have[c] = true
	}
	for _, want := range []string{
		"CONFIG_AMD_MEM_ENCRYPT=y", "CONFIG_SEV_GUEST=y", "CONFIG_INTEL_TDX_GUEST=y", "CONFIG_TDX_GUEST_DRIVER=y",
		"CONFIG_VIRTIO=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_SERIAL_8250_CONSOLE=y", "CONFIG_EFI_STUB=y",
		"CONFIG_BLK_DEV_INITRD=y", "CONFIG_RD_GZIP=y", "# CONFIG_MODULES is not set", "CONFIG_RANDSTRUCT_NONE=y",
		"CONFIG_FUTEX=y", "CONFIG_EPOLL=y", "CONFIG_EVENTFD=y",
	} {
		if !have[want] {
			t.Errorf("recipe %s: fragment lacks %q", r.Name, want)
		}
	}
	env := strings.Join(r.Env(), "\n")
	for _, want := range []string{"KBUILD_BUILD_TIMESTAMP=", "KBUILD_BUILD_USER=measure", "KBUILD_BUILD_HOST=measure-build", "SOURCE_DATE_EPOCH=1794660961", "KCFLAGS=-ffile-prefix-map=/build/linux-6.12/="} {
		if !strings.Contains(env, want) {
			t.Errorf("recipe %s: Env() lacks %q:\n%s", r.Name, want, env)
		}
	}
}

func TestScriptGolden(t *testing.T) {
	r, err := LookupRecipe(DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Script(2)
	golden := filepath.Join("testdata", r.Name+".sh")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Script(2) (-%s +got):\n%s", golden, diff)
	}
}

func TestParseRecipeErrors(t *testing.T) {
	good := string(mustRead(t, "recipes/cvm-minimal.yaml"))
	tests := []struct {
		name, old, new, wantErr string
	}{
		{"unknown field", "name: cvm-minimal", "name: cvm-minimal\nflavour: x", "unknown field"},
		{"bad sha", "sha256: e849", "sha256: E849", "not 64 lower-case hex digits"},
		{"not a deb", "_all.deb", "_all.tar", "is not a .deb"},
		{"relative dir", "dir: /build/linux-6.12", "dir: build/linux", "want a clean absolute path"},
		{"bad config", "- CONFIG_SMP=y", "- SMP=y", `config line "SMP=y"`},
		{"config twice", "- CONFIG_SMP=y", "- CONFIG_SMP=y\n    - CONFIG_SMP=n", "CONFIG_SMP is set twice"},
		{"shell in user", "user: measure", "user: $(id)", `build user "$(id)"`},
		{"no pins", "  pins:\n    gcc-14: 14.2.0-19\n    cpp-14: 14.2.0-19\n    binutils: 2.44-3\n    make: 4.4.1-2\n", "", "pins no package version"},
		{"bad output", "from: .config", "from: ../x", "want a relative path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("recipe lacks %q", tc.old)
			}
			_, err := ParseRecipe([]byte(strings.Replace(good, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRecipe = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// playKernel returns a runner that plays the kernel build step: it writes
// the outputs in the work tree. image is called with the build's number (1,
// 2, ...) for the bzImage content.
func playKernel(image func(n int) []byte) *runtest.Fake {
	n := 0
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		if !strings.Contains(enginetest.Script(c.Args), "bzImage") {
			return nil
		}
		n++
		io.WriteString(c.Stdout, "  LD      vmlinux\n")
		if err := enginetest.Write(c.Args, "/build/linux/.config", []byte("CONFIG_SMP=y\n")); err != nil {
			return err
		}
		return enginetest.Write(c.Args, "/build/linux/arch/x86/boot/bzImage", image(n))
	}}
}

func testEngine(t *testing.T, body []byte, runner *runtest.Fake) *engine.Engine {
	return &engine.Engine{
		CacheDir: enginetest.CacheDir(t), Runner: runner,
		Fetch: &enginetest.Fetch{Bodies: map[string][]byte{testDeb: body}},
		Toolchains: &enginetest.Toolchains{TC: &toolchain.Toolchain{
			Digest: "sha256:" + strings.Repeat("ab", 32), Root: enginetest.Root(t),
			Packages: []toolchain.Package{{Name: "gcc-14", Version: "14", Arch: "amd64", SHA256: strings.Repeat("cd", 32)}},
		}},
	}
}

func TestBuildCommands(t *testing.T) {
	body := []byte("linux source deb")
	img := bytes.Repeat([]byte{0x4d, 0x5a}, 2048)
	runner := playKernel(func(int) []byte { return img })
	b := NewBuilder(testEngine(t, body, runner), 2)
	r := testRecipe(t, body)
	out := t.TempDir()
	res, err := b.Build(context.Background(), r, engine.Options{OutDir: out, WorkName: "w"})
	if err != nil {
		t.Fatal(err)
	}
	calls := runner.Calls()
	if len(calls) != 3 {
		t.Fatalf("ran %d commands, want 3 (unpack, configure, build)", len(calls))
	}
	var scripts []string
	for _, c := range calls {
		scripts = append(scripts, enginetest.Script(c.Args))
	}
	wantScripts := []string{`umask 022
dpkg-deb --fsys-tarfile '/build/src/linux-source-6.12_6.12.117-1~deb12u1_all.deb' | tar -xOf - ./usr/src/linux-source-6.12.tar.xz | tar -xJf - --no-same-owner --strip-components=1
`, `umask 022
make ARCH=x86_64 tinyconfig
scripts/kconfig/merge_config.sh -m .config /build/config-fragment
make ARCH=x86_64 olddefconfig
# every line of the fragment must hold after olddefconfig
bad=0
while IFS= read -r l; do
  case "$l" in
    '# CONFIG_'*' is not set') n=${l#'# '}; n=${n%' is not set'}
      if grep -q "^$n=" .config; then echo "config: want '$l', got '$(grep "^$n=" .config)'"; bad=1; fi ;;
    *) grep -qxF -- "$l" .config || { echo "config: want '$l', got '$(grep "^${l%%=*}=" .config || echo unset)'"; bad=1; } ;;
  esac
done < /build/config-fragment
if [ $bad != 0 ]; then echo 'config: the fragment did not take; see above' >&2; exit 1; fi
`, `umask 022
make ARCH=x86_64 -j2 bzImage
`}
	if diff := cmp.Diff(wantScripts, scripts); diff != "" {
		t.Errorf("scripts (-want +got):\n%s", diff)
	}
	wantEnv := []string{
		"KAFLAGS=-ffile-prefix-map=/build/linux/=",
		"KBUILD_BUILD_HOST=h", "KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 2026", "KBUILD_BUILD_USER=u", "KBUILD_BUILD_VERSION=1",
		"KCFLAGS=-ffile-prefix-map=/build/linux/=",
		"SOURCE_DATE_EPOCH=1700000000"}
	j := r.Job(2)
	if diff := cmp.Diff(wantEnv, j.Env); diff != "" {
		t.Errorf("sandbox environment (-want +got):\n%s", diff)
	}
	if want := "CONFIG_SMP=y\n# CONFIG_MODULES is not set\nCONFIG_CMDLINE=\"a b\"\n"; len(j.Stage) != 1 || j.Stage[0].Path != FragmentPath || string(j.Stage[0].Data) != want {
		t.Errorf("staged fragment %+v, want %q at %s", j.Stage, want, FragmentPath)
	}
	var files []string
	for _, f := range res.Files {
		files = append(files, f.Name+" "+f.SHA256+" "+f.Path)
	}
	wantFiles := []string{"bzImage " + hexSHA(img) + " " + filepath.Join(out, "bzImage"), "config " + hexSHA([]byte("CONFIG_SMP=y\n")) + " " + filepath.Join(out, "config")}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	log, _ := os.ReadFile(res.Log)
	if !bytes.Contains(log, []byte("LD      vmlinux")) {
		t.Errorf("build log lacks the command output:\n%s", log)
	}
	var deps []string
	for _, d := range res.Provenance.ResolvedDependencies {
		deps = append(deps, d.Name+" "+d.URI+" "+d.Digest["sha256"])
	}
	wantDeps := []string{
		"linux-source-6.12_6.12.117-1~deb12u1_all.deb " + testDeb + " " + hexSHA(body),
		"toolchain  " + strings.Repeat("ab", 32),
		"gcc-14 pkg:deb/debian/gcc-14@14?arch=amd64 " + strings.Repeat("cd", 32),
	}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("resolvedDependencies (-want +got):\n%s", diff)
	}
	if res.Provenance.BuildType != BuildType || len(res.Provenance.Subjects) != 2 {
		t.Errorf("provenance buildType %q, %d subjects; want %q and 2", res.Provenance.BuildType, len(res.Provenance.Subjects), BuildType)
	}
	if diff := cmp.Diff([]string{"make", "ARCH=x86_64", "-j2", "bzImage"}, res.Provenance.InternalParameters["makeArgs"]); diff != "" {
		t.Errorf("makeArgs (-want +got):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	body := []byte("src")
	tests := []struct {
		name    string
		image   func(n int) []byte
		wantErr string
	}{
		{"same", func(int) []byte { return []byte("kernel") }, ""},
		{"one byte", func(n int) []byte { return []byte{'k', byte(n), 'x'} }, "bzImage (1 bytes differ, the first at 0x1)"},
		{"size", func(n int) []byte { return bytes.Repeat([]byte{1}, n) }, "bzImage (sizes 1 and 2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(testEngine(t, body, playKernel(tc.image)), 0)
			res, err := b.Check(context.Background(), testRecipe(t, body), t.TempDir())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check() = %v", err)
				}
				return
			}
			if !errors.Is(err, engine.ErrNotReproducible) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Check() error = %v, want ErrNotReproducible naming %q", err, tc.wantErr)
			}
			if len(res.Mismatches) != 1 || res.Mismatches[0].Name != "bzImage" {
				t.Errorf("Mismatches = %+v, want bzImage", res.Mismatches)
			}
		})
	}
}
