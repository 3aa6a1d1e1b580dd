package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// BuilderID is the SLSA builder.id of `measure build`.
const BuilderID = "https://github.com/measure-cc/measure/cmd/measure/build"

// Artifact is an SLSA ResourceDescriptor: a dependency, subject or byproduct.
type Artifact struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// ProvenanceInputs is everything an SLSA provenance v1 statement of a build
// says, as plain values, for an encoder (the provenance package) to turn
// into an in-toto statement.
type ProvenanceInputs struct {
	BuildType            string            `json:"buildType"`
	BuilderID            string            `json:"builderId"`
	BuilderVersion       map[string]string `json:"builderVersion,omitempty"`
	ExternalParameters   map[string]any    `json:"externalParameters"`
	InternalParameters   map[string]any    `json:"internalParameters"`
	ResolvedDependencies []Artifact        `json:"resolvedDependencies"`
	Byproducts           []Artifact        `json:"byproducts"`
	Subjects             []Artifact        `json:"subjects"`
	StartedOn            *time.Time        `json:"startedOn,omitempty"`
	FinishedOn           *time.Time        `json:"finishedOn,omitempty"`
}

// ProvenanceEncoder turns provenance inputs into a statement's bytes.
type ProvenanceEncoder interface {
	Encode(in *ProvenanceInputs) ([]byte, error)
}

// JSONInputs is the ProvenanceEncoder that writes the inputs themselves as
// indented JSON, for when no in-toto encoder is wired in.
type JSONInputs struct{}

// Encode implements ProvenanceEncoder.
func (JSONInputs) Encode(in *ProvenanceInputs) ([]byte, error) {
	return json.MarshalIndent(in, "", "  ")
}

// Provenance returns the provenance inputs every build shares: the build
// type, the sandbox and steps as internal parameters, the inputs and the
// toolchain as resolved dependencies, the outputs as subjects. The caller
// adds its recipe (external parameters) and what else it knows.
func (r *Result) Provenance(buildType string) *ProvenanceInputs {
	j := r.Job
	steps := make([]map[string]any, len(j.Steps))
	for i, s := range j.Steps {
		steps[i] = map[string]any{"name": s.Name, "script": s.Script}
	}
	in := &ProvenanceInputs{
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
		in.ResolvedDependencies = append(in.ResolvedDependencies, Artifact{
			Name: name, URI: i.URL, Digest: map[string]string{"sha256": i.SHA256},
		})
	}
	in.ResolvedDependencies = append(in.ResolvedDependencies, ToolchainDependencies(r.Toolchain)...)
	for _, f := range r.Files {
		in.Subjects = append(in.Subjects, Artifact{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	return in
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
func ToolchainDependencies(tc *toolchain.Toolchain) []Artifact {
	out := []Artifact{{
		Name:   "toolchain",
		URI:    tc.Spec.Image,
		Digest: map[string]string{"sha256": strings.TrimPrefix(tc.Digest, "sha256:")},
		Annotations: map[string]any{
			"suite": tc.Spec.Suite, "mirror": tc.Spec.Mirror, "variant": tc.Spec.Variant,
		},
	}}
	for _, p := range tc.Packages {
		a := Artifact{
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
