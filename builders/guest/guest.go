package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/initramfs"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/provenance"
)

// Build types of the SLSA statements this package writes itself.
const (
	InitramfsBuildType = "https://github.com/measure-cc/measure/builders/initramfs/v1"
	CmdlineBuildType   = "https://github.com/measure-cc/measure/builders/guest/cmdline/v1"
)

// Names of the files a build writes in its output directory, besides the
// firmware and kernel outputs the recipe names.
const (
	InitramfsName       = "initramfs.cpio.gz"
	CmdlineName         = "cmdline"
	ReferenceValuesName = "reference-values.json"
	TDXReferenceName    = "reference-values.tdx.json"
	ProvenanceDir       = "provenance"
	BuildDir            = "build"
)

// FirmwareBuilder builds firmware recipes; *firmware.Builder is one.
type FirmwareBuilder interface {
	Build(ctx context.Context, r *firmware.Recipe, o engine.Options) (*firmware.Result, error)
}

// KernelBuilder builds kernel recipes; *kernel.Builder is one.
type KernelBuilder interface {
	Build(ctx context.Context, r *kernel.Recipe, o engine.Options) (*kernel.Result, error)
}

// Builder builds guests. Its builders and encoder are the outside world; a
// test replaces them with fakes.
type Builder struct {
	Firmware FirmwareBuilder
	Kernel   KernelBuilder
	// Initramfs builds the initramfs; its WorkDir is set per build.
	Initramfs *initramfs.Builder
	// Tool names the program in the reference values.
	Tool provenance.Tool
	// Progress, when not nil, receives one line per stage.
	Progress io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Options are the per-build settings.
type Options struct {
	// OutDir receives the artifacts, statements and build/ (logs and the
	// builders' own outputs).
	OutDir string
	// Vary changes the conditions outside the sandboxes (see Check).
	Vary sandbox.Variation
	// Tag names this build's work directories; empty is "guest".
	Tag string
}

// Artifact is a file the build wrote.
type Artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Stage is one step of a build and how long it took.
type Stage struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Result is what a build made.
type Result struct {
	Recipe *Recipe `json:"-"`
	// Artifacts are the firmware, kernel, initramfs and command line.
	Artifacts []Artifact `json:"artifacts"`
	// Statements are the reference-values statements and the SLSA
	// provenance statements, one per artifact.
	Statements []Artifact `json:"statements"`
	// SNP and TDX are the reference values; TDX is nil without TDVF
	// metadata in the firmware.
	SNP *provenance.ReferenceValues `json:"snp"`
	TDX *provenance.ReferenceValues `json:"tdx,omitempty"`
	// Stages time the build.
	Stages []Stage `json:"stages"`

	Firmware  *firmware.Result  `json:"-"`
	Kernel    *kernel.Result    `json:"-"`
	Initramfs *initramfs.Result `json:"-"`
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) progressf(format string, a ...any) {
	if b.Progress != nil {
		fmt.Fprintf(b.Progress, format+"\n", a...)
	}
}

// stage runs f and records how long it took.
func (b *Builder) stage(res *Result, name string, f func() error) error {
	b.progressf("guest %s: %s", res.Recipe.Name, name)
	t0 := b.now()
	err := f()
	d := b.now().Sub(t0)
	res.Stages = append(res.Stages, Stage{Name: name, Duration: d})
	if err != nil {
		return fmt.Errorf("guest recipe %q, %s: %w", res.Recipe.Name, name, err)
	}
	b.progressf("guest %s: %s done in %s", res.Recipe.Name, name, d.Round(time.Second))
	return nil
}

// Build builds r's firmware, kernel and initramfs, writes the command
// line, computes the reference values from the files written, and writes
// the statements.
func (b *Builder) Build(ctx context.Context, r *Recipe, o Options) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if o.OutDir == "" {
		return nil, errors.New("guest build: no output directory")
	}
	fr, err := firmware.LookupRecipe(r.Firmware.Recipe)
	if err != nil {
		return nil, err
	}
	kr, err := kernel.LookupRecipe(r.Kernel.Recipe)
	if err != nil {
		return nil, err
	}
	tag := o.Tag
	if tag == "" {
		tag = "guest"
	}
	res := &Result{Recipe: r}
	build := filepath.Join(o.OutDir, BuildDir)
	var fw, kern, initrd, cmdline Artifact

	err = b.stage(res, "firmware", func() error {
		fres, err := b.Firmware.Build(ctx, fr, engine.Options{
			OutDir: filepath.Join(build, "firmware"), Vary: o.Vary, WorkName: tag + "-firmware-" + fr.Name,
		})
		if err != nil {
			return err
		}
		res.Firmware = fres
		fw, err = pick(fres.Files, r.Firmware.Output, o.OutDir)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = b.stage(res, "kernel", func() error {
		kres, err := b.Kernel.Build(ctx, kr, engine.Options{
			OutDir: filepath.Join(build, "kernel"), Vary: o.Vary, WorkName: tag + "-kernel-" + kr.Name,
		})
		if err != nil {
			return err
		}
		res.Kernel = kres
		kern, err = pick(kres.Files, r.Kernel.Output, o.OutDir)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = b.stage(res, "initramfs", func() error {
		ib := *b.Initramfs
		ib.WorkDir = filepath.Join(build, "initramfs")
		ires, err := ib.Build(ctx, &r.Initramfs, filepath.Join(o.OutDir, InitramfsName))
		if err != nil {
			return err
		}
		res.Initramfs = ires
		initrd = Artifact{Name: InitramfsName, Path: ires.Archive.Path, SHA256: ires.Archive.SHA256, Size: ires.Archive.Size}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = b.stage(res, "cmdline", func() error {
		var err error
		cmdline, err = writeArtifact(filepath.Join(o.OutDir, CmdlineName), []byte(r.Cmdline))
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Artifacts = []Artifact{fw, kern, initrd, cmdline}

	err = b.stage(res, "reference values", func() error { return b.referenceValues(r, res, o.OutDir) })
	if err != nil {
		return nil, err
	}
	err = b.stage(res, "provenance", func() error { return b.provenance(r, res, o.OutDir) })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// referenceValues reads the artifacts back and writes the statements.
func (b *Builder) referenceValues(r *Recipe, res *Result, out string) error {
	blobs := make([]Blob, len(res.Artifacts))
	for i, a := range res.Artifacts {
		data, err := os.ReadFile(a.Path)
		if err != nil {
			return err
		}
		if got := sha256Hex(data); got != a.SHA256 {
			return fmt.Errorf("artifact %q changed after it was built: sha256 %s, want %s", a.Path, got, a.SHA256)
		}
		blobs[i] = Blob{Name: a.Name, Data: data}
	}
	launches, err := r.Launches()
	if err != nil {
		return err
	}
	boot := Boot{Firmware: blobs[0], Kernel: blobs[1], Initrd: blobs[2], Cmdline: string(blobs[3].Data)}
	if res.SNP, err = SNPReferenceValues(boot, launches, b.Tool); err != nil {
		return err
	}
	order, err := r.PageAddOrder()
	if err != nil {
		return err
	}
	if res.TDX, err = TDXReferenceValues(blobs[0], order, b.Tool); err != nil {
		return err
	}
	// MRTD covers the firmware alone: the TDX statement names it alone.
	for _, s := range []struct {
		name     string
		rv       *provenance.ReferenceValues
		subjects []Blob
	}{{ReferenceValuesName, res.SNP, blobs}, {TDXReferenceName, res.TDX, blobs[:1]}} {
		if s.rv == nil {
			continue
		}
		st, err := Statement(s.rv, s.subjects)
		if err != nil {
			return err
		}
		a, err := writeArtifact(filepath.Join(out, s.name), st)
		if err != nil {
			return err
		}
		res.Statements = append(res.Statements, a)
	}
	return nil
}

// provenance writes one SLSA statement per artifact under provenance/.
func (b *Builder) provenance(r *Recipe, res *Result, out string) error {
	dir := filepath.Join(out, ProvenanceDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ins := []*provenance.Build{
		narrow(res.Firmware.Provenance, res.Artifacts[0]),
		narrow(res.Kernel.Provenance, res.Artifacts[1]),
		initramfsProvenance(r, res.Initramfs, res.Artifacts[2]),
		cmdlineProvenance(r, res.Artifacts[3]),
	}
	for i, in := range ins {
		in.BuilderVersion = map[string]string{"measure": b.Tool.Version}
		st, err := provenance.EncodeSLSA(*in)
		if err != nil {
			return fmt.Errorf("provenance of %q: %w", res.Artifacts[i].Name, err)
		}
		a, err := writeArtifact(filepath.Join(dir, res.Artifacts[i].Name+".intoto.json"), append(st, '\n'))
		if err != nil {
			return err
		}
		res.Statements = append(res.Statements, a)
	}
	return nil
}

// narrow returns a copy of in whose only subject is a.
func narrow(in *provenance.Build, a Artifact) *provenance.Build {
	c := *in
	c.Subjects = []provenance.Subject{{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256}}}
	return &c
}

func initramfsProvenance(r *Recipe, ir *initramfs.Result, a Artifact) *provenance.Build {
	in := &provenance.Build{
		BuildType:          InitramfsBuildType,
		BuilderID:          firmware.BuilderID,
		ExternalParameters: map[string]any{"initramfs": r.Initramfs},
		InternalParameters: map[string]any{
			"goBuild":     append([]string{"go", "build"}, initramfs.GoBuildFlags...),
			"goEnv":       initramfs.GoEnv,
			"cpio":        "newc via github.com/u-root/u-root/pkg/cpio, records sorted by path, cpio.MakeReproducible, inodes in order",
			"compression": "gzip level 9, no name, no mtime",
			"baseEntries": append(append([]string(nil), initramfs.BaseDirs...), initramfs.ConsolePath),
		},
		Subjects: []provenance.Subject{{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256}}},
	}
	settings := map[string]any{}
	for k, v := range ir.GoSettings {
		settings[k] = v
	}
	in.ResolvedDependencies = append(in.ResolvedDependencies, provenance.Artifact{
		Name: "go", URI: "https://go.dev/dl/#" + ir.GoVersion, Annotations: map[string]any{"version": ir.GoVersion, "settings": settings},
	})
	if srcs, err := sourceDigests(r.Initramfs.Init); err == nil {
		in.ResolvedDependencies = append(in.ResolvedDependencies, srcs...)
	}
	for _, f := range ir.Inputs {
		in.ResolvedDependencies = append(in.ResolvedDependencies, provenance.Artifact{
			Name: "files/" + f.Name, Digest: map[string]string{"sha256": f.SHA256},
		})
	}
	in.Byproducts = []provenance.Artifact{{Name: initramfs.InitPath, Digest: map[string]string{"sha256": ir.Init.SHA256},
		Annotations: map[string]any{"description": "the init program as built, /init in the archive"}}}
	return in
}

// sourceDigests returns the digests of the init program's Go files.
func sourceDigests(dir string) ([]provenance.Artifact, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []provenance.Artifact
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, provenance.Artifact{
			Name:   "init/" + filepath.Base(n),
			Digest: map[string]string{"sha256": sha256Hex(data)},
		})
	}
	return out, nil
}

func cmdlineProvenance(r *Recipe, a Artifact) *provenance.Build {
	return &provenance.Build{
		BuildType:          CmdlineBuildType,
		BuilderID:          firmware.BuilderID,
		ExternalParameters: map[string]any{"recipe": r.Name, "cmdline": r.Cmdline},
		InternalParameters: map[string]any{"format": "the command line's bytes, no trailing newline (QEMU -append)"},
		Subjects:           []provenance.Subject{{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256}}},
	}
}

// pick copies the build output called name into dir.
func pick(files []engine.File, name, dir string) (Artifact, error) {
	for _, f := range files {
		if f.Name != name {
			continue
		}
		data, err := os.ReadFile(f.Path)
		if err != nil {
			return Artifact{}, err
		}
		return writeArtifact(filepath.Join(dir, name), data)
	}
	var have []string
	for _, f := range files {
		have = append(have, f.Name)
	}
	return Artifact{}, fmt.Errorf("build has no output %q (have %s)", name, strings.Join(have, ", "))
}

func writeArtifact(p string, data []byte) (Artifact, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return Artifact{}, err
	}
	if err := atomicfile.WriteBytes(p, 0o644, data); err != nil {
		return Artifact{}, err
	}
	return Artifact{Name: filepath.Base(p), Path: p, SHA256: sha256Hex(data), Size: int64(len(data))}, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	A, B *Result
	// Mismatches name the artifacts and reference-values statements that
	// differ.
	Mismatches []engine.Mismatch
}

// Check builds r twice, into outDir/a and outDir/b, under
// engine.CheckVariations, and compares every artifact and
// reference-values statement byte for byte. (The SLSA statements record
// start and finish times, so they differ by design.) Differing files are an
// error wrapping engine.ErrNotReproducible; the result is returned with
// it.
func (b *Builder) Check(ctx context.Context, r *Recipe, outDir string) (*CheckResult, error) {
	var res CheckResult
	var err error
	res.A, res.B, err = engine.Twice(func(name string, i int) (*Result, error) {
		b.progressf("check: guest build %s of 2", name)
		return b.Build(ctx, r, Options{
			OutDir: filepath.Join(outDir, name),
			Vary:   engine.CheckVariations[i],
			Tag:    "check-guest-" + engine.WorkSuffix(name, i),
		})
	})
	if err != nil {
		return nil, err
	}
	files := func(r *Result) []engine.File {
		var fs []engine.File
		for _, a := range r.Artifacts {
			fs = append(fs, engine.File{Name: a.Name, Path: a.Path, SHA256: a.SHA256, Size: a.Size})
		}
		for _, a := range r.Statements {
			if a.Name == ReferenceValuesName || a.Name == TDXReferenceName {
				fs = append(fs, engine.File{Name: a.Name, Path: a.Path, SHA256: a.SHA256, Size: a.Size})
			}
		}
		return fs
	}
	res.Mismatches = engine.Compare(files(res.A), files(res.B))
	if len(res.Mismatches) > 0 {
		var names []string
		for _, m := range res.Mismatches {
			names = append(names, fmt.Sprintf("%s (%s)", m.Name, m.Reason))
		}
		return &res, fmt.Errorf("guest recipe %q: %w: %s", r.Name, engine.ErrNotReproducible, strings.Join(names, ", "))
	}
	return &res, nil
}
