package provenance

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SLSAPredicateType is the predicate type URI of SLSA provenance v1.
const SLSAPredicateType = "https://slsa.dev/provenance/v1"

// Build is what a builder knows about one build, the input of
// NewSLSAStatement. It follows the SLSA provenance v1 model
// (https://slsa.dev/spec/v1.0/provenance).
type Build struct {
	// BuildType is a URI naming the build's template, which says how to read
	// the parameters.
	BuildType string
	// ExternalParameters are the inputs the user controls (required, at
	// least one); InternalParameters are the builder's own. Values must
	// marshal to JSON; numbers become float64.
	ExternalParameters, InternalParameters map[string]any
	// ResolvedDependencies are the sources, toolchains and other inputs as
	// fetched, with their digests.
	ResolvedDependencies []Artifact
	// Byproducts are outputs that are not subjects: logs, SBOMs.
	Byproducts []Artifact
	// BuilderID is a URI naming the trusted builder (required).
	BuilderID string
	// BuilderVersion maps builder components to their versions.
	BuilderVersion map[string]string
	// BuilderDependencies are the builder's own pinned components.
	BuilderDependencies []Artifact
	// InvocationID identifies this run, when the builder has one.
	InvocationID string
	// Subjects are the build outputs the statement is about.
	Subjects []Subject
	// StartedOn and FinishedOn are left out when nil, which keeps the
	// statement reproducible.
	StartedOn, FinishedOn *time.Time
}

// NewSLSAStatement returns an in-toto Statement v1 whose predicate is the
// SLSA provenance v1 of b. The result validates as SLSA Build L1 asks:
// build type, external parameters and builder id are set, and every
// resource descriptor is well formed.
func NewSLSAStatement(b Build) (*intoto.Statement, error) {
	p, err := b.provenance()
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("slsa provenance: %w", err)
	}
	sub, err := subjects(b.Subjects)
	if err != nil {
		return nil, err
	}
	ps, err := messageToStruct(p)
	if err != nil {
		return nil, fmt.Errorf("slsa provenance: %w", err)
	}
	st := &intoto.Statement{
		Type:          StatementType,
		Subject:       sub,
		PredicateType: SLSAPredicateType,
		Predicate:     ps,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	return st, nil
}

func (b Build) provenance() (*slsa.Provenance, error) {
	if b.BuildType == "" {
		return nil, fmt.Errorf("slsa provenance: build type is empty")
	}
	if b.BuilderID == "" {
		return nil, fmt.Errorf("slsa provenance: builder id is empty")
	}
	if len(b.ExternalParameters) == 0 {
		return nil, fmt.Errorf("slsa provenance: external parameters are empty, want at least one")
	}
	ext, err := toStruct(b.ExternalParameters)
	if err != nil {
		return nil, fmt.Errorf("slsa provenance: external parameters: %w", err)
	}
	def := &slsa.BuildDefinition{BuildType: b.BuildType, ExternalParameters: ext}
	if b.InternalParameters != nil {
		if def.InternalParameters, err = toStruct(b.InternalParameters); err != nil {
			return nil, fmt.Errorf("slsa provenance: internal parameters: %w", err)
		}
	}
	if def.ResolvedDependencies, err = descriptors("resolved dependency", b.ResolvedDependencies); err != nil {
		return nil, err
	}
	run := &slsa.RunDetails{Builder: &slsa.Builder{Id: b.BuilderID, Version: maps.Clone(b.BuilderVersion)}}
	if run.Builder.BuilderDependencies, err = descriptors("builder dependency", b.BuilderDependencies); err != nil {
		return nil, err
	}
	if run.Byproducts, err = descriptors("byproduct", b.Byproducts); err != nil {
		return nil, err
	}
	if b.InvocationID != "" || b.StartedOn != nil || b.FinishedOn != nil {
		md := &slsa.BuildMetadata{InvocationId: b.InvocationID}
		if b.StartedOn != nil {
			md.StartedOn = timestamppb.New(*b.StartedOn)
		}
		if b.FinishedOn != nil {
			md.FinishedOn = timestamppb.New(*b.FinishedOn)
		}
		if b.StartedOn != nil && b.FinishedOn != nil && b.FinishedOn.Before(*b.StartedOn) {
			return nil, fmt.Errorf("slsa provenance: finished on %s, before it started on %s", b.FinishedOn.Format(time.RFC3339), b.StartedOn.Format(time.RFC3339))
		}
		run.Metadata = md
	}
	return &slsa.Provenance{BuildDefinition: def, RunDetails: run}, nil
}

func descriptors(what string, as []Artifact) ([]*intoto.ResourceDescriptor, error) {
	var out []*intoto.ResourceDescriptor
	for i, a := range as {
		rd, err := a.descriptor()
		if err != nil {
			return nil, fmt.Errorf("slsa provenance: %s %d: %w", what, i, err)
		}
		out = append(out, rd)
	}
	return out, nil
}

// SLSAFromStatement decodes and validates the SLSA provenance v1 predicate of
// st. Unknown fields are errors.
func SLSAFromStatement(st *intoto.Statement) (*slsa.Provenance, error) {
	if st.GetPredicateType() != SLSAPredicateType {
		return nil, fmt.Errorf("predicate type %q, want %q", st.GetPredicateType(), SLSAPredicateType)
	}
	if st.GetPredicate() == nil {
		return nil, fmt.Errorf("slsa provenance: predicate is missing")
	}
	p := &slsa.Provenance{}
	if err := structToMessage(st.GetPredicate(), p); err != nil {
		return nil, fmt.Errorf("slsa provenance: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("slsa provenance: %w", err)
	}
	return p, nil
}

// EncodeSLSA returns the deterministic JSON of the in-toto statement whose
// predicate is the SLSA provenance v1 of b. The parameters and annotations
// may hold any values that marshal to JSON (structs, slices of strings):
// they are given the shape JSON gives them first.
func EncodeSLSA(b Build) ([]byte, error) {
	var err error
	if b.ExternalParameters, err = jsonShape(b.ExternalParameters); err != nil {
		return nil, fmt.Errorf("external parameters: %w", err)
	}
	if b.InternalParameters, err = jsonShape(b.InternalParameters); err != nil {
		return nil, fmt.Errorf("internal parameters: %w", err)
	}
	for _, as := range []*[]Artifact{&b.ResolvedDependencies, &b.Byproducts, &b.BuilderDependencies} {
		c := append([]Artifact(nil), (*as)...) // the caller's stay as they are
		for i := range c {
			if c[i].Annotations, err = jsonShape(c[i].Annotations); err != nil {
				return nil, fmt.Errorf("annotations of %q: %w", c[i].Name, err)
			}
		}
		*as = c
	}
	st, err := NewSLSAStatement(b)
	if err != nil {
		return nil, err
	}
	return Marshal(st)
}

// jsonShape gives m the shape JSON gives it: maps, slices, float64.
func jsonShape(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}
