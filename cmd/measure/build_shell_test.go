package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/builders/engine/enginetest"
)

func TestBuildShell(t *testing.T) {
	dir := enginetest.Passable(t, t.TempDir())
	src := []byte("linux tarball")
	sum := sha256.Sum256(src)
	recipe := filepath.Join(dir, "k.yaml")
	os.WriteFile(recipe, []byte(`name: test-kernel
description: test
source: {url: "http://example.org/linux.tar.xz", sha256: "`+hex.EncodeToString(sum[:])+`", strip: 1}
sourceDateEpoch: 1794660961
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, variant: buildd, packages: [flex], pins: {make: 4.4.1-2}}
build: {dir: /build/linux, arch: x86_64, baseConfig: tinyconfig, config: [CONFIG_SMP=y], target: bzImage, timestamp: "t", user: u, host: h}
outputs: [{from: arch/x86/boot/bzImage, name: bzImage}]
`), 0o644)
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
