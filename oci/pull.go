package oci

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
)

// PullOptions says how to reach the registry and whom to trust.
type PullOptions struct {
	Options
	// Keys and Threshold are what every attached envelope must verify
	// against, as in provenance.VerifyOptions.
	Keys      []*provenance.Verifier
	Threshold int
}

// Pulled is a firmware image that passed every check of Pull.
type Pulled struct {
	// Ref is the reference as given; Digest the firmware manifest's digest.
	Ref, Digest string
	// Name is the firmware's file name (the layer's title annotation).
	Name string
	// Data is the firmware image.
	Data []byte
	// Annotations are the firmware manifest's annotations, equal to
	// Annotations(Data) under AnnotationPrefix.
	Annotations map[string]string
	// Attestations are the attached envelopes, each verified, ordered by
	// manifest digest.
	Attestations []Attestation
	// Ignored lists referrers of other artifact types (signatures of other
	// tools, SBOMs) by digest and artifact type; Pull does not read them.
	Ignored []Referrer
}

// Referrer is one entry of a subject's referrers list.
type Referrer struct {
	Digest, ArtifactType string
	Annotations          map[string]string
}

// Pull fetches the firmware manifest ref (repository@sha256:..., by digest
// only: ErrNotDigest otherwise) and its firmware, and returns them only if:
// the manifest and every blob match their digests and sizes, the manifest
// is a firmware artifact (ErrMismatch otherwise), its annotations equal
// those recomputed from the firmware (ErrMismatch), at least one envelope is
// attached (ErrUnsigned), and every attached envelope verifies with
// o.Keys and names the firmware as a subject (provenance's errors). A
// referrer of another artifact type is listed in Ignored, not read.
func Pull(ctx context.Context, ref string, o PullOptions) (*Pulled, error) {
	d, err := name.NewDigest(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrNotDigest, ref, err)
	}
	if len(o.Keys) == 0 {
		return nil, fmt.Errorf("no verification key given")
	}
	opts := o.remoteOptions(ctx)
	m, err := fetchManifest(d, opts)
	if err != nil {
		return nil, err
	}
	if err := checkShape(m, ArtifactType, FirmwareMediaType); err != nil {
		return nil, fmt.Errorf("firmware manifest %s: %w", d, err)
	}
	fn := m.Layers[0].Annotations[AnnotationTitle]
	if err := checkFileName(fn); err != nil {
		return nil, fmt.Errorf("%w: firmware manifest %s: %w", ErrMismatch, d, err)
	}
	data, err := fetchBlob(d.Context(), m.Layers[0], ovmf.MaxImageSize, opts)
	if err != nil {
		return nil, fmt.Errorf("firmware %q in %s: %w", fn, d, err)
	}
	want, err := Annotations(data)
	if err != nil {
		return nil, fmt.Errorf("%w: firmware %q in %s: %w", ErrMismatch, fn, d, err)
	}
	if err := checkAnnotations(m.Annotations, want); err != nil {
		return nil, fmt.Errorf("firmware manifest %s: %w", d, err)
	}
	digests, err := provenance.Digests(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out := &Pulled{Ref: ref, Digest: d.DigestStr(), Name: fn, Data: data, Annotations: m.Annotations}

	refs, err := Referrers(ctx, ref, o.Options)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		rd := d.Context().Digest(r.Digest)
		am, err := fetchManifest(rd, opts)
		if err != nil {
			return nil, fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		if am.ArtifactType != AttestationArtifactType {
			out.Ignored = append(out.Ignored, Referrer{Digest: r.Digest, ArtifactType: am.ArtifactType, Annotations: am.Annotations})
			continue
		}
		if am.Subject == nil || am.Subject.Digest.String() != d.DigestStr() {
			return nil, fmt.Errorf("%w: attestation %s is listed as a referrer of %s but names subject %v", ErrMismatch, r.Digest, d.DigestStr(), subjectOf(am))
		}
		if err := checkShape(am, AttestationArtifactType, EnvelopeMediaType); err != nil {
			return nil, fmt.Errorf("attestation %s: %w", r.Digest, err)
		}
		env, err := fetchBlob(d.Context(), am.Layers[0], MaxEnvelopeSize, opts)
		if err != nil {
			return nil, fmt.Errorf("attestation %s: %w", r.Digest, err)
		}
		v, err := provenance.Verify(ctx, env, provenance.VerifyOptions{
			Keys: o.Keys, Threshold: o.Threshold,
			Artifacts: []provenance.Subject{{Name: fn, Digest: digests}},
		})
		if err != nil {
			return nil, fmt.Errorf("attestation %s: %w", r.Digest, err)
		}
		out.Attestations = append(out.Attestations, Attestation{
			Digest: r.Digest, PredicateType: v.Statement.GetPredicateType(), Envelope: env, Verified: v,
		})
	}
	if len(out.Attestations) == 0 {
		return nil, fmt.Errorf("%w: %s has no referrer of type %s (%d of other types)", ErrUnsigned, d, AttestationArtifactType, len(out.Ignored))
	}
	return out, nil
}

func subjectOf(m *v1.Manifest) string {
	if m.Subject == nil {
		return "none"
	}
	return m.Subject.Digest.String()
}

// Referrers lists the manifests whose subject is ref (by digest), through the
// referrers API or, where the registry lacks it, the referrers tag schema,
// ordered by digest. The list is what the registry says: unverified.
func Referrers(ctx context.Context, ref string, o Options) ([]Referrer, error) {
	d, err := name.NewDigest(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrNotDigest, ref, err)
	}
	idx, err := remote.Referrers(d, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", d, classify(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
	}
	if len(im.Manifests) > MaxReferrers {
		return nil, fmt.Errorf("%s has %d referrers, more than %d", d, len(im.Manifests), MaxReferrers)
	}
	var out []Referrer
	seen := map[string]bool{}
	for _, m := range im.Manifests {
		if seen[m.Digest.String()] {
			continue
		}
		seen[m.Digest.String()] = true
		out = append(out, Referrer{Digest: m.Digest.String(), ArtifactType: m.ArtifactType, Annotations: m.Annotations})
	}
	slices.SortFunc(out, func(a, b Referrer) int {
		if a.Digest < b.Digest {
			return -1
		}
		if a.Digest > b.Digest {
			return 1
		}
		return 0
	})
	return out, nil
}

// fetchManifest fetches the OCI manifest d names; go-containerregistry
// checks that its bytes match the digest.
func fetchManifest(d name.Digest, opts []remote.Option) (*v1.Manifest, error) {
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d, classify(err))
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		return nil, fmt.Errorf("%w: manifest %s has media type %q, want %q", ErrMismatch, d, desc.MediaType, types.OCIManifestSchema1)
	}
	if len(desc.Manifest) > maxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s has %d bytes, want at most %d", ErrMismatch, d, len(desc.Manifest), maxManifestSize)
	}
	if h := sha256Hash(desc.Manifest); d.DigestStr() != h.String() {
		return nil, fmt.Errorf("%w: manifest %s has digest %s", ErrMismatch, d, h)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrMismatch, d, err)
	}
	return m, nil
}

// checkShape checks a manifest of ours: its artifact type and one layer of
// the given media type.
func checkShape(m *v1.Manifest, artifactType string, layer types.MediaType) error {
	if m.ArtifactType != artifactType {
		return fmt.Errorf("%w: artifact type %q, want %q", ErrMismatch, m.ArtifactType, artifactType)
	}
	if len(m.Layers) != 1 {
		return fmt.Errorf("%w: %d layers, want 1", ErrMismatch, len(m.Layers))
	}
	if m.Layers[0].MediaType != layer {
		return fmt.Errorf("%w: layer media type %q, want %q", ErrMismatch, m.Layers[0].MediaType, layer)
	}
	return nil
}
