package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/provenance"
)

// fixture reads a Debian firmware image from testdata/fixtures.
func fixture(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyPair makes an Ed25519 key pair.
func keyPair(t *testing.T) (*provenance.Signer, *provenance.Verifier) {
	t.Helper()
	priv, pub, err := provenance.GenerateKey(provenance.Ed25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := provenance.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := provenance.ParseVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func digests(t *testing.T, b []byte) map[string]string {
	t.Helper()
	d, err := provenance.Digests(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"sha256": d["sha256"], "sha384": d["sha384"]}
}

// refsEnvelope signs a reference-values statement about fw (one SEV-SNP
// value, taken from its annotations).
func refsEnvelope(t *testing.T, fw []byte, signers ...*provenance.Signer) []byte {
	t.Helper()
	ann, err := oci.Annotations(fw)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := measure.LookupCPU("EPYC-v4")
	if err != nil {
		t.Fatal(err)
	}
	d := digests(t, fw)
	st, err := provenance.NewReferenceValuesStatement(
		[]provenance.Subject{{Name: "OVMF.fd", Digest: d}},
		provenance.ReferenceValues{
			Platform: "sev-snp",
			Firmware: provenance.Firmware{Name: "OVMF.fd", Digest: d},
			Values: []provenance.ReferenceValue{{
				Configuration: provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-v4", VCPUSig: fmt.Sprintf("%#x", cpu.Signature), GuestFeatures: "0x1"},
				Measurements:  []provenance.Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": ann[oci.AnnotationSNPMeasurement]}}},
			}},
			Tool: provenance.Tool{Name: "measure", Version: "test"},
		})
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, st, signers...)
}

// slsaEnvelope signs SLSA provenance whose subject is fw.
func slsaEnvelope(t *testing.T, fw []byte, signers ...*provenance.Signer) []byte {
	t.Helper()
	st, err := provenance.NewSLSAStatement(provenance.Build{
		BuildType:          "https://measure-cc.github.io/buildtypes/ovmf/v1",
		ExternalParameters: map[string]any{"recipe": "debian-trixie"},
		BuilderID:          "https://github.com/measure-cc/measure/builders/ovmf",
		Subjects:           []provenance.Subject{{Name: "OVMF.fd", Digest: digests(t, fw)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, st, signers...)
}

func sign(t *testing.T, st *provenance.Statement, signers ...*provenance.Signer) []byte {
	t.Helper()
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env, err := provenance.Sign(context.Background(), b, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// putArtifact writes a manifest with the given shape straight through
// go-containerregistry, as an attacker with push access could, bypassing
// Push's checks. It returns the manifest's digest reference.
func putArtifact(t *testing.T, repo name.Repository, m v1.Manifest, blobs ...[]byte) name.Digest {
	t.Helper()
	for _, b := range blobs {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.OCIUncompressedLayer)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	d := repo.Digest(h.String())
	if err := remote.Put(d, rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
	return d
}

type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// descriptor describes b as a blob of media type mt.
func descriptor(t *testing.T, b []byte, mt types.MediaType) v1.Descriptor {
	t.Helper()
	h, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Size: n, Digest: h}
}

// flipBlob returns middleware that serves the blob with the given digest
// with its last byte changed: a blob replaced in the registry's storage.
func flipBlob(digest *string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if *digest == "" || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+*digest) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[len(body)-1] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}
