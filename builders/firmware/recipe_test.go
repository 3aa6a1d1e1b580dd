package firmware

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestEmbeddedRecipes(t *testing.T) {
	rs, err := Recipes()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	want := []string{"amdsev", "debian-trixie", "inteltdx", "ovmf-x64"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Recipes() names (-want +got):\n%s", diff)
	}
	if _, err := LookupRecipe(DefaultRecipe); err != nil {
		t.Errorf("LookupRecipe(%q) = %v", DefaultRecipe, err)
	}
}

// TestDebianFlags checks the debian-trixie recipe against the flags of
// debian/rules in edk2 2025.02-8+deb13u1 (OVMF_4M_NO_SECBOOT_FLAGS), as bash
// hands them to build.
func TestDebianFlags(t *testing.T) {
	r, err := LookupRecipe("debian-trixie")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build", "-a", "X64", "-t", "GCC5", "-p", "OvmfPkg/OvmfPkgX64.dsc", "-b", "RELEASE",
		"-D", "CC_MEASUREMENT_ENABLE=TRUE", "-D", "NETWORK_HTTP_BOOT_ENABLE=TRUE", "-D", "NETWORK_IP6_ENABLE=TRUE",
		"-D", "NETWORK_TLS_ENABLE", "-D", "TPM2_ENABLE=TRUE",
		"--pcd", `PcdFirmwareVendor=LDebian distribution of EDK II\0`,
		"--pcd", `PcdFirmwareVersionString=L2025.02-8+deb13u1\0`,
		"--pcd", `PcdFirmwareReleaseDateString=L11/08/2025\0`,
		"--pcd", "PcdUninstallMemAttrProtocol=TRUE"}
	if diff := cmp.Diff(want, r.BuildArgs(0)); diff != "" {
		t.Errorf("BuildArgs(0) (-want +got):\n%s", diff)
	}
	wantEnv := []string{"PYTHON3_ENABLE=TRUE", "PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=1762625177"}
	if diff := cmp.Diff(wantEnv, r.Env()); diff != "" {
		t.Errorf("Env() (-want +got):\n%s", diff)
	}
}

func TestScriptGolden(t *testing.T) {
	rs, err := Recipes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Run(r.Name, func(t *testing.T) {
			got := r.Script(2)
			path := filepath.Join("testdata", r.Name+".sh")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Script(2) (-want +got):\n%s", diff)
			}
		})
	}
}

const validRecipe = `name: t
description: test
sources:
  - url: http://example.org/a.tar.xz
    sha256: "0000000000000000000000000000000000000000000000000000000000000000"
sourceDateEpoch: 1
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, pins: {gcc-14: "1"}}
build: {dir: /build/x, platform: P.dsc, arch: [X64], toolChain: GCC5, target: RELEASE}
outputs: [{from: Build/OVMF.fd, name: OVMF.fd}]
`

func TestParseRecipe(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{"valid", func(s string) string { return s }, ""},
		{"unknown field", func(s string) string { return s + "colour: red\n" }, `unknown field "colour"`},
		{"bad sha", func(s string) string { return strings.Replace(s, `sha256: "0000`, `sha256: "zz00`, 1) }, "is not 64 lower-case hex digits"},
		{"ftp url", func(s string) string { return strings.Replace(s, "http://example.org", "ftp://example.org", 1) }, "is not http(s)"},
		{"no epoch", func(s string) string { return strings.Replace(s, "sourceDateEpoch: 1", "sourceDateEpoch: 0", 1) }, "sourceDateEpoch 0"},
		{"no pins", func(s string) string { return strings.Replace(s, `, pins: {gcc-14: "1"}`, "", 1) }, "pins no package version"},
		{"relative dir", func(s string) string { return strings.Replace(s, "dir: /build/x", "dir: build/x", 1) }, `build dir "build/x"`},
		{"escaping output", func(s string) string { return strings.Replace(s, "from: Build/OVMF.fd", "from: ../OVMF.fd", 1) }, "want a relative path"},
		// A hostile recipe that builds in the toolchain root or reads an
		// output from outside the work tree is refused by the engine's
		// validator.
		{"dir outside the work tree", func(s string) string { return strings.Replace(s, "dir: /build/x", "dir: /usr/lib", 1) }, `directory "/usr/lib": want a path under /build`},
		{"dir is the work tree's parent", func(s string) string { return strings.Replace(s, "dir: /build/x", "dir: /build/../etc", 1) }, "want a clean absolute path"},
		{"bad define", func(s string) string {
			return strings.Replace(s, "target: RELEASE}", `target: RELEASE, defines: ["A B"]}`, 1)
		}, `define "A B"`},
		{"unknown patch", func(s string) string { return s + "patches: {files: [nope.patch]}\n" }, `patch "nope.patch" is not embedded`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipe([]byte(tc.edit(validRecipe)))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseRecipe() = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRecipe() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestSourceFileName(t *testing.T) {
	s := Source{URL: "http://deb.debian.org/debian/pool/main/e/edk2/edk2_2025.02-8%2Bdeb13u1.debian.tar.xz"}
	if got, want := s.FileName(), "edk2_2025.02-8+deb13u1.debian.tar.xz"; got != want {
		t.Errorf("FileName() = %q, want %q", got, want)
	}
}
