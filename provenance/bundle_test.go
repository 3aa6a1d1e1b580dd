package provenance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The consumer's side of these tests is sigstore-go v1.3.0 (pkg/bundle,
// pkg/verify, pkg/root), the library cosign's verify-blob-attestation uses
// for bundles, configured for key-based offline verification exactly as
// cosign v3.1 (pkg/cosign/verify.go, verificationOptions) configures it for
// `--key K --insecure-ignore-tlog`: WithNoObserverTimestamps as the only
// verifier option, WithKey as the policy's identity, the key as
// TrustedPublicKeyMaterial whose verifier never expires.

// sigstoreKeyMaterial is the trusted material cosign builds from --key: one
// key, whatever the bundle's hint says, loaded with hash (cosign's
// --signature-digest-algorithm, sha256 unless given; 0 for sigstore's
// default per key type).
func sigstoreKeyMaterial(t testing.TB, pub crypto.PublicKey, hash crypto.Hash) root.TrustedMaterial {
	t.Helper()
	var v signature.Verifier
	var err error
	if hash == 0 {
		v, err = signature.LoadDefaultVerifier(pub)
	} else {
		v, err = signature.LoadVerifier(pub, hash)
	}
	if err != nil {
		t.Fatalf("signature.LoadVerifier: %v", err)
	}
	k := root.NewExpiringKey(v, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return k, nil })
}

// sigstoreHintMaterial trusts pub under the hint name only, as a keyring
// looked up by the bundle's hint does.
func sigstoreHintMaterial(t testing.TB, pub crypto.PublicKey, hint string) root.TrustedMaterial {
	t.Helper()
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		t.Fatalf("signature.LoadDefaultVerifier: %v", err)
	}
	return root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint: root.NewExpiringKey(v, time.Time{}, time.Time{}),
	})
}

// sigstoreLoad parses b as sigstore-go does.
func sigstoreLoad(b []byte) error {
	var bun sgbundle.Bundle
	return bun.UnmarshalJSON(b)
}

// sigstoreVerify loads b with sigstore-go and verifies it offline against
// tm, with the artifact policy given (nil: without artifact).
func sigstoreVerify(tm root.TrustedMaterial, b []byte, artifact sgverify.ArtifactPolicyOption) (*sgverify.VerificationResult, error) {
	var bun sgbundle.Bundle
	if err := bun.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	if artifact == nil {
		artifact = sgverify.WithoutArtifactUnsafe()
	}
	return v.Verify(&bun, sgverify.NewPolicy(artifact, sgverify.WithKey()))
}

func signBundle(t testing.TB, k testKey, stmt []byte) []byte {
	t.Helper()
	b, err := SignBundle(context.Background(), stmt, k.signer)
	if err != nil {
		t.Fatalf("SignBundle: %v", err)
	}
	return b
}

// TestSigstoreGoVerifiesBundle: a bundle SignBundle writes verifies with
// sigstore-go, for every algorithm, with the key found by hint and with the
// key whatever the hint (cosign), with and without the artifact's digest,
// and sigstore-go reads back the statement measure signed.
func TestSigstoreGoVerifiesBundle(t *testing.T) {
	stmt := statementBytes(t)
	fw384, err := hex.DecodeString(fwSHA384)
	if err != nil {
		t.Fatal(err)
	}
	fw256, err := hex.DecodeString(fwSHA256)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			b := signBundle(t, k, stmt)
			hint, err := KeyHint(k.verifier.Public())
			if err != nil {
				t.Fatal(err)
			}
			// cosign loads a --key with sha256 unless told otherwise;
			// P-384 signatures are over SHA-384 (see docs/provenance.md).
			cosignHash := crypto.SHA256
			if alg == ECDSAP384 {
				cosignHash = crypto.SHA384
			}
			for _, m := range []struct {
				name string
				tm   root.TrustedMaterial
			}{
				{"by hint", sigstoreHintMaterial(t, k.verifier.Public(), hint)},
				{"as cosign", sigstoreKeyMaterial(t, k.verifier.Public(), cosignHash)},
			} {
				for _, a := range []struct {
					name string
					opt  sgverify.ArtifactPolicyOption
				}{
					{"no artifact", nil},
					{"sha384", sgverify.WithArtifactDigest("sha384", fw384)},
					{"sha256", sgverify.WithArtifactDigest("sha256", fw256)},
				} {
					res, err := sigstoreVerify(m.tm, b, a.opt)
					if err != nil {
						t.Fatalf("%s, %s: sigstore-go Verify: %v", m.name, a.name, err)
					}
					if got := res.Statement.GetPredicateType(); got != PredicateType {
						t.Errorf("%s, %s: sigstore-go statement predicate type %q, want %q", m.name, a.name, got, PredicateType)
					}
					if got := res.Statement.GetSubject()[0].GetDigest()["sha384"]; got != fwSHA384 {
						t.Errorf("%s, %s: sigstore-go statement subject sha384 %s, want %s", m.name, a.name, got, fwSHA384)
					}
					if res.Signature == nil || res.Signature.PublicKeyID == nil || string(*res.Signature.PublicKeyID) != hint {
						t.Errorf("%s, %s: sigstore-go result key id %v, want %q", m.name, a.name, res.Signature, hint)
					}
				}
			}
		})
	}
}

// TestSigstoreGoP384NeedsDigestFlag records why docs/provenance.md tells
// cosign users of ecdsa-p384 keys to pass --signature-digest-algorithm
// sha384: with cosign's default, sha256, the signature does not verify.
func TestSigstoreGoP384NeedsDigestFlag(t *testing.T) {
	k := newTestKey(t, ECDSAP384)
	b := signBundle(t, k, statementBytes(t))
	if _, err := sigstoreVerify(sigstoreKeyMaterial(t, k.verifier.Public(), crypto.SHA256), b, nil); err == nil {
		t.Error("sigstore-go verified a P-384 bundle with a SHA-256 verifier; the documented flag would be unneeded")
	}
}

// bundleJSON decodes a bundle for editing.
func bundleJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeJSON(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editBase64 flips one bit of byte i (from the end when negative) of the
// base64 string at m[key].
func editBase64(t testing.TB, m map[string]any, key string, i int) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(m[key].(string))
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x01
	m[key] = base64.StdEncoding.EncodeToString(raw)
}

func dsseOf(m map[string]any) map[string]any { return m["dsseEnvelope"].(map[string]any) }

func sigOf(m map[string]any) map[string]any {
	return dsseOf(m)["signatures"].([]any)[0].(map[string]any)
}

// TestTamperedBundle: sigstore-go and VerifyBundle both reject a bundle
// whose payload or signature was altered, or that is checked with another
// key; VerifyBundle with the error Verify gives for envelopes.
func TestTamperedBundle(t *testing.T) {
	stmt := statementBytes(t)
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			other := newTestKey(t, alg)
			good := signBundle(t, k, stmt)
			hint, _ := KeyHint(k.verifier.Public())
			cases := []struct {
				name    string
				edit    func(m map[string]any)
				key     testKey
				wantErr error
			}{
				{"payload byte", func(m map[string]any) { editBase64(t, dsseOf(m), "payload", 100) }, k, ErrBadSignature},
				{"payload last byte", func(m map[string]any) { editBase64(t, dsseOf(m), "payload", -1) }, k, ErrBadSignature},
				{"signature byte", func(m map[string]any) { editBase64(t, sigOf(m), "sig", -1) }, k, ErrBadSignature},
				{"payload type", func(m map[string]any) { dsseOf(m)["payloadType"] = "application/json" }, k, ErrPayloadType},
				{"wrong key", func(map[string]any) {}, other, ErrThreshold},
				{"hint and keyid of no given key, payload byte", func(m map[string]any) {
					m["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = "someone else"
					sigOf(m)["keyid"] = ""
					editBase64(t, dsseOf(m), "payload", 100)
				}, k, ErrThreshold},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					m := bundleJSON(t, good)
					tc.edit(m)
					b := encodeJSON(t, m)
					_, err := VerifyBundle(context.Background(), b, VerifyOptions{Keys: []*Verifier{tc.key.verifier}})
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("VerifyBundle = %v, want %v", err, tc.wantErr)
					}
					for _, tm := range []root.TrustedMaterial{
						sigstoreKeyMaterial(t, tc.key.verifier.Public(), 0),
						sigstoreHintMaterial(t, tc.key.verifier.Public(), hint),
					} {
						if _, err := sigstoreVerify(tm, b, nil); err == nil {
							t.Error("sigstore-go verified the altered bundle")
						}
					}
				})
			}
		})
	}
}

// TestVerifyBundle: what VerifyBundle returns for a good bundle, and the
// options it shares with Verify.
func TestVerifyBundle(t *testing.T) {
	stmt := statementBytes(t)
	a, b := newTestKey(t, Ed25519), newTestKey(t, ECDSAP256)
	bun := signBundle(t, a, stmt)
	idA, _ := a.verifier.KeyID()

	res, err := VerifyBundle(context.Background(), bun, VerifyOptions{Keys: []*Verifier{b.verifier, a.verifier}})
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	if !bytes.Equal(res.Payload, stmt) {
		t.Error("VerifyBundle payload differs from the statement signed")
	}
	if len(res.KeyIDs) != 1 || res.KeyIDs[0] != idA {
		t.Errorf("VerifyBundle key ids %v, want [%s]", res.KeyIDs, idA)
	}

	fw := firmwareSubject()
	if _, err := VerifyBundle(context.Background(), bun, VerifyOptions{Keys: []*Verifier{a.verifier}, Artifacts: []Subject{fw}}); err != nil {
		t.Errorf("VerifyBundle with the firmware as artifact: %v", err)
	}
	wrong := Subject{Name: "other", Digest: map[string]string{"sha256": strings.Repeat("00", 32)}}
	if _, err := VerifyBundle(context.Background(), bun, VerifyOptions{Keys: []*Verifier{a.verifier}, Artifacts: []Subject{wrong}}); !errors.Is(err, ErrSubjectMismatch) {
		t.Errorf("VerifyBundle with another artifact = %v, want ErrSubjectMismatch", err)
	}
	if _, err := VerifyBundle(context.Background(), bun, VerifyOptions{Keys: []*Verifier{a.verifier, b.verifier}, Threshold: 2}); !errors.Is(err, ErrThreshold) {
		t.Errorf("VerifyBundle with threshold 2 = %v, want ErrThreshold (a bundle holds one signature)", err)
	}
	if _, err := VerifyBundle(context.Background(), bun, VerifyOptions{}); err == nil || errors.Is(err, ErrMalformedEnvelope) {
		t.Errorf("VerifyBundle without keys = %v, want an options error", err)
	}

	// VerifySigned tells the two formats apart.
	env, err := Sign(context.Background(), stmt, a.signer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   []byte
		want SignedFormat
	}{{bun, FormatBundle}, {env, FormatEnvelope}} {
		if _, f, err := VerifySigned(context.Background(), tc.in, VerifyOptions{Keys: []*Verifier{a.verifier}}); err != nil || f != tc.want {
			t.Errorf("VerifySigned = %q, %v; want %q, nil", f, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want SignedFormat
	}{
		{"not JSON", []byte("not json"), FormatEnvelope},
		{"truncated bundle", bun[:len(bun)/3], FormatBundle},
		{"truncated envelope", env[:len(env)/3], FormatEnvelope},
		{"mediaType after other members", []byte(`{"a":{"mediaType":1},"b":[{}],"mediaType":"x"}`), FormatBundle},
		{"mediaType nested only", []byte(`{"a":{"mediaType":1}}`), FormatEnvelope},
		{"array", []byte(`[{"mediaType":1}]`), FormatEnvelope},
	} {
		if f := DetectFormat(tc.in); f != tc.want {
			t.Errorf("DetectFormat(%s) = %q, want %q", tc.name, f, tc.want)
		}
	}
}

// TestBundleShape checks SignBundle's output against the bundle
// specification's JSON field by field, decoded here without our reader:
// the v0.3 media type, the hint alone as verification material (no
// certificate, no log entries, no timestamps), one DSSE signature whose
// keyid equals the hint, the statement byte for byte. Ed25519 signatures
// are deterministic, so signing twice gives the same bytes.
func TestBundleShape(t *testing.T) {
	stmt := statementBytes(t)
	k := newTestKey(t, Ed25519)
	b := signBundle(t, k, stmt)
	if again := signBundle(t, k, stmt); !bytes.Equal(again, b) {
		t.Error("SignBundle twice with an Ed25519 key gives different bytes")
	}
	var got struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial map[string]json.RawMessage
		DSSEEnvelope         struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig   string `json:"sig"`
				KeyID string `json:"keyid"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("bundle JSON: %v", err)
	}
	if got.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("mediaType %q", got.MediaType)
	}
	var pk struct {
		Hint string `json:"hint"`
	}
	if len(got.VerificationMaterial) != 1 || json.Unmarshal(got.VerificationMaterial["publicKey"], &pk) != nil {
		t.Fatalf("verificationMaterial %s, want a publicKey alone", b)
	}
	// The OpenSSH fingerprint, computed here from the key's SSH wire
	// encoding (RFC 8709: string "ssh-ed25519", string key).
	pub := k.verifier.Public().(ed25519.PublicKey)
	wire := append(sshString([]byte("ssh-ed25519")), sshString(pub)...)
	if want := "SHA256:" + base64.RawStdEncoding.EncodeToString(sha256Of(wire)); pk.Hint != want {
		t.Errorf("hint %q, want %q", pk.Hint, want)
	}
	if got.DSSEEnvelope.PayloadType != PayloadType {
		t.Errorf("payloadType %q", got.DSSEEnvelope.PayloadType)
	}
	if p, _ := base64.StdEncoding.DecodeString(got.DSSEEnvelope.Payload); !bytes.Equal(p, stmt) {
		t.Error("payload is not the statement")
	}
	if len(got.DSSEEnvelope.Signatures) != 1 || got.DSSEEnvelope.Signatures[0].KeyID != pk.Hint {
		t.Errorf("signatures %+v, want one with keyid %q", got.DSSEEnvelope.Signatures, pk.Hint)
	}
}

func sha256Of(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func sshString(b []byte) []byte {
	n := len(b)
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, b...)
}

// TestParseBundleErrors: each defect is reported with ErrMalformedEnvelope
// and a message naming it.
func TestParseBundleErrors(t *testing.T) {
	k := newTestKey(t, Ed25519)
	good := signBundle(t, k, statementBytes(t))
	tests := []struct {
		name    string
		edit    func(m map[string]any)
		raw     string
		wantErr string
		keyless bool
	}{
		{name: "not JSON", raw: `{"mediaType":`, wantErr: "Sigstore bundle JSON"},
		{name: "unknown field", edit: func(m map[string]any) { m["extra"] = 1 }, wantErr: "Sigstore bundle JSON"},
		{name: "media type", edit: func(m map[string]any) { m["mediaType"] = "application/json" }, wantErr: `bundle media type "application/json"`},
		{name: "version 0.4", edit: func(m map[string]any) { m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json" }, wantErr: "bundle media type"},
		{name: "no verification material", edit: func(m map[string]any) { delete(m, "verificationMaterial") }, wantErr: "no verification material"},
		{name: "certificate", edit: func(m map[string]any) {
			m["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": "MAA="}}
		}, wantErr: "keyless", keyless: true},
		{name: "certificate chain", edit: func(m map[string]any) {
			m["verificationMaterial"] = map[string]any{"x509CertificateChain": map[string]any{"certificates": []any{map[string]any{"rawBytes": "MAA="}}}}
		}, wantErr: "keyless", keyless: true},
		{name: "message signature", edit: func(m map[string]any) {
			delete(m, "dsseEnvelope")
			m["messageSignature"] = map[string]any{"signature": "MAA="}
		}, wantErr: "message signature"},
		{name: "no content", edit: func(m map[string]any) { delete(m, "dsseEnvelope") }, wantErr: "no content"},
		{name: "no payload type", edit: func(m map[string]any) { delete(dsseOf(m), "payloadType") }, wantErr: "payloadType is missing"},
		{name: "no payload", edit: func(m map[string]any) { delete(dsseOf(m), "payload") }, wantErr: "payload is missing"},
		{name: "two signatures", edit: func(m map[string]any) {
			s := dsseOf(m)["signatures"].([]any)
			dsseOf(m)["signatures"] = append(s, s[0])
		}, wantErr: "2 signatures, want exactly 1"},
		{name: "no signature", edit: func(m map[string]any) { dsseOf(m)["signatures"] = []any{} }, wantErr: "0 signatures"},
		{name: "empty signature", edit: func(m map[string]any) { sigOf(m)["sig"] = "" }, wantErr: "signature is empty"},
		{name: "bad base64", edit: func(m map[string]any) { dsseOf(m)["payload"] = "!!" }, wantErr: "Sigstore bundle JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.raw)
			if tc.edit != nil {
				m := bundleJSON(t, good)
				tc.edit(m)
				in = encodeJSON(t, m)
			}
			_, err := ParseBundle(in)
			if !errors.Is(err, ErrMalformedEnvelope) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseBundle = %v, want ErrMalformedEnvelope with %q", err, tc.wantErr)
			}
			if got := errors.Is(err, ErrKeylessBundle); got != tc.keyless {
				t.Errorf("errors.Is(err, ErrKeylessBundle) = %v, want %v", got, tc.keyless)
			}
			if _, err := VerifyBundle(context.Background(), in, VerifyOptions{Keys: []*Verifier{k.verifier}}); !errors.Is(err, ErrMalformedEnvelope) {
				t.Errorf("VerifyBundle = %v, want ErrMalformedEnvelope", err)
			}
		})
	}
}

// publishBundle is sigstore-go's example of a key-signed DSSE bundle
// (examples/bundle-publish.json, v1.3.0): npm's publish attestation for
// sigstore@1.3.0, signed by npm's registry key (examples/publish_key.pub).
// See verify/testdata/README.md.
func publishBundle(t testing.TB) ([]byte, *Verifier) {
	t.Helper()
	b, err := os.ReadFile("testdata/sigstore/bundle-publish.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.ReadFile("testdata/sigstore/publish_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return b, v
}

// publishDigest is the sha512 subject of the npm bundle, which sigstore-go's
// docs/verification.md verifies it against.
const publishDigest = "76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"

// TestForeignBundle reads a bundle measure did not write: npm's, signed
// with npm's key. sigstore-go verifies it offline with that key and its
// subject digest (the facts its docs/verification.md states, there with the
// log entry checked too); VerifyBundle finds the signature good and then
// refuses the statement (in-toto v0.1, npm's predicate: exit 14, after the
// signature checks of exits 12 and 13 passed). Its hint and keyid are the
// key's OpenSSH fingerprint, the form KeyHint computes, so an altered
// payload is a bad signature by the named key.
func TestForeignBundle(t *testing.T) {
	b, v := publishBundle(t)
	digest, _ := hex.DecodeString(publishDigest)
	if _, err := sigstoreVerify(sigstoreKeyMaterial(t, v.Public(), crypto.SHA256), b, sgverify.WithArtifactDigest("sha512", digest)); err != nil {
		t.Fatalf("sigstore-go Verify(bundle-publish.json) = %v, want success", err)
	}

	pb, err := ParseBundle(b)
	if err != nil {
		t.Fatalf("ParseBundle: %v", err)
	}
	if pb.Version != "v0.1" || pb.TlogEntries != 1 || pb.Envelope.PayloadType != PayloadType {
		t.Errorf("ParseBundle = version %s, %d log entries, payload type %q; want v0.1, 1, %q", pb.Version, pb.TlogEntries, pb.Envelope.PayloadType, PayloadType)
	}
	const npmHint = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"
	if pb.KeyHint != npmHint {
		t.Errorf("hint %q, want %q", pb.KeyHint, npmHint)
	}
	if h, err := KeyHint(v.Public()); err != nil || h != npmHint {
		t.Errorf("KeyHint(npm key) = %q, %v; want %q, the hint npm wrote", h, err, npmHint)
	}

	if _, err := VerifyBundle(context.Background(), b, VerifyOptions{Keys: []*Verifier{v}}); !errors.Is(err, ErrInvalidStatement) || !strings.Contains(err.Error(), "in-toto.io/Statement/v0.1") {
		t.Errorf("VerifyBundle(npm bundle) = %v, want ErrInvalidStatement for the v0.1 statement", err)
	}
	m := bundleJSON(t, b)
	editBase64(t, dsseOf(m), "payload", 50)
	if _, err := VerifyBundle(context.Background(), encodeJSON(t, m), VerifyOptions{Keys: []*Verifier{v}}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyBundle(npm bundle, payload altered) = %v, want ErrBadSignature", err)
	}
	other := newTestKey(t, ECDSAP256)
	if _, err := VerifyBundle(context.Background(), b, VerifyOptions{Keys: []*Verifier{other.verifier}}); !errors.Is(err, ErrThreshold) {
		t.Errorf("VerifyBundle(npm bundle, another key) = %v, want ErrThreshold", err)
	}
}

// TestSigstoreGoStaysOutOfTheBinary: sigstore-go is this package's
// tests' independent verifier, not a dependency of measure: it would add
// about 10 MiB and 2.5 ms of package initialisation to every command of the
// full build (docs/provenance.md). The protobuf-specs types are in.
func TestSigstoreGoStaysOutOfTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/measure").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := string(out)
	for _, p := range []string{"github.com/sigstore/sigstore-go/", "github.com/sigstore/sigstore/", "github.com/sigstore/rekor"} {
		if strings.Contains(deps, p) {
			t.Errorf("cmd/measure depends on %s...", p)
		}
	}
	if !strings.Contains(deps, "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1") {
		t.Error("cmd/measure does not depend on the protobuf-specs bundle types; is this test still checking the right binary?")
	}
}

// cosignBundle builds a bundle as cosign v3.1's AssembleNewBundle
// (cmd/cosign/cli/verify/verify_bundle.go) does for attest-blob --key: the
// older v0.3 media type, the hint the standard base64 of the SHA-256 of the
// key's PKIX DER, a DSSE signature without keyid.
func cosignBundle(t testing.TB, k testKey, stmt []byte) []byte {
	t.Helper()
	sig, err := k.signer.Sign(context.Background(), PAE(PayloadType, stmt))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(k.pubPEM)
	sum := sha256.Sum256(block.Bytes)
	b, err := json.Marshal(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.3",
		"verificationMaterial": map[string]any{
			"publicKey": map[string]any{"hint": base64.StdEncoding.EncodeToString(sum[:])},
		},
		"dsseEnvelope": map[string]any{
			"payload":     base64.StdEncoding.EncodeToString(stmt),
			"payloadType": PayloadType,
			"signatures":  []any{map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCosignShapedBundle: VerifyBundle reads a bundle in the shape cosign
// writes; cosign's hint names the key, so an altered payload is a bad
// signature by it (exit 12), as for measure's own bundles.
func TestCosignShapedBundle(t *testing.T) {
	stmt := statementBytes(t)
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			b := cosignBundle(t, k, stmt)
			if _, err := sigstoreVerify(sigstoreKeyMaterial(t, k.verifier.Public(), 0), b, nil); err != nil {
				t.Fatalf("sigstore-go refuses the cosign-shaped bundle: %v", err)
			}
			res, err := VerifyBundle(context.Background(), b, VerifyOptions{Keys: []*Verifier{k.verifier}})
			if err != nil {
				t.Fatalf("VerifyBundle: %v", err)
			}
			if !bytes.Equal(res.Payload, stmt) {
				t.Error("payload differs")
			}
			m := bundleJSON(t, b)
			editBase64(t, dsseOf(m), "payload", 10)
			if _, err := VerifyBundle(context.Background(), encodeJSON(t, m), VerifyOptions{Keys: []*Verifier{k.verifier}}); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyBundle(payload altered) = %v, want ErrBadSignature", err)
			}
		})
	}
}

// TestDetectFormatDeepNesting: telling a bundle from an envelope, and
// refusing either, allocates a bounded amount whatever the nesting of the
// input. The reviewer's input, {"a": and 16 Mi '[', held 519 MB when
// DetectFormat followed every level.
func TestDetectFormatDeepNesting(t *testing.T) {
	deep := bytes.Repeat([]byte("["), 16<<20)
	k := newTestKey(t, Ed25519)
	tests := []struct {
		name string
		in   []byte
		want SignedFormat
	}{
		{"deep before mediaType", append(append([]byte(`{"a":`), deep...), `],"mediaType":"x"}`...), FormatEnvelope},
		{"deep object before mediaType", append([]byte(`{"a":`), bytes.Repeat([]byte(`{"a":`), 4<<20)...), FormatEnvelope},
		{"deep after mediaType", append([]byte(`{"mediaType":"`+BundleMediaType+`","a":`), deep...), FormatBundle},
		{"64 levels before mediaType", []byte(`{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `,"mediaType":"x"}`), FormatBundle},
		{"65 levels before mediaType", []byte(`{"a":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `,"mediaType":"x"}`), FormatEnvelope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			f := DetectFormat(tc.in)
			_, vf, err := VerifySigned(context.Background(), tc.in, VerifyOptions{Keys: []*Verifier{k.verifier}})
			runtime.ReadMemStats(&m1)
			if f != tc.want || vf != tc.want {
				t.Errorf("DetectFormat = %q, VerifySigned's %q; want %q", f, vf, tc.want)
			}
			if len(tc.in) > 1<<20 && !errors.Is(err, ErrMalformedEnvelope) {
				t.Errorf("VerifySigned = %v, want ErrMalformedEnvelope", err)
			}
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 4<<20 {
				t.Errorf("DetectFormat and VerifySigned of %d bytes allocated %d bytes, want at most 4 MiB", len(tc.in), alloc)
			}
		})
	}
}

// TestBundleHintAndKeyid: which given key a bundle's signature is checked
// against. The keyid, when it names a given key, binds the signature to it
// (as an envelope's keyid does, and as sigstore-go, which skips a
// signature whose keyid is not its key's fingerprint), and a keyid that
// names no given key is refused; the hint, which nothing signs, does not
// override the keyid, and without keyid the signature decides. Wherever VerifyBundle accepts with
// a key, cosign's --key with that key (sigstore-go with the hint ignored)
// accepts too, and wherever it refuses, cosign refuses with each key given.
func TestBundleHintAndKeyid(t *testing.T) {
	stmt := statementBytes(t)
	a, b := newTestKey(t, Ed25519), newTestKey(t, ECDSAP256)
	hintA, _ := KeyHint(a.verifier.Public())
	hintB, _ := KeyHint(b.verifier.Public())
	idB, _ := b.verifier.KeyID()
	ab := []*Verifier{a.verifier, b.verifier}
	signedByB := signBundle(t, b, stmt)
	tests := []struct {
		name, hint, keyid string
		keys              []*Verifier
		wantErr           error // nil: accepted with key B
	}{
		{"hint B keyid B", hintB, hintB, ab, nil},
		{"hint A keyid B", hintA, hintB, ab, nil},
		{"hint A keyid B, keys B A", hintA, hintB, []*Verifier{b.verifier, a.verifier}, nil},
		{"hint A no keyid", hintA, "", ab, nil},
		{"no hint keyid B", "", hintB, ab, nil},
		{"hint B keyid A", hintB, hintA, ab, ErrBadSignature},
		{"hint A keyid A", hintA, hintA, ab, ErrBadSignature},
		{"hint A keyid A, keys B", hintA, hintA, []*Verifier{b.verifier}, ErrThreshold},
		{"hint B keyid of no key, keys B", hintB, "someone else", []*Verifier{b.verifier}, ErrThreshold},
		{"hint of no key, no keyid", "someone else", "", ab, nil},
		{"hint A no keyid, keys A", hintA, "", []*Verifier{a.verifier}, ErrBadSignature},
		{"no hint no keyid, keys A", "", "", []*Verifier{a.verifier}, ErrThreshold},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := bundleJSON(t, signedByB)
			m["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = tc.hint
			sigOf(m)["keyid"] = tc.keyid
			bun := encodeJSON(t, m)
			res, err := VerifyBundle(context.Background(), bun, VerifyOptions{Keys: tc.keys})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("VerifyBundle = %v, want %v", err, tc.wantErr)
				}
				for _, k := range tc.keys {
					if _, err := sigstoreVerify(sigstoreKeyMaterial(t, k.Public(), 0), bun, nil); err == nil {
						t.Errorf("cosign --key %s accepts what VerifyBundle refuses", k.keyID)
					}
				}
				return
			}
			if err != nil || len(res.KeyIDs) != 1 || res.KeyIDs[0] != idB {
				t.Fatalf("VerifyBundle = %v; want accepted with key %s", err, idB)
			}
			if _, err := sigstoreVerify(sigstoreKeyMaterial(t, b.verifier.Public(), 0), bun, nil); err != nil {
				t.Errorf("cosign --key B refuses what VerifyBundle accepts: %v", err)
			}
		})
	}
}
