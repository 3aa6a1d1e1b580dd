package firmware

import (
	"context"
	"fmt"
	"path"

	"github.com/measure-cc/measure/builders/engine"
)

// Builder builds firmware recipes on the build engine.
type Builder struct {
	// Engine runs the build.
	Engine *engine.Engine
	// Jobs is build -n; 0 leaves edk2's default (one per CPU). The output
	// does not depend on it.
	Jobs int
}

// Result is what a build made.
type Result struct {
	*engine.Result
	Recipe *Recipe
	// Provenance holds the inputs of the SLSA provenance statement.
	Provenance *engine.ProvenanceInputs
}

// Job returns the engine job that builds r: the sources as read-only
// inputs, the embedded patches staged, the steps unpack and build.
func (r *Recipe) Job(jobs int) *engine.Job {
	j := &engine.Job{
		Name:      "firmware " + r.Name,
		Toolchain: r.Toolchain,
		Dir:       r.Build.Dir,
		Dirs:      []string{r.Build.Dir},
		Env:       r.Env(),
		Steps:     r.Steps(jobs),
	}
	for i, s := range r.Sources {
		j.Inputs = append(j.Inputs, engine.Input{URL: s.URL, SHA256: s.SHA256, Path: r.sourcePath(i)})
	}
	for _, f := range r.Patches.Files {
		data, err := EmbeddedPatch(f)
		if err != nil {
			// Validate checked that every patch is embedded.
			panic(fmt.Sprintf("recipe %q: patch %q: %v", r.Name, f, err))
		}
		j.Stage = append(j.Stage, engine.Stage{Path: path.Join(patchDir, f), Data: data})
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
	return b.result(r, er)
}

func (b *Builder) result(r *Recipe, er *engine.Result) (*Result, error) {
	res := &Result{Result: er, Recipe: r}
	var err error
	res.Provenance, err = provenanceInputs(r, res)
	if err != nil {
		return nil, err
	}
	return res, nil
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
	out := &CheckResult{Mismatches: cr.Mismatches}
	var perr error
	if out.A, perr = b.result(r, cr.A); perr != nil {
		return nil, perr
	}
	if out.B, perr = b.result(r, cr.B); perr != nil {
		return nil, perr
	}
	return out, err
}
