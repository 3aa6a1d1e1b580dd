package kernel

import (
	"path"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/provenance"
)

// BuildType is the SLSA buildType of a kernel build.
const BuildType = "https://github.com/measure-cc/measure/builders/kernel/v1"

// Builder builds kernel recipes on the build engine.
type Builder = engine.Builder[*Recipe]

// NewBuilder returns the kernel builder over e with jobs parallel jobs
// (make -j; 0 is one per CPU).
func NewBuilder(e *engine.Engine, jobs int) *Builder {
	return &Builder{Engine: e, Jobs: jobs, Provenance: provenanceInputs}
}

// Result is what a build made.
type Result = engine.Built[*Recipe]

// CheckResult is the outcome of Check.
type CheckResult = engine.CheckedBuilds[*Recipe]

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

func provenanceInputs(r *Recipe, res *engine.Result, jobs int) (*provenance.Build, error) {
	in := res.Provenance(BuildType)
	in.ExternalParameters["recipe"] = r
	in.InternalParameters["makeArgs"] = r.MakeArgs(jobs)
	if len(in.ResolvedDependencies) > 0 {
		in.ResolvedDependencies[0].Name = r.Source.FileName()
		if r.Source.Tarball != "" {
			in.ResolvedDependencies[0].Annotations = map[string]any{"tarball": r.Source.Tarball}
		}
	}
	return in, nil
}
