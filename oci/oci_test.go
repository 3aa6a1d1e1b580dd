package oci_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/oci/ocitest"
	"github.com/measure-cc/measure/provenance"
)

// TestAnnotations checks the summary against values from other tools
// (testdata/vectors/README.md): sev-snp-measure for the SEV-SNP digests,
// google/gce-tcb-verifier for MRTD (single-pass, QEMU 10.2's order).
func TestAnnotations(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string
	}{
		{"trixie-OVMF.fd", map[string]string{
			oci.AnnotationSNPMeasurement: "676826e902524799a067f7c43b3ab0101dce73a2506d41436dd2f8472fa208081f11f9e65ca5d2439785732a0bfd8339",
			oci.AnnotationSNPOVMFHash:    "52de7f3ba560307ec6c22a5cb001524d5e560467b5d618c715cfe3c6f1addcadb91563693fbfa433ae18c2412d739a95",
			oci.AnnotationTDXMRTD:        "bdc6fb145880f06f30c8b346b8dce2a99d9351b56892df22f80fcf6574caa9f9c31df8e8576d53b4d0cd1c3f28910e11",
		}},
		{"bookworm-OVMF.fd", map[string]string{
			oci.AnnotationTDXMRTD: "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47",
		}},
		// The CODE part of a split image: TDX metadata, but it cannot launch alone.
		{"trixie-OVMF_CODE_4M.fd", map[string]string{
			oci.AnnotationTDXMRTD:          "",
			oci.AnnotationTDXConfiguration: oci.TDXConfiguration,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := oci.Annotations(fixture(t, tc.file))
			if err != nil {
				t.Fatalf("Annotations(%s): %v", tc.file, err)
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("Annotations(%s)[%s] = %q, want %q", tc.file, k, got[k], want)
				}
			}
		})
	}
	got, err := oci.Annotations(fixture(t, "trixie-OVMF_CODE_4M.fd"))
	if err != nil || !strings.Contains(got[oci.AnnotationTDXUnavailable], "past the end") {
		t.Errorf("Annotations(trixie-OVMF_CODE_4M.fd)[%s] = %q, %v; want the reason MRTD is not computable", oci.AnnotationTDXUnavailable, got[oci.AnnotationTDXUnavailable], err)
	}
	if _, err := oci.Annotations([]byte("not firmware")); err == nil {
		t.Error("Annotations(not firmware) succeeded, want an error")
	}
}

// TestPushPull runs push, referrers and pull against the in-process
// registry, with the referrers API and without it (the tag schema).
func TestPushPull(t *testing.T) {
	fw := fixture(t, "trixie-OVMF.fd")
	s, v := keyPair(t)
	envs := [][]byte{refsEnvelope(t, fw, s), slsaEnvelope(t, fw, s)}
	ctx := context.Background()
	for _, referrersAPI := range []bool{true, false} {
		name := map[bool]string{true: "referrers API", false: "tag schema"}[referrersAPI]
		t.Run(name, func(t *testing.T) {
			host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: referrersAPI})
			p, err := oci.Push(ctx, host+"/firmware/ovmf:2025.02", oci.Firmware{Name: "OVMF.fd", Data: fw}, envs, oci.Options{})
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if !strings.HasPrefix(p.Ref, host+"/firmware/ovmf@sha256:") {
				t.Errorf("Push: Ref = %q, want %s/firmware/ovmf@sha256:...", p.Ref, host)
			}
			want, _ := oci.Annotations(fw)
			if diff := cmp.Diff(want, p.Annotations); diff != "" {
				t.Errorf("Push: annotations (-want +got):\n%s", diff)
			}

			refs, err := oci.Referrers(ctx, p.Ref, oci.Options{})
			if err != nil {
				t.Fatalf("Referrers: %v", err)
			}
			var gotTypes, wantDigests, gotDigests []string
			for _, r := range refs {
				at := r.ArtifactType
				if referrersAPI && at == string(types.OCIEmptyJSON) {
					// go-containerregistry's registry lists the config media
					// type, not the manifest's artifactType; Pull reads the
					// manifest itself, so it does not matter there.
					at = oci.AttestationArtifactType
				}
				gotTypes = append(gotTypes, at+" "+r.Annotations[oci.AnnotationPredicateType])
				gotDigests = append(gotDigests, r.Digest)
			}
			for _, a := range p.Attestations {
				wantDigests = append(wantDigests, a.Digest)
			}
			slices.Sort(wantDigests)
			slices.Sort(gotTypes)
			if diff := cmp.Diff(wantDigests, gotDigests); diff != "" {
				t.Errorf("Referrers: digests (-want +got):\n%s", diff)
			}
			wantTypes := []string{
				oci.AttestationArtifactType + " " + provenance.PredicateType,
				oci.AttestationArtifactType + " " + provenance.SLSAPredicateType,
			}
			if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
				t.Errorf("Referrers: types (-want +got):\n%s", diff)
			}

			// The tag schema leaves a tag sha256-<hex>; the referrers API none.
			tags, err := remote.List(mustRepo(t, host+"/firmware/ovmf"))
			if err != nil {
				t.Fatal(err)
			}
			fallback := strings.Replace(p.Digest, ":", "-", 1)
			if got := slices.Contains(tags, fallback); got != !referrersAPI {
				t.Errorf("tags %v: has %s = %v, want %v", tags, fallback, got, !referrersAPI)
			}

			got, err := oci.Pull(ctx, p.Ref, oci.PullOptions{Keys: []*provenance.Verifier{v}})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if got.Name != "OVMF.fd" || string(got.Data) != string(fw) {
				t.Errorf("Pull: %q, %d bytes; want OVMF.fd, the %d bytes pushed", got.Name, len(got.Data), len(fw))
			}
			var pts []string
			for _, a := range got.Attestations {
				pts = append(pts, a.PredicateType)
				if a.Verified == nil || len(a.Verified.KeyIDs) != 1 {
					t.Errorf("Pull: attestation %s not verified by one key: %+v", a.Digest, a.Verified)
				}
			}
			slices.Sort(pts)
			if diff := cmp.Diff([]string{provenance.PredicateType, provenance.SLSAPredicateType}, pts); diff != "" {
				t.Errorf("Pull: predicate types (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPushReproducible: the same firmware and envelopes give the same
// digests, whatever the tag.
func TestPushReproducible(t *testing.T) {
	fw := fixture(t, "trixie-OVMF.fd")
	s, _ := keyPair(t)
	envs := [][]byte{refsEnvelope(t, fw, s)}
	host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: true})
	var got []string
	for _, tag := range []string{"a", "b"} {
		p, err := oci.Push(context.Background(), host+"/fw:"+tag, oci.Firmware{Name: "OVMF.fd", Data: fw}, envs, oci.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Digest+" "+p.Attestations[0].Digest)
	}
	if got[0] != got[1] {
		t.Errorf("two pushes: %q and %q, want the same digests", got[0], got[1])
	}
}

func TestPushRefuses(t *testing.T) {
	fw := fixture(t, "trixie-OVMF.fd")
	other := fixture(t, "bookworm-OVMF.fd")
	s, _ := keyPair(t)
	host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: true})
	tests := []struct {
		name    string
		ref     string
		fw      oci.Firmware
		envs    [][]byte
		wantIs  error
		wantErr string
	}{
		{"envelope about other firmware", host + "/fw:1", oci.Firmware{Name: "OVMF.fd", Data: fw}, [][]byte{refsEnvelope(t, other, s)}, provenance.ErrSubjectMismatch, "envelope 1: the firmware is not a subject"},
		{"not an envelope", host + "/fw:1", oci.Firmware{Name: "OVMF.fd", Data: fw}, [][]byte{[]byte("{}")}, provenance.ErrMalformedEnvelope, "envelope 1"},
		{"not firmware", host + "/fw:1", oci.Firmware{Name: "OVMF.fd", Data: []byte("hello")}, nil, nil, `firmware "OVMF.fd"`},
		{"name with directories", host + "/fw:1", oci.Firmware{Name: "../OVMF.fd", Data: fw}, nil, nil, "without directories"},
		{"digest reference", host + "/fw@sha256:" + strings.Repeat("0", 64), oci.Firmware{Name: "OVMF.fd", Data: fw}, nil, nil, "reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oci.Push(context.Background(), tc.ref, tc.fw, tc.envs, oci.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("Push = %v, want an error containing %q (wrapping %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

// TestPullRefuses tampers with what the registry serves and checks that Pull
// refuses, with the error callers branch on.
func TestPullRefuses(t *testing.T) {
	fw := fixture(t, "trixie-OVMF.fd")
	other := fixture(t, "bookworm-OVMF.fd")
	s, v := keyPair(t)
	mallory, _ := keyPair(t)
	good := refsEnvelope(t, fw, s)
	ctx := context.Background()

	// alteredPayload keeps the signature of good over another statement.
	alteredPayload := []byte(strings.Replace(string(good), `"payload": "`, `"payload": "ICAg`, 1))

	tests := []struct {
		name string
		// setup pushes to host and returns the reference to pull; flip,
		// when set, is the digest of a blob to serve altered.
		setup  func(t *testing.T, host string, flip *string) string
		wantIs error
	}{
		{"by tag", func(t *testing.T, host string, _ *string) string {
			push(t, host, fw, good)
			return host + "/fw:1"
		}, oci.ErrNotDigest},
		{"unsigned", func(t *testing.T, host string, _ *string) string {
			return push(t, host, fw).Ref
		}, oci.ErrUnsigned},
		{"signed by another key", func(t *testing.T, host string, _ *string) string {
			return push(t, host, fw, refsEnvelope(t, fw, mallory)).Ref
		}, provenance.ErrThreshold},
		{"a second envelope signed by another key", func(t *testing.T, host string, _ *string) string {
			push(t, host, fw, good)
			return push(t, host, fw, slsaEnvelope(t, fw, mallory)).Ref
		}, provenance.ErrThreshold},
		{"payload altered", func(t *testing.T, host string, _ *string) string {
			p := push(t, host, fw, good)
			attach(t, host, p, alteredPayload)
			return p.Ref
		}, provenance.ErrBadSignature},
		{"envelope about other firmware", func(t *testing.T, host string, _ *string) string {
			p := push(t, host, fw, good)
			attach(t, host, p, refsEnvelope(t, other, s))
			return p.Ref
		}, provenance.ErrSubjectMismatch},
		{"firmware blob replaced", func(t *testing.T, host string, flip *string) string {
			p := push(t, host, fw, good)
			*flip = descriptor(t, fw, "").Digest.String()
			return p.Ref
		}, oci.ErrMismatch},
		{"envelope blob replaced", func(t *testing.T, host string, flip *string) string {
			p := push(t, host, fw, good)
			*flip = descriptor(t, good, "").Digest.String()
			return p.Ref
		}, oci.ErrMismatch},
		{"annotation altered", func(t *testing.T, host string, _ *string) string {
			m := firmwareManifest(t, fw)
			m.Annotations[oci.AnnotationTDXMRTD] = strings.Repeat("00", 48)
			return putArtifact(t, mustRepo(t, host+"/fw"), m, fw, []byte("{}")).String()
		}, oci.ErrMismatch},
		{"annotation removed", func(t *testing.T, host string, _ *string) string {
			m := firmwareManifest(t, fw)
			delete(m.Annotations, oci.AnnotationSNPMeasurement)
			return putArtifact(t, mustRepo(t, host+"/fw"), m, fw, []byte("{}")).String()
		}, oci.ErrMismatch},
		{"not a firmware artifact", func(t *testing.T, host string, _ *string) string {
			m := firmwareManifest(t, fw)
			m.ArtifactType = "application/vnd.example.other"
			return putArtifact(t, mustRepo(t, host+"/fw"), m, fw, []byte("{}")).String()
		}, oci.ErrMismatch},
		{"firmware named with directories", func(t *testing.T, host string, _ *string) string {
			m := firmwareManifest(t, fw)
			m.Layers[0].Annotations[oci.AnnotationTitle] = "../../etc/passwd"
			return putArtifact(t, mustRepo(t, host+"/fw"), m, fw, []byte("{}")).String()
		}, oci.ErrMismatch},
		{"manifest missing", func(t *testing.T, host string, _ *string) string {
			return host + "/fw@sha256:" + strings.Repeat("ab", 32)
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var flip string
			host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: true, Wrap: flipBlob(&flip)})
			ref := tc.setup(t, host, &flip)
			got, err := oci.Pull(ctx, ref, oci.PullOptions{Keys: []*provenance.Verifier{v}})
			if err == nil {
				t.Fatalf("Pull(%s) = %q with %d attestations, want an error", ref, got.Name, len(got.Attestations))
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("Pull(%s) = %v, want %v", ref, err, tc.wantIs)
			}
			t.Logf("Pull: %v", err)
		})
	}
}

// TestPullIgnoresOtherReferrers: a referrer of another artifact type is
// listed, not read, and does not stop a pull.
func TestPullIgnoresOtherReferrers(t *testing.T) {
	fw := fixture(t, "trixie-OVMF.fd")
	s, v := keyPair(t)
	host := ocitest.NewRegistry(t, ocitest.RegistryOptions{Referrers: false})
	p := push(t, host, fw, refsEnvelope(t, fw, s))
	sbom := []byte(`{"spdxVersion":"SPDX-2.3"}`)
	subj := subjectOf(t, p)
	d := putArtifact(t, mustRepo(t, host+"/fw"), v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: "application/spdx+json",
		Config: descriptor(t, []byte("{}"), types.OCIEmptyJSON), Layers: []v1.Descriptor{descriptor(t, sbom, "application/spdx+json")},
		Subject: &subj,
	}, sbom, []byte("{}"))
	got, err := oci.Pull(context.Background(), p.Ref, oci.PullOptions{Keys: []*provenance.Verifier{v}})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if len(got.Attestations) != 1 || len(got.Ignored) != 1 || got.Ignored[0].Digest != d.DigestStr() {
		t.Errorf("Pull: %d attestations, ignored %+v; want 1 and the SBOM %s", len(got.Attestations), got.Ignored, d.DigestStr())
	}
}

func push(t *testing.T, host string, fw []byte, envs ...[]byte) *oci.Pushed {
	t.Helper()
	p, err := oci.Push(context.Background(), host+"/fw:1", oci.Firmware{Name: "OVMF.fd", Data: fw}, envs, oci.Options{})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return p
}

// attach adds env as an attestation of p without Push's checks.
func attach(t *testing.T, host string, p *oci.Pushed, env []byte) {
	t.Helper()
	subj := subjectOf(t, p)
	putArtifact(t, mustRepo(t, host+"/fw"), v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: oci.AttestationArtifactType,
		Config: descriptor(t, []byte("{}"), types.OCIEmptyJSON), Layers: []v1.Descriptor{descriptor(t, env, oci.EnvelopeMediaType)},
		Subject: &subj,
	}, env, []byte("{}"))
}

func subjectOf(t *testing.T, p *oci.Pushed) v1.Descriptor {
	t.Helper()
	d, err := name.NewDigest(p.Ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}
}

// firmwareManifest is the manifest Push writes for fw.
func firmwareManifest(t *testing.T, fw []byte) v1.Manifest {
	t.Helper()
	ann, err := oci.Annotations(fw)
	if err != nil {
		t.Fatal(err)
	}
	l := descriptor(t, fw, oci.FirmwareMediaType)
	l.Annotations = map[string]string{oci.AnnotationTitle: "OVMF.fd"}
	return v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: oci.ArtifactType,
		Config: descriptor(t, []byte("{}"), types.OCIEmptyJSON), Layers: []v1.Descriptor{l}, Annotations: ann,
	}
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
