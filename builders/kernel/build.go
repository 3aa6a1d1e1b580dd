package kernel

import (
	"context"
	"path"

	"github.com/measure-cc/measure/builders/engine"
)

// BuildType is the SLSA buildType of a kernel build.
const BuildType = "https://github.com/measure-cc/measure/builders/kernel/v1"

// Builder builds kernel recipes on the build engine.
type Builder struct {
	// Engine runs the build.
	Engine *engine.Engine
	// Jobs is make -j; 0 is one per CPU. The output does not depend on it.
	Jobs int
}

// Result is what a build made.
type Result struct {
	*engine.Result
	Recipe *Recipe
	// Provenance holds the inputs of the SLSA provenance statement.
	Provenance *engine.ProvenanceInputs
}

// Job returns the engine job that builds r: the source as a read-only
// input, the config fragment staged, the steps unpack, configure and build.
func (r *Recipe) Job(jobs int) *engine.Job {
	j := &engine.Job{
		Name:      "kernel " + r.Name,
		Toolchain: r.Toolchain,
		Dir:       r.Build.Dir,
		Dirs:      []string{r.Build.Dir},
		Env:       r.Env(),
		Steps:     r.Steps(jobs),
		Inputs:    []engine.Input{{URL: r.Source.URL, SHA256: r.Source.SHA256, Path: r.sourcePath()}},
		Stage:     []engine.Stage{{Path: FragmentPath, Data: []byte(r.Fragment())}},
	}
	for _, o := range r.Outputs {
		j.Outputs = append(j.Outputs, engine.Output{From: path.Join(r.Build.Dir, o.From), Name: o.Name})
	}
	return j
}

// Build builds r once.
func (b *Builder) Build(ctx context.Context, r *Recipe, o engine.Options) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	er, err := b.Engine.Build(ctx, r.Job(b.Jobs), o)
	if err != nil {
		return nil, err
	}
	return b.result(r, er), nil
}

func (b *Builder) result(r *Recipe, er *engine.Result) *Result {
	res := &Result{Result: er, Recipe: r}
	in := er.Provenance(BuildType)
	in.ExternalParameters["recipe"] = r
	in.InternalParameters["makeArgs"] = r.MakeArgs(b.Jobs)
	if r.Source.Tarball != "" && len(in.ResolvedDependencies) > 0 {
		in.ResolvedDependencies[0].Annotations = map[string]any{"tarball": r.Source.Tarball}
	}
	if len(in.ResolvedDependencies) > 0 {
		in.ResolvedDependencies[0].Name = r.Source.FileName()
	}
	res.Provenance = in
	return res
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	A, B       *Result
	Mismatches []engine.Mismatch
}

// Check builds r twice under engine.CheckVariations and compares every
// output byte for byte; differing outputs are an error wrapping
// engine.ErrNotReproducible, returned with the result.
func (b *Builder) Check(ctx context.Context, r *Recipe, outDir string) (*CheckResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cr, err := b.Engine.Check(ctx, r.Job(b.Jobs), outDir)
	if cr == nil {
		return nil, err
	}
	return &CheckResult{A: b.result(r, cr.A), B: b.result(r, cr.B), Mismatches: cr.Mismatches}, err
}
