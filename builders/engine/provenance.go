package engine

import (
	"fmt"
	"strings"

	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
	"github.com/measure-cc/measure/provenance"
)

// BuilderID is the SLSA builder.id of `measure build`.
const BuilderID = "https://github.com/measure-cc/measure/cmd/measure/build"

// Provenance returns the SLSA provenance every build shares: the build
// type, the sandbox and steps as internal parameters, the inputs and the
// toolchain as resolved dependencies, the outputs as subjects. The caller
// adds its recipe (external parameters) and what else it knows; the CLI
// adds the builder version when it encodes it (provenance.EncodeSLSA).
func (r *Result) Provenance(buildType string) *provenance.Build {
	j := r.Job
	steps := make([]map[string]any, len(j.Steps))
	for i, s := range j.Steps {
		steps[i] = map[string]any{"name": s.Name, "script": s.Script}
	}
	b := &provenance.Build{
		BuildType:          buildType,
		BuilderID:          BuilderID,
		ExternalParameters: map[string]any{},
		InternalParameters: map[string]any{
			"sandbox": SandboxDescription(j.Env),
			"steps":   steps,
		},
		StartedOn:  &r.Started,
		FinishedOn: &r.Finished,
	}
	for _, i := range j.Inputs {
		name := i.Path[strings.LastIndexByte(i.Path, '/')+1:]
		b.ResolvedDependencies = append(b.ResolvedDependencies, provenance.Artifact{
			Name: name, URI: i.URL, Digest: map[string]string{"sha256": i.SHA256},
		})
	}
	b.ResolvedDependencies = append(b.ResolvedDependencies, ToolchainDependencies(r.Toolchain)...)
	for _, f := range r.Files {
		b.Subjects = append(b.Subjects, provenance.Subject{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	return b
}

// SandboxDescription says, for provenance, what a step's sandbox was.
func SandboxDescription(env []string) map[string]any {
	s := &sandbox.Spec{Env: env}
	return map[string]any{
		"program":    "bubblewrap",
		"namespaces": []string{"user", "mount", "pid", "net", "uts", "ipc", "cgroup"},
		"network":    false,
		"user":       fmt.Sprintf("%d:%d", sandbox.BuildUID, sandbox.BuildGID),
		"hostname":   sandbox.Hostname,
		"umask":      sandbox.Umask,
		"rootfs":     "read-only",
		"env":        s.Environ(),
	}
}

// ToolchainDependencies describes a toolchain as SLSA resolved
// dependencies: the image by digest, then every package in it.
func ToolchainDependencies(tc *toolchain.Toolchain) []provenance.Artifact {
	out := []provenance.Artifact{{
		Name:   "toolchain",
		URI:    tc.Spec.Image,
		Digest: map[string]string{"sha256": strings.TrimPrefix(tc.Digest, "sha256:")},
		Annotations: map[string]any{
			"suite": tc.Spec.Suite, "mirror": tc.Spec.Mirror, "variant": tc.Spec.Variant,
		},
	}}
	for _, p := range tc.Packages {
		a := provenance.Artifact{
			Name: p.Name,
			URI:  fmt.Sprintf("pkg:deb/debian/%s@%s?arch=%s", p.Name, p.Version, p.Arch),
		}
		if p.SHA256 != "" {
			a.Digest = map[string]string{"sha256": p.SHA256}
		}
		out = append(out, a)
	}
	return out
}
