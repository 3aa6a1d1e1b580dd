//go:build !measure_front

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// complete asks measure's completion for the values of the last word of
// args, as a shell does, and returns them without the directive line.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	stdout, stderr, code := runCLI(append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", args, code, stderr)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(line, ":") || line == "" {
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		out = append(out, name)
	}
	return out
}

// TestCompletion: every --output completes to the formats its command
// lists (outputOptions.allowed, which its usage names), and the flags with
// a fixed set of values complete to it. (It runs no command: a build's
// --output json would build.)
func TestCompletion(t *testing.T) {
	for _, c := range allCommands() {
		f := c.Flags().Lookup("output")
		if f == nil {
			continue
		}
		path := strings.Fields(subPath(c))
		got := complete(t, append(slices.Clone(path), "--output", "")...)
		if want := outputValues(f); len(got) == 0 || !slices.Equal(got, want) {
			t.Errorf("measure %s --output completes to %q, want %q", subPath(c), got, want)
		}
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"snp", "--vmm-type", ""}, []string{"qemu", "ec2", "gce"}},
		{[]string{"seves", "--vcpu-type", ""}, []string{"EPYC-v4", "EPYC-Milan", "EPYC-Genoa", "EPYC-Turin"}},
		{[]string{"build", "ovmf", "--recipe", ""}, []string{"amdsev", "debian-trixie", "inteltdx", "ovmf-x64"}},
		{[]string{"build", "kernel", "--recipe", ""}, []string{"cvm-minimal"}},
		{[]string{"build", "guest", "--recipe", ""}, []string{"minimal"}},
		{[]string{"build", "shell", "--recipe", ""}, []string{"debian-trixie", "cvm-minimal"}},
		{[]string{"recipes", "show", ""}, []string{"amdsev", "cvm-minimal", "minimal"}},
		{[]string{"keygen", "--alg", ""}, []string{"ed25519", "ecdsa-p256", "ecdsa-p384"}},
		{[]string{"tdx", "--page-add-order", ""}, []string{"single-pass", "two-pass"}},
	}
	for _, tc := range tests {
		got := complete(t, tc.args...)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("measure %q completes to %q, which lacks %q", tc.args, got, w)
			}
		}
	}
	if got := complete(t, "build", "kernel", "--recipe", ""); slices.Contains(got, "debian-trixie") {
		t.Errorf("build kernel --recipe completes to firmware recipes: %q", got)
	}
}

// TestVersionText: --version says the module version, unless -ldflags set
// one, the VCS revision and the Go version, as the build info has them.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/measure-cc/measure", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"go install", "devel", bi, "measure v1.2.3\nrevision 0123abcd (2026-01-02T03:04:05Z, modified)\ngo1.26.8 " + platform},
		{"-ldflags wins", "v9.9.9", bi, "measure v9.9.9\nrevision 0123abcd (2026-01-02T03:04:05Z, modified)\ngo1.26.8 " + platform},
		{"a checkout without VCS", "devel", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "measure devel\ngo1.26.8 " + platform},
		{"no build info", "devel", nil, "measure devel"},
	}
	for _, tc := range tests {
		if got := versionText(tc.ldflags, tc.bi); got != tc.want {
			t.Errorf("%s: versionText() = %q, want %q", tc.name, got, tc.want)
		}
	}
	stdout, _, code := runCLI("--version")
	if code != 0 || !strings.HasPrefix(stdout, "measure ") || !strings.Contains(stdout, runtime.Version()) {
		t.Errorf("measure --version = exit %d, %q; want the version and %s", code, stdout, runtime.Version())
	}
}

// TestVersionBuilt builds measure twice, as go build does and with
// -ldflags -X main.version, and runs --version: a build in this checkout
// carries its revision, and -ldflags overrides the version.
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds measure twice")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	inGit := exec.Command("git", "rev-parse", "HEAD").Run() == nil
	for _, tc := range []struct {
		name, ldflags, want string
	}{
		{"plain", "", "measure "},
		{"ldflags", "-X main.version=v9.9.9", "measure v9.9.9\n"},
	} {
		bin := filepath.Join(dir, tc.name)
		build := exec.Command(gobin, "build", "-ldflags", tc.ldflags, "-o", bin, ".")
		// As go install does: stamp the VCS revision when the source is a
		// checkout (some environments set GOFLAGS=-buildvcs=false).
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=auto")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil || !strings.HasPrefix(string(out), tc.want) || !strings.Contains(string(out), runtime.Version()) {
			t.Errorf("%s --version = %q, %v; want it to start %q and name %s", tc.name, out, err, tc.want, runtime.Version())
		}
		if inGit && !strings.Contains(string(out), "\nrevision ") {
			t.Errorf("%s --version = %q, want the VCS revision of this checkout", tc.name, out)
		}
	}
}
