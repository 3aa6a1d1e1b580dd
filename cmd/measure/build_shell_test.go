//go:build !measure_front

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildShell(t *testing.T) {
	dir, src, recipe := testKernelRecipe(t)
	fake := kernelWorld([]byte("MZ"))
	env := &buildEnv{runner: fake, fetch: fakeHTTP{"http://example.org/linux.tar.xz": src}}
	var stdout, stderr bytes.Buffer
	cmd := newBuildCmdEnv(env)
	cmd.SetArgs([]string{"shell", "--recipe", recipe, "--cache", filepath.Join(dir, "cache"), "--", "id", "-u"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("build shell: %v\n%s", err, stderr.String())
	}
	calls := fake.Calls()
	var steps []string
	for _, c := range calls {
		if c.Args[0] == "bwrap" {
			steps = append(steps, strings.Join(c.Args[len(c.Args)-2:], " "))
		}
	}
	// The prepare steps (unpack, configure), then the command, not the build.
	if len(steps) != 3 || steps[2] != "id -u" {
		t.Errorf("sandboxed commands end with %q, want unpack, configure, then id -u", steps)
	}
	for _, c := range calls {
		if isStep(nil2cmd(c.Args), "bzImage") {
			t.Errorf("build shell ran the build step")
		}
	}
	if n := stdout.Len(); n != 0 {
		t.Errorf("stdout holds %d bytes of measure's own", n)
	}

	// An unknown recipe is a usage error.
	cmd = newBuildCmdEnv(env)
	cmd.SetArgs([]string{"shell", "--recipe", "nope", "--cache", filepath.Join(dir, "cache")})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.Execute()
	if code := exitCode(err, &bytes.Buffer{}); code != exitUsage {
		t.Errorf("build shell --recipe nope: exit %d (%v), want %d", code, err, exitUsage)
	}
}
