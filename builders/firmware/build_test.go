package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/builders/toolchain"
)

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

func testEngine(t *testing.T, body []byte, hook func(c *run.Cmd) error) (*engine.Engine, *runtest.Fake) {
	t.Helper()
	runner := &runtest.Fake{Hook: hook}
	return &engine.Engine{
		CacheDir: enginetest.CacheDir(t), Runner: runner,
		Fetch: &enginetest.Fetch{Bodies: map[string][]byte{"http://example.org/edk2.tar.xz": body}},
		Toolchains: &enginetest.Toolchains{TC: &toolchain.Toolchain{
			Digest: "sha256:" + strings.Repeat("ab", 32), Root: enginetest.Root(t),
			Packages: []toolchain.Package{{Name: "gcc-14", Version: "14", Arch: "amd64", SHA256: strings.Repeat("cd", 32)}},
		}},
	}, runner
}

func TestJob(t *testing.T) {
	body := []byte("edk2 source")
	j := testRecipe(t, body).Job(2)
	wantUnpack := `tar -xf /build/src/edk2.tar.xz --no-same-owner --strip-components=1 -C .
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' debian/patches/series | while read -r p _; do echo "patch $p"; patch -p1 -s -N < debian/patches/"$p"; done
echo "patch amdsev-grub-reproducible.patch"; patch -p1 -s -N < /build/patches/amdsev-grub-reproducible.patch
`
	wantBuild := `. ./edksetup.sh
make -C BaseTools
build -a X64 -t GCC5 -p OvmfPkg/OvmfPkgX64.dsc -b RELEASE -n 2 -D FD_SIZE_4MB --pcd 'PcdFirmwareVendor=LX\0'
`
	if len(j.Steps) != 2 || !j.Steps[0].Prepare || j.Steps[1].Prepare {
		t.Fatalf("Steps = %+v, want unpack (prepare) and build", j.Steps)
	}
	if diff := cmp.Diff(wantUnpack, j.Steps[0].Script); diff != "" {
		t.Errorf("unpack script (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBuild, j.Steps[1].Script); diff != "" {
		t.Errorf("build script (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PYTHON3_ENABLE=TRUE", "PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=1700000000"}, j.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]engine.Input{{URL: "http://example.org/edk2.tar.xz", SHA256: hexSHA(body), Path: "/build/src/edk2.tar.xz"}}, j.Inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	patch, _ := EmbeddedPatch("amdsev-grub-reproducible.patch")
	if len(j.Stage) != 1 || j.Stage[0].Path != "/build/patches/amdsev-grub-reproducible.patch" || !bytes.Equal(j.Stage[0].Data, patch) {
		t.Errorf("staged files = %+v, want the embedded patch", j.Stage)
	}
	if diff := cmp.Diff([]engine.Output{{From: "/build/edk2/Build/FV/OVMF.fd", Name: "OVMF.fd"}}, j.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if j.Dir != "/build/edk2" {
		t.Errorf("Dir = %q", j.Dir)
	}
}

func TestBuildProvenance(t *testing.T) {
	body := []byte("edk2 source")
	fw := bytes.Repeat([]byte{0xff}, 4096)
	e, _ := testEngine(t, body, func(c *run.Cmd) error {
		return enginetest.Write(c.Args, "/build/edk2/Build/FV/OVMF.fd", fw)
	})
	res, err := NewBuilder(e, 2).Build(context.Background(), testRecipe(t, body), engine.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].SHA256 != hexSHA(fw) {
		t.Errorf("Files = %+v, want OVMF.fd with sha256 %s", res.Files, hexSHA(fw))
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
	if res.Provenance.BuildType != BuildType || res.Provenance.ExternalParameters["recipe"] == nil {
		t.Errorf("provenance %+v lacks the build type or the recipe", res.Provenance)
	}
	sb, _ := res.Provenance.InternalParameters["sandbox"].(map[string]any)
	if sb["program"] != "bubblewrap" || sb["network"] != false {
		t.Errorf("provenance sandbox = %v", sb)
	}
}
