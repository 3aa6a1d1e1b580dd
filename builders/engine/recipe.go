package engine

import (
	"context"

	"github.com/measure-cc/measure/provenance"
)

// Recipe is what a builder (firmware, kernel) knows how to turn into a Job.
type Recipe interface {
	// Validate checks the recipe, including its Job.
	Validate() error
	// Job returns the build of the recipe with jobs parallel jobs (0: one
	// per CPU).
	Job(jobs int) *Job
}

// Built is a build of recipe R: the engine's result, the recipe, and the
// inputs of its SLSA provenance statement.
type Built[R Recipe] struct {
	*Result
	Recipe R
	// Provenance holds the inputs of the SLSA provenance statement.
	Provenance *provenance.Build
}

// CheckedBuilds is the outcome of Builder.Check.
type CheckedBuilds[R Recipe] struct {
	A, B       *Built[R]
	Mismatches []Mismatch
}

// Builder builds recipes of type R on an Engine; the firmware and kernel
// builders are Builders with their own Provenance.
type Builder[R Recipe] struct {
	// Engine runs the builds.
	Engine *Engine
	// Jobs is the parallelism handed to Recipe.Job; the output does not
	// depend on it.
	Jobs int
	// Provenance returns the provenance inputs of a build of r.
	Provenance func(r R, res *Result, jobs int) (*provenance.Build, error)
}

// Build builds r once.
func (b *Builder[R]) Build(ctx context.Context, r R, o Options) (*Built[R], error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	res, err := b.Engine.Build(ctx, r.Job(b.Jobs), o)
	if err != nil {
		return nil, err
	}
	return b.built(r, res)
}

func (b *Builder[R]) built(r R, res *Result) (*Built[R], error) {
	out := &Built[R]{Result: res, Recipe: r}
	if b.Provenance != nil {
		var err error
		if out.Provenance, err = b.Provenance(r, res, b.Jobs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Check builds r twice under CheckVariations and compares every output
// byte for byte; differing outputs are an error wrapping
// ErrNotReproducible, returned with the result.
func (b *Builder[R]) Check(ctx context.Context, r R, outDir string) (*CheckedBuilds[R], error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cr, err := b.Engine.Check(ctx, r.Job(b.Jobs), outDir)
	if cr == nil {
		return nil, err
	}
	out := &CheckedBuilds[R]{Mismatches: cr.Mismatches}
	var perr error
	if out.A, perr = b.built(r, cr.A); perr != nil {
		return nil, perr
	}
	if out.B, perr = b.built(r, cr.B); perr != nil {
		return nil, perr
	}
	return out, err
}
