//go:build !measure_front

package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/engine/enginetest"
	buildrun "github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
)

type fakeHTTP map[string][]byte

func (f fakeHTTP) Get(url string) (*http.Response, error) {
	b, ok := f[url]
	if !ok {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Body: io.NopCloser(bytes.NewReader(nil))}, nil
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func argOf(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// fakeToolchain plays mmdebstrap (a tarball with usr/ and the customize
// hook's .deb sums) and dpkg-query (packages), and reports whether c was one
// of them.
func fakeToolchain(c *buildrun.Cmd, packages string) (bool, error) {
	switch c.Args[0] {
	case "mmdebstrap":
		f, err := os.Create(c.Args[len(c.Args)-2])
		if err != nil {
			return true, err
		}
		tw := tar.NewWriter(f)
		tw.WriteHeader(&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.Close()
		if err := f.Close(); err != nil {
			return true, err
		}
		return true, os.WriteFile(filepath.Join(c.Dir, "debs.sha256"), nil, 0o644)
	case "dpkg-query":
		_, err := io.WriteString(c.Stdout, packages)
		return true, err
	}
	return false, nil
}

// nil2cmd wraps recorded arguments as a command.
func nil2cmd(args []string) *buildrun.Cmd { return &buildrun.Cmd{Args: args} }

// isStep reports whether c runs a sandboxed step whose script holds word.
func isStep(c *buildrun.Cmd, word string) bool {
	return slices.Contains(c.Args, "bwrap") && strings.Contains(enginetest.Script(c.Args), word)
}

// fakeWorld plays the toolchain and the sandboxed edk2 build, which
// "produces" fw.
func fakeWorld(fw []byte) *runtest.Fake {
	return &runtest.Fake{Hook: func(c *buildrun.Cmd) error {
		if ok, err := fakeToolchain(c, "ii \tgcc-14\t14.2.0-19\tamd64\nii \tnasm\t2.16.03-1\tamd64\n"); ok {
			return err
		}
		if isStep(c, "edksetup") {
			return enginetest.Write(c.Args, "/build/edk2/Build/AmdSev/RELEASE_GCC5/FV/OVMF.fd", fw)
		}
		if slices.Contains(c.Args, "bwrap") {
			return nil
		}
		return fmt.Errorf("unexpected command %q", c.Args)
	}}
}

func TestBuildOVMFFakeRunner(t *testing.T) {
	dir := enginetest.Passable(t, t.TempDir())
	src := []byte("edk2 tarball")
	sum := sha256.Sum256(src)
	recipe := filepath.Join(dir, "amdsev.yaml")
	os.WriteFile(recipe, []byte(`name: test-amdsev
description: test
sources: [{url: "http://example.org/edk2.tar.xz", sha256: "`+hex.EncodeToString(sum[:])+`", strip: 1}]
sourceDateEpoch: 1762625177
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, variant: buildd, packages: [nasm], pins: {nasm: 2.16.03-1}}
build: {dir: /build/edk2, platform: OvmfPkg/AmdSev/AmdSevX64.dsc, arch: [X64], toolChain: GCC5, target: RELEASE}
outputs: [{from: Build/AmdSev/RELEASE_GCC5/FV/OVMF.fd, name: OVMF.fd}]
`), 0o644)
	fw := ovmftest.AmdSev().MustBuild()
	fake := fakeWorld(fw)
	env := &buildEnv{runner: fake, fetch: fakeHTTP{"http://example.org/edk2.tar.xz": src}}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	cmd := newBuildCmdEnv(env)
	cmd.SetArgs([]string{"ovmf", "--recipe", recipe, "--out", out, "--cache", filepath.Join(dir, "cache"), "--jobs", "2"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("build ovmf: %v\n%s", err, stderr.String())
	}
	var progs []string
	for _, c := range fake.Calls() {
		progs = append(progs, c.Args[0])
	}
	if diff := cmp.Diff([]string{"mmdebstrap", "dpkg-query", "bwrap", "bwrap"}, progs); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	fwSum := sha256.Sum256(fw)
	if !strings.Contains(stdout.String(), hex.EncodeToString(fwSum[:])+"  "+filepath.Join(out, "OVMF.fd")) {
		t.Errorf("stdout lacks the firmware sha256:\n%s", stdout.String())
	}
	for _, want := range []string{"step firmware test-amdsev: unpack\n", "step firmware test-amdsev: build done in", "built firmware test-amdsev in"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress on a non-terminal stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := provenance.ParseStatement(b)
	if err != nil {
		t.Fatalf("provenance.json: %v", err)
	}
	if _, err := provenance.MatchSubject(st, map[string]string{"sha256": hex.EncodeToString(fwSum[:])}); err != nil {
		t.Errorf("provenance subject: %v", err)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	pred := raw["predicate"].(map[string]any)
	rd := pred["buildDefinition"].(map[string]any)["resolvedDependencies"].([]any)
	var names []string
	for _, d := range rd {
		names = append(names, d.(map[string]any)["name"].(string))
	}
	if diff := cmp.Diff([]string{"edk2.tar.xz", "toolchain", "gcc-14", "nasm"}, names); diff != "" {
		t.Errorf("resolvedDependencies (-want +got):\n%s", diff)
	}
	bp := pred["runDetails"].(map[string]any)["byproducts"].([]any)
	if len(bp) == 0 || !strings.Contains(bp[0].(map[string]any)["name"].(string), "OVMF.fd.snp-firmware-digest") {
		t.Errorf("byproducts = %v, want the SNP firmware digest first", bp)
	}

	// A second build reuses the cached source and toolchain: only the
	// sandboxed steps run.
	fake2 := fakeWorld(fw)
	env.runner = fake2
	cmd = newBuildCmdEnv(env)
	cmd.SetArgs([]string{"ovmf", "--recipe", recipe, "--out", out, "--cache", filepath.Join(dir, "cache"), "--output", "json"})
	stdout.Reset()
	cmd.SetOut(&stdout)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	checkOutputLanguage(t, stdout.Bytes())
	var built struct {
		Reproducible *bool
		Builds       []struct{ Recipe string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &built); err != nil || built.Reproducible != nil || len(built.Builds) != 1 || built.Builds[0].Recipe != "test-amdsev" {
		t.Errorf("build ovmf --output json = %+v, %v; want one build of test-amdsev, no reproducible\n%s", built, err, stdout.String())
	}
	if calls := fake2.Calls(); len(calls) != 2 || calls[0].Args[0] != "bwrap" || calls[1].Args[0] != "bwrap" {
		t.Errorf("second build ran %v, want the two sandboxed steps alone", calls)
	}
}

func TestBuildOVMFErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown recipe", []string{"build", "ovmf", "--recipe", "nope"}, 2, `recipe "nope": no embedded recipe of that name`},
		{"bad output", []string{"build", "ovmf", "--output", "xml"}, 2, `--output "xml" is unknown`},
		{"negative jobs", []string{"build", "ovmf", "--jobs", "-1"}, 2, "--jobs -1"},
		{"missing recipe file", []string{"build", "ovmf", "--recipe", "/nonexistent/r.yaml"}, exitUnreadable, "no such file"},
		{"no subcommand", []string{"build"}, 2, "build needs a subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("measure %v = exit %d, %q; want exit %d and %q", tc.args, code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestRecipesList(t *testing.T) {
	stdout, _, code := runCLI("recipes", "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	checkGolden(t, "recipes-list.txt", []byte(stdout))
	stdout, _, code = runCLI("recipes", "list", "--output", "json")
	checkGolden(t, "recipes-list.json", []byte(stdout))
	var rs []struct{ Name, Kind string }
	if code != 0 || json.Unmarshal([]byte(stdout), &rs) != nil || len(rs) != 6 {
		t.Errorf("recipes list --output json = exit %d, %d recipes, want 0 and 6:\n%s", code, len(rs), stdout)
	}
	// Every recipe listed is one show prints and its build command takes.
	for _, r := range rs {
		out, stderr, code := runCLI("recipes", "show", r.Name, "--kind", r.Kind)
		if code != 0 || !strings.Contains(out, "name: "+r.Name) {
			t.Errorf("recipes show %s --kind %s = exit %d, %s\n%s", r.Name, r.Kind, code, stderr, out)
		}
	}
	stdout, _, code = runCLI("recipes", "list", "--kind", "kernel", "--output", "json")
	if code != 0 || json.Unmarshal([]byte(stdout), &rs) != nil || len(rs) != 1 || rs[0].Name != "cvm-minimal" {
		t.Errorf("recipes list --kind kernel = exit %d, %v, want cvm-minimal alone", code, rs)
	}
}

func TestDiffCmd(t *testing.T) {
	dir := t.TempDir()
	a := ovmftest.AmdSev().MustBuild()
	pa := writeTemp(t, "a.fd", a)
	b := append([]byte(nil), a...)
	b[len(b)/2] ^= 1
	pb := filepath.Join(dir, "b.fd")
	os.WriteFile(pb, b, 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"identical", []string{"diff", pa, pa}, 0, "are identical"},
		{"one byte", []string{"diff", pa, pb}, 1, "1 bytes differ in 1 ranges"},
		{"json", []string{"diff", pa, pb, "--output", "json"}, exitNegative, `"diff_bytes": 1`},
		{"json identical", []string{"diff", pa, pa, "--output", "json"}, exitOK, `"identical": true`},
		{"json range", []string{"diff", pa, pb, "--output", "json"}, exitNegative, fmt.Sprintf(`"offset": "%#x",`, len(b)/2)},
		{"missing", []string{"diff", pa, filepath.Join(dir, "none")}, exitUnreadable, ""},
		{"one arg", []string{"diff", pa}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantOut) {
				t.Errorf("measure %v = exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, stdout, stderr, tc.wantCode, tc.wantOut)
			}
		})
	}
}

func TestRecipesShow(t *testing.T) {
	stdout, _, code := runCLI("recipes", "show", "debian-trixie")
	if code != 0 || !strings.Contains(stdout, "name: debian-trixie") || !strings.Contains(stdout, "sha256: b63b6053d6d89c74d9291f9e96fde1584be99e6fb9c169ba9511505129d6b049") {
		t.Errorf("recipes show debian-trixie = exit %d:\n%s", code, stdout)
	}
	for _, tc := range []struct{ name, want string }{
		{"cvm-minimal", "name: cvm-minimal"},
		{"minimal", "name: minimal"},
	} {
		if stdout, stderr, code := runCLI("recipes", "show", tc.name); code != 0 || !strings.Contains(stdout, tc.want) {
			t.Errorf("recipes show %s = exit %d, %q:\n%s", tc.name, code, stderr, stdout)
		}
	}
	for _, args := range [][]string{{"recipes", "show", "nope"}, {"recipes", "show", "minimal", "--kind", "kernel"}, {"recipes", "show", "minimal", "--kind", "os"}} {
		if _, stderr, code := runCLI(args...); code != exitUsage || !strings.Contains(stderr, "measure: ") {
			t.Errorf("measure %v = exit %d, %q; want %d", args, code, stderr, exitUsage)
		}
	}
}
