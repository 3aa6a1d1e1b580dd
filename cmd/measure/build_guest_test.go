//go:build !measure_front

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/guest"
	"github.com/measure-cc/measure/builders/guest/guesttest"
	"github.com/measure-cc/measure/builders/initramfs"
	buildrun "github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/provenance"
)

// TestGuestReferenceValuesMatchSNP builds a guest from fakes (a synthetic
// AmdSevX64 image, stand-in kernel and init) and checks that its
// reference-values statement carries exactly what `measure snp --ovmf
// --kernel --initrd --append` prints for the same files.
func TestGuestReferenceValuesMatchSNP(t *testing.T) {
	r, err := guest.LookupRecipe(guest.DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	r.Initramfs.Init = t.TempDir()
	b := &guest.Builder{
		Firmware:  &guesttest.Firmware{},
		Kernel:    &guesttest.Kernel{},
		Initramfs: &initramfs.Builder{Runner: guesttest.Go(), ReadBuildInfo: guesttest.BuildInfo(r.Initramfs.GoVersion)},
		Tool:      provenance.Tool{Name: "measure", Version: version, URI: toolURI},
	}
	out := t.TempDir()
	res, err := b.Build(context.Background(), r, guest.Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(filepath.Join(out, "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"snp",
		"--ovmf", filepath.Join(out, "OVMF.fd"),
		"--kernel", filepath.Join(out, "bzImage"),
		"--initrd", filepath.Join(out, "initramfs.cpio.gz"),
		"--append", string(cmdline),
		"--vcpus", "1,2,4", "--vcpu-type", strings.Join(r.SNP.VCPUTypes, ","), "--vmm-type", "qemu",
	}
	stdout, stderr, code := runCLI(append(args, "--output", "statement")...)
	if code != 0 {
		t.Fatalf("measure snp: exit %d: %s", code, stderr)
	}
	st, err := provenance.ParseStatement([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	want, err := provenance.ReferenceValuesFromStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, guest.ReferenceValuesName))
	if err != nil {
		t.Fatal(err)
	}
	gst, err := provenance.ParseStatement(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := provenance.ReferenceValuesFromStatement(gst)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reference values (-measure snp +build guest):\n%s", diff)
	}
	if diff := cmp.Diff(want, res.SNP); diff != "" {
		t.Errorf("result reference values (-measure snp +build guest):\n%s", diff)
	}
	// The plain hex `measure snp` prints for one configuration is the value
	// of that configuration.
	hexOut, stderr, code := runCLI("snp", "--ovmf", args[2], "--kernel", args[4], "--initrd", args[6], "--append", string(cmdline),
		"--vcpus", "2", "--vcpu-type", "EPYC-Milan")
	if code != 0 {
		t.Fatalf("measure snp: exit %d: %s", code, stderr)
	}
	found := false
	for _, v := range got.Values {
		if v.Configuration.VCPUs == 2 && v.Configuration.VCPUType == "EPYC-Milan" {
			found = true
			if g, w := v.Measurements[0].Digest["sha384"], strings.TrimSpace(hexOut); g != w {
				t.Errorf("EPYC-Milan x2: build guest %s, measure snp %s", g, w)
			}
		}
	}
	if !found {
		t.Errorf("reference values lack EPYC-Milan with 2 vCPUs")
	}
}

func TestBuildGuestErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown recipe", []string{"build", "guest", "--recipe", "nope"}, 2, `guest recipe "nope": no embedded guest recipe`},
		{"bad output", []string{"build", "guest", "--output", "xml"}, 2, `--output "xml" is unknown`},
		{"negative jobs", []string{"build", "guest", "--jobs", "-1"}, 2, "--jobs -1"},
		{"missing recipe file", []string{"build", "guest", "--recipe", "/nonexistent/g.yaml"}, exitUnreadable, "no such file"},
		{"kernel unknown recipe", []string{"build", "kernel", "--recipe", "nope"}, 2, `kernel recipe "nope": no embedded kernel recipe`},
		{"kernel negative jobs", []string{"build", "kernel", "--jobs", "-2"}, 2, "--jobs -2"},
		{"initramfs bad file", []string{"build", "initramfs", "--file", "onlyone"}, 2, `--file "onlyone": want HOST_PATH:ARCHIVE_PATH`},
		{"initramfs bad mode", []string{"build", "initramfs", "--file", "a:b:999"}, 2, `mode "999"`},
		{"initramfs no init", []string{"build", "initramfs", "--init", "/nonexistent/init"}, exitUnreadable, `initramfs init "/nonexistent/init"`},
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

func TestInitramfsFileFlags(t *testing.T) {
	o := initramfsOptions{init: "./cmd/measure-init", files: []string{"a.txt:/etc/a", "run:/bin/run:0750"}}
	s, err := o.spec()
	if err != nil {
		t.Fatal(err)
	}
	want := &initramfs.Spec{Init: "./cmd/measure-init", Files: []initramfs.File{{Source: "a.txt", Path: "/etc/a"}, {Source: "run", Path: "/bin/run", Mode: 0o750}}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

// kernelWorld plays debootstrap, dpkg-query, tar and the sandboxed kernel
// build, which "produces" image, or images in turn (the last one again
// after that).
func kernelWorld(image []byte, more ...[]byte) *runtest.Fake {
	images := append([][]byte{image}, more...)
	return &runtest.Fake{Hook: func(c *buildrun.Cmd) error {
		if ok, err := fakeToolchain(c, "ii \tgcc-14\t14.2.0-19\tamd64\nii \tmake\t4.4.1-2\tamd64\n"); ok {
			return err
		}
		if isStep(c, "bzImage") {
			if err := enginetest.Write(c.Args, "/build/linux/.config", []byte("CONFIG_SMP=y\n")); err != nil {
				return err
			}
			image := images[0]
			if len(images) > 1 {
				images = images[1:]
			}
			return enginetest.Write(c.Args, "/build/linux/arch/x86/boot/bzImage", image)
		}
		if slices.Contains(c.Args, "bwrap") {
			return nil
		}
		return fmt.Errorf("unexpected command %q", c.Args)
	}}
}

// testKernelRecipe writes a kernel recipe over a fake source into a
// directory the sandbox user may pass, and returns the directory, the
// source and the recipe's path.
func testKernelRecipe(t *testing.T) (dir string, src []byte, recipe string) {
	t.Helper()
	dir = enginetest.Passable(t, t.TempDir())
	src = []byte("linux tarball")
	sum := sha256.Sum256(src)
	recipe = filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(recipe, []byte(`name: test-kernel
description: test
source: {url: "http://example.org/linux.tar.xz", sha256: "`+hex.EncodeToString(sum[:])+`", strip: 1}
sourceDateEpoch: 1794660961
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, variant: buildd, packages: [flex], pins: {make: 4.4.1-2}}
build: {dir: /build/linux, arch: x86_64, baseConfig: tinyconfig, config: [CONFIG_SMP=y], target: bzImage, timestamp: "t", user: u, host: h}
outputs: [{from: arch/x86/boot/bzImage, name: bzImage}, {from: .config, name: config}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, src, recipe
}

func TestBuildKernelFakeRunner(t *testing.T) {
	dir, src, recipe := testKernelRecipe(t)
	image := bytes.Repeat([]byte("MZ"), 512)
	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check=%v", check), func(t *testing.T) {
			fake := kernelWorld(image)
			env := &buildEnv{runner: fake, fetch: fakeHTTP{"http://example.org/linux.tar.xz": src}}
			out := filepath.Join(dir, fmt.Sprint("out-", check))
			args := []string{"kernel", "--recipe", recipe, "--out", out, "--cache", filepath.Join(dir, "cache"), "--jobs", "2"}
			if check {
				args = append(args, "--check")
			}
			var stdout, stderr bytes.Buffer
			cmd := newBuildCmdEnv(env)
			cmd.SetArgs(args)
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("build kernel: %v\n%s", err, stderr.String())
			}
			var sandboxed int
			for _, c := range fake.Calls() {
				if isStep(&buildrun.Cmd{Args: c.Args}, "bzImage") {
					sandboxed++
				}
			}
			if want := map[bool]int{false: 1, true: 2}[check]; sandboxed != want {
				t.Errorf("%d sandboxed builds, want %d", sandboxed, want)
			}
			imgSum := sha256.Sum256(image)
			outDir := out
			if check {
				outDir = filepath.Join(out, "b")
				if !strings.Contains(stdout.String(), "kernel recipe test-kernel: reproducible") {
					t.Errorf("stdout lacks the check verdict:\n%s", stdout.String())
				}
			}
			if !strings.Contains(stdout.String(), hex.EncodeToString(imgSum[:])+"  "+filepath.Join(outDir, "bzImage")) {
				t.Errorf("stdout lacks the bzImage sha256:\n%s", stdout.String())
			}
			b, err := os.ReadFile(filepath.Join(outDir, "provenance.json"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := provenance.ParseStatement(b)
			if err != nil {
				t.Fatalf("provenance.json: %v", err)
			}
			if _, err := provenance.MatchSubject(st, map[string]string{"sha256": hex.EncodeToString(imgSum[:])}); err != nil {
				t.Errorf("provenance subject: %v", err)
			}
		})
	}
}

// TestBuildKernelCheckJSON: build kernel --check --output json prints the
// builds and whether they are the same bytes, whether they are or not; two
// builds that differ are exit 1, the negative answer.
func TestBuildKernelCheckJSON(t *testing.T) {
	dir, src, recipe := testKernelRecipe(t)
	image := bytes.Repeat([]byte("MZ"), 512)
	other := bytes.Repeat([]byte("ZM"), 512)
	for _, tc := range []struct {
		name         string
		images       [][]byte
		wantCode     int
		reproducible bool
		mismatches   []string
	}{
		{"same", [][]byte{image}, exitOK, true, nil},
		{"differ", [][]byte{image, other}, exitNegative, false, []string{"bzImage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &buildEnv{runner: kernelWorld(tc.images[0], tc.images[1:]...), fetch: fakeHTTP{"http://example.org/linux.tar.xz": src}}
			var stdout, stderr bytes.Buffer
			cmd := newBuildCmdEnv(env)
			cmd.SetArgs([]string{"kernel", "--recipe", recipe, "--out", filepath.Join(dir, "out-"+tc.name), "--cache", filepath.Join(dir, "cache"), "--check", "--output", "json"})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			err := cmd.Execute()
			if code := exitCode(err, io.Discard); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tc.wantCode, stderr.String())
			}
			checkOutputLanguage(t, stdout.Bytes())
			var v struct {
				Reproducible *bool
				Builds       []struct {
					Recipe string
					Files  []struct{ Name, SHA256 string }
				}
				Mismatches []struct{ Name string }
			}
			if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
				t.Fatalf("%v\n%s", err, stdout.String())
			}
			var names []string
			for _, m := range v.Mismatches {
				names = append(names, m.Name)
			}
			if v.Reproducible == nil || *v.Reproducible != tc.reproducible || len(v.Builds) != 2 || v.Builds[0].Recipe != "test-kernel" || !slices.Equal(names, tc.mismatches) {
				t.Errorf("JSON %+v, want reproducible %v, 2 builds of test-kernel, mismatches %v\n%s", v, tc.reproducible, tc.mismatches, stdout.String())
			}
		})
	}
}
