package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/measure-cc/measure/provenance"
)

// Firmware is a firmware image to push: its file name (no directories) and
// bytes.
type Firmware struct {
	Name string
	Data []byte
}

// Pushed is what Push stored.
type Pushed struct {
	// Ref is the firmware manifest by digest: repository@sha256:....
	Ref string
	// Digest is the firmware manifest's digest.
	Digest string
	// Annotations are the firmware manifest's annotations.
	Annotations map[string]string
	// Attestations are the referrers, in the order of the envelopes given.
	Attestations []Attestation
}

// Attestation is one DSSE envelope attached to a firmware manifest.
type Attestation struct {
	// Digest is the attestation manifest's digest.
	Digest string
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Envelope is the DSSE envelope, byte for byte.
	Envelope []byte
	// Verified is what provenance.Verify established; set by Pull only.
	Verified *provenance.Verified
}

// Push stores fw under ref (a tag; "repo" means "repo:latest") as a firmware
// artifact and attaches each envelope as a referrer. Each envelope must hold
// an in-toto statement with fw among its subjects; Push does not verify
// signatures (it holds no keys; Pull does). The same firmware and envelopes
// give the same manifest digests.
func Push(ctx context.Context, ref string, fw Firmware, envelopes [][]byte, o Options) (*Pushed, error) {
	tag, err := name.NewTag(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	if err := checkFileName(fw.Name); err != nil {
		return nil, err
	}
	ann, err := Annotations(fw.Data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", fw.Name, err)
	}
	fwDigests, err := provenance.Digests(bytes.NewReader(fw.Data))
	if err != nil {
		return nil, err
	}
	var atts []Attestation
	for i, env := range envelopes {
		pt, err := envelopePredicate(env, fwDigests)
		if err != nil {
			return nil, fmt.Errorf("envelope %d: %w", i+1, err)
		}
		atts = append(atts, Attestation{PredicateType: pt, Envelope: env})
	}

	opts := o.remoteOptions(ctx)
	repo := tag.Context()
	empty, err := writeBlob(repo, emptyJSON, types.OCIEmptyJSON, opts)
	if err != nil {
		return nil, err
	}
	layer, err := writeBlob(repo, fw.Data, FirmwareMediaType, opts)
	if err != nil {
		return nil, err
	}
	layer.Annotations = map[string]string{AnnotationTitle: fw.Name}
	subject, err := putManifest(tag, v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        empty,
		Layers:        []v1.Descriptor{layer},
		Annotations:   ann,
	}, opts)
	if err != nil {
		return nil, err
	}
	digestRef := repo.Digest(subject.Digest.String())
	for i := range atts {
		l, err := writeBlob(repo, atts[i].Envelope, EnvelopeMediaType, opts)
		if err != nil {
			return nil, err
		}
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			ArtifactType:  AttestationArtifactType,
			Config:        empty,
			Layers:        []v1.Descriptor{l},
			Subject:       &subject,
			Annotations:   map[string]string{AnnotationPredicateType: atts[i].PredicateType},
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		d := sha256Hash(raw)
		if err := remote.Put(repo.Digest(d.String()), rawManifest{raw, types.OCIManifestSchema1}, opts...); err != nil {
			return nil, fmt.Errorf("attaching envelope %d to %s: %w", i+1, digestRef, err)
		}
		atts[i].Digest = d.String()
	}
	return &Pushed{Ref: digestRef.String(), Digest: subject.Digest.String(), Annotations: ann, Attestations: atts}, nil
}

// envelopePredicate checks that env is a DSSE envelope holding an in-toto
// statement with a subject matching the firmware, and returns its predicate
// type.
func envelopePredicate(env []byte, firmware map[string]string) (string, error) {
	e, err := provenance.ParseEnvelope(env)
	if err != nil {
		return "", err
	}
	if e.PayloadType != provenance.PayloadType {
		return "", fmt.Errorf("%w: %q, want %q", provenance.ErrPayloadType, e.PayloadType, provenance.PayloadType)
	}
	st, err := provenance.ParseStatement(e.Payload)
	if err != nil {
		return "", fmt.Errorf("%w: %w", provenance.ErrInvalidStatement, err)
	}
	if _, err := provenance.MatchSubject(st, firmware); err != nil {
		return "", fmt.Errorf("the firmware is not a subject of its statement: %w", err)
	}
	return st.GetPredicateType(), nil
}

// checkFileName accepts a plain file name: no directories, not "." or "..".
func checkFileName(n string) error {
	if n == "" || n == "." || n == ".." || path.Base(n) != n || len(n) > 255 {
		return fmt.Errorf("firmware file name %q: want a name without directories", n)
	}
	for _, c := range n {
		if c == '\\' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("firmware file name %q: want a name without directories or control characters", n)
		}
	}
	return nil
}

// writeBlob uploads b (if the registry lacks it) and returns its descriptor.
func writeBlob(repo name.Repository, b []byte, mt types.MediaType, opts []remote.Option) (v1.Descriptor, error) {
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: sha256Hash(b)}
	if err := remote.WriteLayer(repo, static.NewLayer(b, mt), opts...); err != nil {
		return v1.Descriptor{}, fmt.Errorf("uploading %s blob to %s: %w", mt, repo, err)
	}
	return desc, nil
}

// putManifest puts m under ref and returns its descriptor.
func putManifest(ref name.Reference, m v1.Manifest, opts []remote.Option) (v1.Descriptor, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := remote.Put(ref, rawManifest{raw, m.MediaType}, opts...); err != nil {
		return v1.Descriptor{}, fmt.Errorf("putting manifest %s: %w", ref, err)
	}
	return v1.Descriptor{MediaType: m.MediaType, Size: int64(len(raw)), Digest: sha256Hash(raw)}, nil
}
