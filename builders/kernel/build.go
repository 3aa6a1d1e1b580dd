package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// BuildType is the SLSA buildType of a kernel build.
const BuildType = "https://github.com/measure-cc/measure/builders/kernel/v1"

// Builder builds kernel recipes. Its fields are the outside world: a test
// replaces Runner, Fetch and Toolchains, and nothing runs. It shares the
// firmware builder's source cache, toolchain cache and sandbox.
type Builder struct {
	// CacheDir holds downloaded sources (sources/SHA256) and build work
	// directories (work/).
	CacheDir string
	// Runner runs the sandboxed build.
	Runner run.Runner
	// Fetch downloads the source.
	Fetch firmware.Fetcher
	// Toolchains makes the build root.
	Toolchains firmware.Toolchains
	// Jobs is make -j; 0 is one per CPU. The output does not depend on it.
	Jobs int
	// Progress, when not nil, receives one line per step and a heartbeat
	// during the build.
	Progress io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// KeepWork keeps the work directory after the build.
	KeepWork bool
}

// Result is what a build made.
type Result struct {
	Recipe    *Recipe
	Toolchain *toolchain.Toolchain
	Files     []firmware.File
	// Log is the path of the build log.
	Log string
	// Provenance holds the inputs of the SLSA provenance statement.
	Provenance *firmware.ProvenanceInputs
	// Started and Finished time the whole build; BuildTime times the
	// sandboxed step alone.
	Started, Finished time.Time
	BuildTime         time.Duration
}

// File returns the output called name.
func (r *Result) File(name string) (firmware.File, bool) {
	for _, f := range r.Files {
		if f.Name == name {
			return f, true
		}
	}
	return firmware.File{}, false
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

// Source downloads r's source into the cache shared with the firmware
// builder (or finds it there), checks its sha256 and returns its path.
func (b *Builder) Source(r *Recipe) (string, error) {
	fb := &firmware.Builder{CacheDir: b.CacheDir, Fetch: b.Fetch, Progress: b.Progress}
	paths, err := fb.Sources(&firmware.Recipe{Sources: []firmware.Source{{URL: r.Source.URL, SHA256: r.Source.SHA256}}})
	if err != nil {
		return "", fmt.Errorf("kernel recipe %q: %w", r.Name, err)
	}
	return paths[0], nil
}

// Build builds r once.
func (b *Builder) Build(ctx context.Context, r *Recipe, o firmware.Options) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if o.OutDir == "" {
		return nil, errors.New("kernel build: no output directory")
	}
	res := &Result{Recipe: r, Started: b.now()}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	res.Log = filepath.Join(o.OutDir, "build.log")
	logf, err := os.Create(res.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := firmware.NewLogWriter(logf)

	src, err := b.Source(r)
	if err != nil {
		return nil, err
	}
	tc, err := b.Toolchains.Ensure(ctx, r.Toolchain)
	if err != nil {
		return nil, err
	}
	res.Toolchain = tc

	work := o.WorkName
	if work == "" {
		work = fmt.Sprintf("%s-%d", r.Name, res.Started.UnixNano())
	}
	spec := &sandbox.Spec{
		Root:  tc.Root,
		Work:  filepath.Join(b.CacheDir, "work", work),
		Dir:   r.Build.Dir,
		Env:   r.Env(),
		Shell: "/bin/bash",
		Vary:  o.Vary,
	}
	if err := os.RemoveAll(spec.Work); err != nil {
		return nil, err
	}
	if !b.KeepWork {
		defer os.RemoveAll(spec.Work)
	}
	if err := stage(r, spec, src); err != nil {
		return nil, err
	}
	cmd, err := spec.Command(r.Script(b.Jobs))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "# toolchain %s\n# %s\n", tc.Digest, cmd.String())
	cmd.Stdout, cmd.Stderr = log, log
	b.progressf("building kernel %s in %s", r.Name, spec.Work)
	t0 := b.now()
	stop := firmware.Heartbeat(b.Progress, b.now, t0, log)
	err = b.Runner.Run(ctx, cmd)
	stop()
	res.BuildTime = b.now().Sub(t0)
	if err != nil {
		return nil, fmt.Errorf("kernel recipe %q: %w (log %s: %s)", r.Name, err, res.Log, log.LastLine())
	}
	for _, out := range r.Outputs {
		f, err := firmware.CopyOut(spec.HostPath(filepath.Join(r.Build.Dir, out.From)), filepath.Join(o.OutDir, out.Name))
		if err != nil {
			return nil, fmt.Errorf("kernel recipe %q output %q: %w", r.Name, out.From, err)
		}
		f.Name = out.Name
		res.Files = append(res.Files, f)
	}
	res.Finished = b.now()
	b.progressf("built kernel %s in %s", r.Name, res.BuildTime.Round(time.Second))
	res.Provenance = provenanceInputs(r, tc, res, b.Jobs)
	return res, nil
}

// stage puts the source and the config fragment in the sandbox's upper
// directory, and makes the build directory, owned by the sandbox user.
func stage(r *Recipe, spec *sandbox.Spec, src string) error {
	for _, d := range []string{r.Build.Dir, srcDir} {
		p := spec.HostPath(d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		for ; p != spec.UpperDir() && strings.HasPrefix(p, spec.UpperDir()); p = filepath.Dir(p) {
			if err := os.Lchown(p, sandbox.UID, sandbox.GID); err != nil {
				return err
			}
		}
	}
	dst := spec.HostPath(r.sourcePath())
	if err := os.Link(src, dst); err != nil {
		if _, err := firmware.CopyOut(src, dst); err != nil {
			return err
		}
	}
	return os.WriteFile(spec.HostPath(FragmentPath), []byte(r.Fragment()), 0o644)
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	A, B       *Result
	Mismatches []firmware.Mismatch
}

// Check builds r twice, into outDir/a and outDir/b, under
// firmware.CheckVariations, and compares every output byte for byte.
// Differing outputs are an error wrapping firmware.ErrNotReproducible; the
// result is returned with it.
func (b *Builder) Check(ctx context.Context, r *Recipe, outDir string) (*CheckResult, error) {
	var res CheckResult
	for i, name := range []string{"a", "b"} {
		b.progressf("check: kernel build %s of 2", name)
		out, err := b.Build(ctx, r, firmware.Options{
			OutDir:   filepath.Join(outDir, name),
			Vary:     firmware.CheckVariations[i],
			WorkName: fmt.Sprintf("check-kernel-%s-%s%s", r.Name, name, strings.Repeat("-x", i*3)),
		})
		if err != nil {
			return nil, fmt.Errorf("check build %s: %w", name, err)
		}
		if i == 0 {
			res.A = out
		} else {
			res.B = out
		}
	}
	res.Mismatches = firmware.Compare(res.A.Files, res.B.Files)
	if len(res.Mismatches) > 0 {
		var names []string
		for _, m := range res.Mismatches {
			names = append(names, fmt.Sprintf("%s (%s)", m.Name, m.Reason))
		}
		return &res, fmt.Errorf("kernel recipe %q: %w: %s", r.Name, firmware.ErrNotReproducible, strings.Join(names, ", "))
	}
	return &res, nil
}

func provenanceInputs(r *Recipe, tc *toolchain.Toolchain, res *Result, jobs int) *firmware.ProvenanceInputs {
	in := &firmware.ProvenanceInputs{
		BuildType: BuildType,
		BuilderID: firmware.BuilderID,
		ExternalParameters: map[string]any{
			"recipe": r,
		},
		InternalParameters: map[string]any{
			"sandbox": map[string]any{
				"namespaces": []string{"mount", "pid", "net", "uts", "ipc"},
				"network":    false,
				"user":       fmt.Sprintf("%d:%d", sandbox.UID, sandbox.GID),
				"hostname":   sandbox.Hostname,
				"umask":      sandbox.Umask,
				"env":        r.Env(),
			},
			"makeArgs": r.MakeArgs(jobs),
		},
		StartedOn:  &res.Started,
		FinishedOn: &res.Finished,
	}
	dep := firmware.Artifact{
		Name: r.Source.FileName(), URI: r.Source.URL, Digest: map[string]string{"sha256": r.Source.SHA256},
	}
	if r.Source.Tarball != "" {
		dep.Annotations = map[string]any{"tarball": r.Source.Tarball}
	}
	in.ResolvedDependencies = append(in.ResolvedDependencies, dep)
	in.ResolvedDependencies = append(in.ResolvedDependencies, firmware.ToolchainDependencies(tc)...)
	for _, f := range res.Files {
		in.Subjects = append(in.Subjects, firmware.Artifact{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	return in
}
