package oci_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/oci/ocitest"
	"github.com/measure-cc/measure/provenance"
)

// TestDistribution pushes, lists, pulls and tampers against a real
// registry: Debian's docker-registry (CNCF distribution 2.8), which has no
// referrers API, so this exercises the referrers tag schema end to end. It
// is skipped where docker-registry is not installed (.ci/run installs it).
func TestDistribution(t *testing.T) {
	reg := ocitest.StartDistribution(t)
	t.Logf("registry: %s on %s", reg.Version, reg.Host)
	fw := fixture(t, "trixie-OVMF.fd")
	s, v := keyPair(t)
	mallory, _ := keyPair(t)
	refs, slsa := refsEnvelope(t, fw, s), slsaEnvelope(t, fw, s)
	ctx := context.Background()
	keys := oci.PullOptions{Keys: []*provenance.Verifier{v}}

	p, err := oci.Push(ctx, reg.Host+"/firmware/ovmf:trixie", oci.Firmware{Name: "OVMF.fd", Data: fw}, [][]byte{refs, slsa}, oci.Options{})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}

	// distribution 2.8 has no referrers API: go-containerregistry kept the
	// list under the fallback tag.
	tags, err := remote.List(mustRepo(t, reg.Host+"/firmware/ovmf"))
	if err != nil {
		t.Fatal(err)
	}
	fallback := strings.Replace(p.Digest, ":", "-", 1)
	if !slices.Contains(tags, fallback) {
		t.Errorf("tags = %v, want the referrers tag %s (the registry would need the referrers API otherwise)", tags, fallback)
	}
	listed, err := oci.Referrers(ctx, p.Ref, oci.Options{})
	if err != nil {
		t.Fatalf("Referrers: %v", err)
	}
	if len(listed) != 2 {
		t.Fatalf("Referrers = %+v, want the 2 attestations", listed)
	}
	for _, r := range listed {
		if r.ArtifactType != oci.AttestationArtifactType {
			t.Errorf("referrer %s: artifact type %q, want %q", r.Digest, r.ArtifactType, oci.AttestationArtifactType)
		}
	}

	got, err := oci.Pull(ctx, p.Ref, keys)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if !bytes.Equal(got.Data, fw) || len(got.Attestations) != 2 {
		t.Fatalf("Pull: %d bytes, %d attestations; want the firmware and 2", len(got.Data), len(got.Attestations))
	}

	// Blobs replaced in the registry's storage, same size and not.
	for _, tc := range []struct {
		name string
		blob []byte
		with func([]byte) []byte
	}{
		{"firmware, one byte changed", fw, func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c }},
		{"firmware, truncated", fw, func(b []byte) []byte { return b[:len(b)-4096] }},
		{"envelope, another key's", refs, func([]byte) []byte { return refsEnvelope(t, fw, mallory) }},
		{"envelope, one byte changed", slsa, func(b []byte) []byte { c := bytes.Clone(b); c[10] ^= 1; return c }},
	} {
		t.Run("replaced "+tc.name, func(t *testing.T) {
			path := reg.BlobPath(descriptor(t, tc.blob, "").Digest.String())
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("blob in registry storage: %v", err)
			}
			if err := os.WriteFile(path, tc.with(orig), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			_, err = oci.Pull(ctx, p.Ref, keys)
			if !errors.Is(err, oci.ErrMismatch) {
				t.Fatalf("Pull = %v, want %v", err, oci.ErrMismatch)
			}
			t.Logf("Pull: %v", err)
		})
	}

	// An envelope replaced through the registry API: someone with push
	// access attaches their own.
	if _, err := oci.Push(ctx, reg.Host+"/firmware/ovmf:trixie", oci.Firmware{Name: "OVMF.fd", Data: fw}, [][]byte{refsEnvelope(t, fw, mallory)}, oci.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Pull(ctx, p.Ref, keys); !errors.Is(err, provenance.ErrThreshold) {
		t.Fatalf("Pull with another key's envelope attached = %v, want %v", err, provenance.ErrThreshold)
	}

	// Unsigned firmware.
	bw := fixture(t, "bookworm-OVMF.fd")
	u, err := oci.Push(ctx, reg.Host+"/firmware/ovmf:bookworm", oci.Firmware{Name: "OVMF.fd", Data: bw}, nil, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Pull(ctx, u.Ref, keys); !errors.Is(err, oci.ErrUnsigned) {
		t.Fatalf("Pull of unsigned firmware = %v, want %v", err, oci.ErrUnsigned)
	}
}
