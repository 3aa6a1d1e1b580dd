package firmware

import (
	"fmt"
	"path"

	"github.com/measure-cc/measure/builders/engine"
)

// Builder builds firmware recipes on the build engine.
type Builder = engine.Builder[*Recipe]

// NewBuilder returns the firmware builder over e with jobs parallel jobs
// (build -n; 0 leaves edk2's default, one per CPU).
func NewBuilder(e *engine.Engine, jobs int) *Builder {
	return &Builder{Engine: e, Jobs: jobs, Provenance: provenanceInputs}
}

// Result is what a build made.
type Result = engine.Built[*Recipe]

// CheckResult is the outcome of Check.
type CheckResult = engine.CheckedBuilds[*Recipe]

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
