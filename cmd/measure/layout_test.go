//go:build !measure_front

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/guest"
	"github.com/measure-cc/measure/builders/guest/guesttest"
	"github.com/measure-cc/measure/builders/initramfs"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/builders/toolchain"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
)

// helperEnv makes this test binary run the measure CLI (TestHelperMeasure).
const helperEnv = "MEASURE_TEST_HELPER_CLI"

// TestHelperMeasure is the `measure` that in-toto inspections run in these
// tests: measureOnPath puts a script called measure on PATH that runs this
// test binary here, with the arguments after "--".
func TestHelperMeasure(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("runs as the measure an in-toto inspection calls")
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	os.Exit(exitCode(run(args, os.Stdout, os.Stderr), os.Stderr))
}

// measureOnPath puts on PATH an executable measure that is this CLI, for
// the inspections in-toto's verifier runs.
func measureOnPath(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' -test.run='^TestHelperMeasure$' -- \"$@\"\n", strings.ReplaceAll(exe, "'", `'\''`))
	if err := os.WriteFile(filepath.Join(dir, "measure"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(helperEnv, "1")
}

// pinnedFirmware plays a firmware build whose provenance lists what a
// real one does: the recipe's sources at their pinned sha256, its patches,
// the toolchain image and a Debian package.
type pinnedFirmware struct{ guesttest.Firmware }

func (f *pinnedFirmware) Build(ctx context.Context, r *firmware.Recipe, o engine.Options) (*firmware.Result, error) {
	res, err := f.Firmware.Build(ctx, r, o)
	if err != nil {
		return nil, err
	}
	var deps []provenance.Artifact
	for _, s := range r.Sources {
		deps = append(deps, provenance.Artifact{Name: s.FileName(), URI: s.URL, Digest: map[string]string{"sha256": s.SHA256}})
	}
	for _, p := range r.Patches.Files {
		b, err := firmware.EmbeddedPatch(p)
		if err != nil {
			return nil, err
		}
		deps = append(deps, provenance.Artifact{Name: "patches/" + p, Digest: map[string]string{"sha256": layoutSHA256(b)}})
	}
	res.Provenance.ResolvedDependencies = append(deps, fakeToolchainDeps(r.Toolchain)...)
	for _, f := range res.Files {
		res.Provenance.Subjects = append(res.Provenance.Subjects, provenance.Subject{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	return res, nil
}

// pinnedKernel is pinnedFirmware's kernel.
type pinnedKernel struct{ guesttest.Kernel }

func (k *pinnedKernel) Build(ctx context.Context, r *kernel.Recipe, o engine.Options) (*kernel.Result, error) {
	res, err := k.Kernel.Build(ctx, r, o)
	if err != nil {
		return nil, err
	}
	res.Provenance.ResolvedDependencies = append([]provenance.Artifact{{Name: r.Source.FileName(), URI: r.Source.URL, Digest: map[string]string{"sha256": r.Source.SHA256}}},
		fakeToolchainDeps(r.Toolchain)...)
	for _, f := range res.Files {
		res.Provenance.Subjects = append(res.Provenance.Subjects, provenance.Subject{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	return res, nil
}

func fakeToolchainDeps(spec toolchain.Spec) []provenance.Artifact {
	return engine.ToolchainDependencies(&toolchain.Toolchain{Spec: spec, Digest: "sha256:" + strings.Repeat("0a", 32),
		Packages: []toolchain.Package{{Name: "gcc-14", Version: "14.2.0-19", Arch: "amd64", SHA256: strings.Repeat("0b", 32)}}})
}

func layoutSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// guestChain is a guest built on fakes, with keys and links.
type guestChain struct {
	dir, out              string
	builder, owner, other string // key prefixes: PREFIX.key, PREFIX.pub
	recipe                *guest.Recipe
	res                   *guest.Result
}

// buildGuestChain builds the minimal guest recipe from fakes (a synthetic
// AmdSevX64 image, a stand-in kernel and init) into out and signs its links
// with the builder's key, as `measure build guest --link-key` does after
// the build.
func buildGuestChain(t *testing.T) *guestChain {
	t.Helper()
	c := &guestChain{dir: t.TempDir()}
	c.out = filepath.Join(c.dir, "out")
	c.builder = keygen(t, c.dir, "builder", "")
	c.owner = keygen(t, c.dir, "owner", "ecdsa-p256")
	c.other = keygen(t, c.dir, "other", "")
	r, err := guest.LookupRecipe(guest.DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	r.Initramfs.Init = t.TempDir()
	c.recipe = r
	b := &guest.Builder{
		Firmware:  &pinnedFirmware{},
		Kernel:    &pinnedKernel{},
		Initramfs: &initramfs.Builder{Runner: guesttest.Go(), ReadBuildInfo: guesttest.BuildInfo(r.Initramfs.GoVersion)},
		Tool:      provenance.Tool{Name: "measure", Version: version, URI: toolURI},
	}
	if c.res, err = b.Build(context.Background(), r, guest.Options{OutDir: c.out}); err != nil {
		t.Fatal(err)
	}
	c.writeLinks(t, c.builder)
	return c
}

func (c *guestChain) writeLinks(t *testing.T, key string) {
	t.Helper()
	lo := &linkOptions{key: key + ".key"}
	if err := lo.load(os.Stderr); err != nil {
		t.Fatal(err)
	}
	if err := lo.writeGuest(c.recipe, c.res); err != nil {
		t.Fatal(err)
	}
}

// layout runs measure layout for the guest recipe with args after the
// keys, at the clock now, and writes it to out/NAME.
func (c *guestChain) layout(t *testing.T, name string, now time.Time, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newLayoutCmdAt(func() time.Time { return now })
	cmd.SetArgs(append([]string{"--recipe", c.recipe.Name, "--functionary", c.builder + ".pub", "--owner-key", c.owner + ".key"}, args...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("measure layout %v: %v\n%s", args, err, stderr.String())
	}
	p := filepath.Join(c.out, name)
	if err := os.WriteFile(p, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func layoutRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLayoutGuestVerifies is the acceptance test of layouts and links: a
// guest built on fakes, its links signed as `measure build guest
// --link-key` signs them, the layout `measure layout` writes for its
// recipe, verified by in-toto-golang's InTotoVerify (through
// provenance.VerifyInToto, which loads the owner key as in-toto-golang
// does) in the build's output directory, running the inspection `measure
// layout inspect`. Then what must fail does.
func TestLayoutGuestVerifies(t *testing.T) {
	c := buildGuestChain(t)
	id, err := provenance.InTotoKeyID(mustVerifier(t, c.builder+".pub").Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{stepFirmware, stepKernel, stepInitramfs, stepRefValues} {
		md, err := provenance.LoadInTotoMetadata(filepath.Join(c.out, step+"."+id[:8]+".link"))
		if err != nil {
			t.Fatalf("link of %s: %v", step, err)
		}
		if md.Type != "link" || md.Link.Name != step || !slices.Equal(md.KeyIDs, []string{id}) || !slices.Equal(md.Link.Command, buildCommand("guest", "minimal")) {
			t.Errorf("link of %s = %+v", step, md)
		}
	}
	// The firmware link's materials are the recipe's pinned sources and
	// patches, the toolchain and its packages; its product the firmware.
	md, _ := provenance.LoadInTotoMetadata(filepath.Join(c.out, stepFirmware+"."+id[:8]+".link"))
	fr, _ := firmware.LookupRecipe(c.recipe.Firmware.Recipe)
	for _, s := range fr.Sources {
		if md.Link.Materials[s.FileName()] != s.SHA256 {
			t.Errorf("build-ovmf materials lack %s at its pinned sha256: %v", s.FileName(), md.Link.Materials)
		}
	}
	if md.Link.Materials["toolchain"] != strings.Repeat("0a", 32) || md.Link.Materials["packages/gcc-14"] != strings.Repeat("0b", 32) || len(md.Link.Products) != 1 || md.Link.Products["OVMF.fd"] != c.res.Artifacts[0].SHA256 {
		t.Errorf("build-ovmf link = %+v", md.Link)
	}
	md, _ = provenance.LoadInTotoMetadata(filepath.Join(c.out, stepRefValues+"."+id[:8]+".link"))
	if len(md.Link.Materials) != 4 || md.Link.Products[guest.ReferenceValuesName] != c.res.Statements[0].SHA256 {
		t.Errorf("compute-reference-values link = %+v", md.Link)
	}

	now := time.Now()
	layout := c.layout(t, "minimal.layout", now, "--expires", "24h")
	owner := [][]byte{layoutRead(t, c.owner+".pub")}
	measureOnPath(t)
	t.Chdir(c.out)
	if err := provenance.VerifyInToto(layout, owner, "."); err != nil {
		t.Fatalf("VerifyInToto: %v", err)
	}
	// The inspection ran measure layout inspect, which agreed.
	inspection, err := provenance.LoadInTotoMetadata(inspectRefValues + ".link")
	if err != nil {
		t.Fatal(err)
	}
	if inspection.Link.Command[1] != "layout" || inspection.Link.Materials["OVMF.fd"] != c.res.Artifacts[0].SHA256 {
		t.Errorf("inspection link = %+v", inspection.Link)
	}

	mustFail := func(t *testing.T, layout, want string) {
		t.Helper()
		err := provenance.VerifyInToto(layout, owner, ".")
		if !errors.Is(err, provenance.ErrInTotoVerification) || !strings.Contains(err.Error(), want) {
			t.Errorf("VerifyInToto = %v, want ErrInTotoVerification and %q", err, want)
		}
	}
	// flip changes a byte of a file and returns the function that puts it
	// back.
	flip := func(t *testing.T, name string, at int) func() {
		b := layoutRead(t, name)
		orig := slices.Clone(b)
		b[at] ^= 1
		os.WriteFile(name, b, 0o644)
		return func() { os.WriteFile(name, orig, 0o644) }
	}
	// A changed firmware measures to other values: the inspection says no
	// before in-toto gets to its rules.
	t.Run("tampered firmware", func(t *testing.T) {
		defer flip(t, "OVMF.fd", 0x100)()
		mustFail(t, layout, "inspection 'recompute-reference-values' returned a non-zero value")
	})
	t.Run("tampered reference values", func(t *testing.T) {
		defer flip(t, guest.ReferenceValuesName, 10)()
		mustFail(t, layout, "inspection 'recompute-reference-values' returned a non-zero value")
	})
	// Reference values that say the same in other bytes satisfy the
	// inspection, but not the rule that they are the bytes the build
	// step made.
	t.Run("reformatted reference values", func(t *testing.T) {
		orig := layoutRead(t, guest.ReferenceValuesName)
		os.WriteFile(guest.ReferenceValuesName, append(slices.Clone(orig), '\n'), 0o644)
		defer os.WriteFile(guest.ReferenceValuesName, orig, 0o644)
		mustFail(t, layout, "materials [reference-values.json] disallowed")
	})
	// A file no step made is refused, though the inspection agrees.
	t.Run("stray file", func(t *testing.T) {
		os.WriteFile("stray.bin", nil, 0o644)
		defer os.Remove("stray.bin")
		mustFail(t, layout, "materials [stray.bin] disallowed")
	})
	t.Run("links signed by another key", func(t *testing.T) {
		hide := filepath.Join(t.TempDir(), "links")
		os.Mkdir(hide, 0o755)
		links, _ := filepath.Glob("*." + id[:8] + ".link")
		for _, l := range links {
			os.Rename(l, filepath.Join(hide, l))
		}
		c.writeLinks(t, c.other)
		defer func() {
			others, _ := filepath.Glob("*.link")
			for _, l := range others {
				if !strings.HasPrefix(l, "recompute-") {
					os.Remove(l)
				}
			}
			for _, l := range links {
				os.Rename(filepath.Join(hide, l), l)
			}
		}()
		mustFail(t, layout, "'0' out of '1' available link(s) have a valid signature")
	})
	t.Run("expired layout", func(t *testing.T) {
		expired := c.layout(t, "expired.layout", now.Add(-48*time.Hour), "--expires", "24h")
		defer os.Remove(expired)
		mustFail(t, expired, "layout has expired")
	})
	t.Run("threshold of two", func(t *testing.T) {
		two := c.layout(t, "two.layout", now, "--functionary", c.other+".pub", "--threshold", "2")
		defer os.Remove(two)
		mustFail(t, two, "requires '2' link metadata file(s)")
	})
	t.Run("another owner", func(t *testing.T) {
		err := provenance.VerifyInToto(layout, [][]byte{layoutRead(t, c.other+".pub")}, ".")
		if !errors.Is(err, provenance.ErrInTotoVerification) || !strings.Contains(err.Error(), "no signature found for key") {
			t.Errorf("VerifyInToto with another owner key = %v", err)
		}
	})
	// After all that, the untouched build verifies again.
	if err := provenance.VerifyInToto(layout, owner, "."); err != nil {
		t.Errorf("VerifyInToto after the failures: %v", err)
	}
}

func mustVerifier(t *testing.T, pub string) *provenance.Verifier {
	t.Helper()
	v, err := provenance.ParseVerifier(layoutRead(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLayoutInspect runs the guest inspection by hand: it agrees with what
// the build wrote, and says no (exit 1) to other configurations or a TDX
// statement for a firmware without TDVF metadata.
func TestLayoutInspect(t *testing.T) {
	c := buildGuestChain(t)
	run := inspectCommand(c.recipe)[1:]
	t.Chdir(c.out)
	stdout, stderr, code := runCLI(run...)
	if code != exitOK || !strings.Contains(stdout, "reference values agree: reference-values.json (9 SEV-SNP values)") {
		t.Fatalf("measure %v = exit %d, %q, %q", run, code, stdout, stderr)
	}
	tests := []struct {
		name     string
		args     []string
		setup    func(t *testing.T)
		wantCode int
		wantErr  string
	}{
		{"fewer vcpus", withArg(run, "--vcpus=1,2"), nil, exitNegative, "number of values: signed 9, recomputed 6"},
		{"another command line", withArg(run, "--append=quiet"), nil, exitNegative, "subjects"},
		{"another guest feature", withArg(run, "--guest-features=0x5"), nil, exitNegative, `value 1: signed {"configuration":{"vmmType":"qemu","vcpus":1,"vcpuType":"EPYC-v4"`},
		{"TDX statement without TDVF", run, func(t *testing.T) {
			os.WriteFile(guest.TDXReferenceName, layoutRead(t, guest.ReferenceValuesName), 0o644)
			t.Cleanup(func() { os.Remove(guest.TDXReferenceName) })
		}, exitNegative, "the firmware has no TDVF metadata"},
		{"no statement", append(slices.Clone(run), "--reference-values=none.json"), nil, exitUnreadable, "none.json"},
		{"no vcpus", []string{"layout", "inspect"}, nil, exitUsage, "--vcpus is required"},
		{"bad vmm", withArg(run, "--vmm-types=kvm"), nil, exitUsage, `"kvm"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			_, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) || strings.Count(stderr, "measure: ") != 1 {
				t.Errorf("exit %d, %q; want %d and one line with %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// withArg returns args with the --flag=value arg in place of the one
// setting the same flag.
func withArg(args []string, arg string) []string {
	flag, _, _ := strings.Cut(arg, "=")
	out := slices.Clone(args)
	for i, a := range out {
		if strings.HasPrefix(a, flag+"=") {
			out[i] = arg
			return out
		}
	}
	return append(out, arg)
}

// trusteeProvenance is the payload of the RVPS message of type "in-toto"
// that Trustee's in-toto extractor (rvps/src/extractors/in_toto/mod.rs,
// Trustee v0.20.0, the last release that has it) reads: version "0.9",
// line_normalization, and files, relative path to base64 content.
type trusteeProvenance struct {
	Version           string            `json:"version"`
	LineNormalization bool              `json:"line_normalization"`
	Files             map[string]string `json:"files"`
}

// trusteeExtract does what that extractor and its Go shim
// (rvps/cgo/intoto.go) do with a provenance: write the files into a
// temporary directory, take the file ending in .layout as the layout (a
// DSSE envelope of payload type application/vnd.in-toto+json whose layout
// has an RFC 3339 expires) and every .pub as a key the layout must be
// signed by, change into the directory and run in-toto-golang's
// InTotoVerify with no link directory there.
func trusteeExtract(t *testing.T, payload []byte) error {
	t.Helper()
	var p trusteeProvenance
	if err := json.Unmarshal(payload, &p); err != nil {
		return err
	}
	if p.Version != "0.9" {
		return fmt.Errorf("Version unmatched! Need 0.9, given %s.", p.Version)
	}
	dir := t.TempDir()
	var layout string
	var keys [][]byte
	for rel, b64 := range p.Files {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return err
		}
		file := filepath.Join(dir, path.Clean("/"+rel))
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(file, ".layout"):
			layout = file
		case strings.HasSuffix(file, ".pub"):
			keys = append(keys, b)
		}
	}
	if layout == "" {
		return errors.New("Layout file not found.")
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(layoutRead(t, layout), &env); err != nil {
		return err
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		return fmt.Errorf("Unsupported payload type %q, only support `application/vnd.in-toto+json` now", env.PayloadType)
	}
	lb, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return err
	}
	var l struct{ Expires string }
	if err := json.Unmarshal(lb, &l); err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339, l.Expires); err != nil {
		return fmt.Errorf("failed to get expired time: %w", err)
	}
	if p.LineNormalization {
		return errors.New("line_normalization true: provenance.VerifyInToto verifies without it, as measure's links are made")
	}
	t.Chdir(dir)
	return provenance.VerifyInToto(layout, keys, "")
}

// TestLayoutTrusteeInToto forms the input of Trustee's RVPS in-toto
// extractor from a guest build's links, a DSSE layout, the owner's public
// key and the artifacts the inspection reads, and checks it as the
// extractor would. A Metablock layout is refused by the extractor.
func TestLayoutTrusteeInToto(t *testing.T) {
	c := buildGuestChain(t)
	measureOnPath(t)
	dsse := c.layout(t, "minimal.layout", time.Now(), "--envelope", "dsse")
	metablock := filepath.Join(c.dir, "metablock.layout")
	os.Rename(c.layout(t, "metablock.layout", time.Now()), metablock)
	form := func(layout string) []byte {
		files := map[string]string{
			"minimal.layout": base64.StdEncoding.EncodeToString(layoutRead(t, layout)),
			"owner.pub":      base64.StdEncoding.EncodeToString(layoutRead(t, c.owner+".pub")),
		}
		links, _ := filepath.Glob(filepath.Join(c.out, "*.link"))
		for _, l := range links {
			files[filepath.Base(l)] = base64.StdEncoding.EncodeToString(layoutRead(t, l))
		}
		for _, a := range append(slices.Clone(c.res.Artifacts), c.res.Statements[0]) {
			files[a.Name] = base64.StdEncoding.EncodeToString(layoutRead(t, a.Path))
		}
		b, err := json.Marshal(trusteeProvenance{Version: "0.9", Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if len(c.res.Statements) == 0 || c.res.Statements[0].Name != guest.ReferenceValuesName {
		t.Fatalf("statements %+v, want reference-values.json first", c.res.Statements)
	}
	if err := trusteeExtract(t, form(dsse)); err != nil {
		t.Errorf("Trustee in-toto extractor on a DSSE layout: %v", err)
	}
	if err := trusteeExtract(t, form(metablock)); err == nil || !strings.Contains(err.Error(), "Unsupported payload type") {
		t.Errorf("Trustee in-toto extractor on a Metablock layout: %v, want it refused", err)
	}
}

// TestBuildOVMFLinkAndLayout runs `measure build ovmf --link-key` on fakes,
// then `measure layout` for the same recipe file, and verifies the build
// directory with in-toto-golang: the inspection parses the firmware.
func TestBuildOVMFLinkAndLayout(t *testing.T) {
	dir := enginetest.Passable(t, t.TempDir())
	src := []byte("edk2 tarball")
	recipe := filepath.Join(dir, "amdsev.yaml")
	os.WriteFile(recipe, []byte(`name: test-amdsev
description: test
sources: [{url: "http://example.org/edk2.tar.xz", sha256: "`+layoutSHA256(src)+`", strip: 1}]
sourceDateEpoch: 1762625177
toolchain: {suite: trixie, mirror: http://deb.debian.org/debian, variant: buildd, packages: [nasm], pins: {nasm: 2.16.03-1}}
build: {dir: /build/edk2, platform: OvmfPkg/AmdSev/AmdSevX64.dsc, arch: [X64], toolChain: GCC5, target: RELEASE}
outputs: [{from: Build/AmdSev/RELEASE_GCC5/FV/OVMF.fd, name: OVMF.fd}]
`), 0o644)
	builder := keygen(t, dir, "builder", "ecdsa-p384")
	owner := keygen(t, dir, "owner", "")
	fw := ovmftest.AmdSev().MustBuild()
	env := &buildEnv{runner: fakeWorld(fw), fetch: fakeHTTP{"http://example.org/edk2.tar.xz": src}}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	cmd := newBuildCmdEnv(env)
	cmd.SetArgs([]string{"ovmf", "--recipe", recipe, "--out", out, "--cache", filepath.Join(dir, "cache"), "--link-key", builder + ".key", "--quiet"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("build ovmf: %v\n%s", err, stderr.String())
	}
	id, _ := provenance.InTotoKeyID(mustVerifier(t, builder+".pub").Public())
	md, err := provenance.LoadInTotoMetadata(filepath.Join(out, stepFirmware+"."+id[:8]+".link"))
	if err != nil {
		t.Fatal(err)
	}
	// The fake toolchain's packages have no .deb sums: no digest, no
	// material.
	wantMaterials := []string{"edk2.tar.xz", "toolchain"}
	if got := slices.Sorted(maps.Keys(md.Link.Materials)); !slices.Equal(got, wantMaterials) || md.Link.Materials["edk2.tar.xz"] != layoutSHA256(src) || md.Link.Products["OVMF.fd"] != layoutSHA256(fw) {
		t.Errorf("build-ovmf link = %+v, want materials %v", md.Link, wantMaterials)
	}
	layout := filepath.Join(dir, "test-amdsev.layout")
	if _, stderr, code := runCLI("layout", "--recipe", recipe, "--functionary", builder+".pub", "--owner-key", owner+".key", "--output-file", layout); code != 0 {
		t.Fatalf("measure layout: exit %d: %s", code, stderr)
	}
	measureOnPath(t)
	t.Chdir(out)
	ownerPub := [][]byte{layoutRead(t, owner+".pub")}
	if err := provenance.VerifyInToto(layout, ownerPub, "."); err != nil {
		t.Fatalf("VerifyInToto: %v", err)
	}
	b := layoutRead(t, "OVMF.fd")
	b[len(b)/2] ^= 1
	os.WriteFile("OVMF.fd", b, 0o644)
	if err := provenance.VerifyInToto(layout, ownerPub, "."); err == nil || !strings.Contains(err.Error(), "materials [OVMF.fd] disallowed") {
		t.Errorf("VerifyInToto of a changed firmware = %v, want it refused", err)
	}
}

func TestLayoutErrors(t *testing.T) {
	dir := t.TempDir()
	k := keygen(t, dir, "k", "")
	base := []string{"layout", "--recipe", "minimal", "--functionary", k + ".pub", "--owner-key", k + ".key"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no recipe", []string{"layout", "--functionary", k + ".pub", "--owner-key", k + ".key"}, exitUsage, "--recipe is required"},
		{"no functionary", []string{"layout", "--recipe", "minimal", "--owner-key", k + ".key"}, exitUsage, "--functionary is required"},
		{"no owner", []string{"layout", "--recipe", "minimal", "--functionary", k + ".pub"}, exitUsage, "--owner-key is required"},
		{"threshold", append(slices.Clone(base), "--threshold", "2"), exitUsage, "--threshold 2 with 1 --functionary keys"},
		{"expires", append(slices.Clone(base), "--expires", "-1h"), exitUsage, "--expires -1h0m0s: want a positive duration"},
		{"envelope", append(slices.Clone(base), "--envelope", "jws"), exitUsage, `--envelope "jws" is unknown`},
		{"unknown recipe", []string{"layout", "--recipe", "nope", "--functionary", k + ".pub", "--owner-key", k + ".key"}, exitUsage, `recipe "nope": no embedded guest or firmware recipe`},
		{"kernel recipe", []string{"layout", "--recipe", "cvm-minimal", "--functionary", k + ".pub", "--owner-key", k + ".key"}, exitUsage, `recipe "cvm-minimal"`},
		{"private functionary", []string{"layout", "--recipe", "minimal", "--functionary", k + ".key", "--owner-key", k + ".key"}, exitError, "is a private key"},
		{"functionary twice", append(slices.Clone(base), "--functionary", k+".pub"), exitError, "given twice"},
		{"recipe file of another kind", []string{"layout", "--recipe", writeIn(t, dir, "k.yaml", []byte("name: x\n")), "--functionary", k + ".pub", "--owner-key", k + ".key"}, exitError, "neither a guest recipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || stdout != "" || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("measure %v = exit %d, stdout %d bytes, %q; want %d and %q", tc.args, code, len(stdout), stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
	// A firmware recipe's layout: one step and the firmware inspection.
	stdout, stderr, code := runCLI("layout", "--recipe", "inteltdx", "--functionary", k+".pub", "--owner-key", k+".key", "--envelope", "dsse")
	if code != 0 {
		t.Fatalf("layout --recipe inteltdx: exit %d: %s", code, stderr)
	}
	p := writeIn(t, dir, "tdx.layout", []byte(stdout))
	md, err := provenance.LoadInTotoMetadata(p)
	if err != nil || md.Type != "layout" || !md.DSSE || !slices.Equal(md.Steps, []string{stepFirmware}) || !slices.Equal(md.Inspections, []string{inspectFirmware}) {
		t.Errorf("layout of inteltdx = %+v, %v", md, err)
	}
	if d := time.Until(md.Expires); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("layout expires in %s, want a year", d)
	}
}
