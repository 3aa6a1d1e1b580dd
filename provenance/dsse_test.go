package provenance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testKey is a generated key pair, parsed.
type testKey struct {
	privPEM, pubPEM []byte
	signer          *Signer
	verifier        *Verifier
}

func newTestKey(t testing.TB, alg KeyAlgorithm) testKey {
	t.Helper()
	priv, pub, err := GenerateKey(alg, nil)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	s, err := ParseSigner(priv)
	if err != nil {
		t.Fatalf("ParseSigner(%s): %v", alg, err)
	}
	v, err := ParseVerifier(pub)
	if err != nil {
		t.Fatalf("ParseVerifier(%s): %v", alg, err)
	}
	return testKey{priv, pub, s, v}
}

func statementBytes(t *testing.T) []byte {
	t.Helper()
	b, err := Marshal(goldenStatements(t)["snp-sweep"])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeys(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			if !strings.HasPrefix(string(k.privPEM), "-----BEGIN PRIVATE KEY-----\n") {
				t.Errorf("private key PEM starts %q, want a PKCS #8 PRIVATE KEY block", k.privPEM[:30])
			}
			if !strings.HasPrefix(string(k.pubPEM), "-----BEGIN PUBLIC KEY-----\n") {
				t.Errorf("public key PEM starts %q, want a PUBLIC KEY block", k.pubPEM[:30])
			}
			// The key id is the sha256 of the public key's DER, computed
			// here from the PEM file alone.
			block, _ := pem.Decode(k.pubPEM)
			sum := sha256.Sum256(block.Bytes)
			want := hex.EncodeToString(sum[:])
			sid, _ := k.signer.KeyID()
			vid, _ := k.verifier.KeyID()
			if sid != want || vid != want {
				t.Errorf("KeyID: signer %s, verifier %s, want %s", sid, vid, want)
			}
			if k.signer.Algorithm() != alg || k.verifier.Algorithm() != alg {
				t.Errorf("Algorithm: signer %s, verifier %s, want %s", k.signer.Algorithm(), k.verifier.Algorithm(), alg)
			}
			pub, err := k.signer.PublicPEM()
			if err != nil || string(pub) != string(k.pubPEM) {
				t.Errorf("Signer.PublicPEM() = %q, %v, want %q", pub, err, k.pubPEM)
			}
			msg := []byte("message")
			sig, err := k.signer.Sign(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.verifier.Verify(context.Background(), msg, sig); err != nil {
				t.Errorf("Verify(Sign(msg)): %v", err)
			}
			if err := k.verifier.Verify(context.Background(), []byte("massage"), sig); err == nil {
				t.Errorf("Verify(other message) = nil, want an error")
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	k := newTestKey(t, Ed25519)
	block, _ := pem.Decode(k.privPEM)
	secret := base64.StdEncoding.EncodeToString(block.Bytes)
	tests := []struct {
		name    string
		parse   func([]byte) error
		in      []byte
		wantErr string
	}{
		{name: "verifier given private key", parse: parseVerifierErr, in: k.privPEM, wantErr: `PEM block "PRIVATE KEY" is a private key, want the public key`},
		{name: "signer given public key", parse: parseSignerErr, in: k.pubPEM, wantErr: `PEM block "PUBLIC KEY", want "PRIVATE KEY"`},
		{name: "not PEM", parse: parseSignerErr, in: []byte("hello"), wantErr: "no PEM block found"},
		{name: "corrupt PKCS8", parse: parseSignerErr, in: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:20]}), wantErr: "PKCS #8 DER does not parse"},
		{name: "corrupt PKIX", parse: parseVerifierErr, in: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), wantErr: "PKIX DER does not parse"},
		{name: "RSA", parse: parseVerifierErr, in: rsaPublicPEM(t), wantErr: "unsupported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parse = %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret[:16]) || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error %q quotes key material", err)
			}
		})
	}
}

func parseSignerErr(b []byte) error   { _, err := ParseSigner(b); return err }
func parseVerifierErr(b []byte) error { _, err := ParseVerifier(b); return err }

// rsaPublicPEM is an RSA public key, unsupported on purpose.
func rsaPublicPEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	stmt := statementBytes(t)
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			env, err := Sign(ctx, stmt, k.signer)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			var raw struct {
				PayloadType string `json:"payloadType"`
				Payload     string `json:"payload"`
				Signatures  []struct {
					KeyID string `json:"keyid"`
					Sig   string `json:"sig"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal(env, &raw); err != nil {
				t.Fatalf("envelope is not JSON: %v", err)
			}
			id, _ := k.verifier.KeyID()
			if raw.PayloadType != PayloadType || len(raw.Signatures) != 1 || raw.Signatures[0].KeyID != id {
				t.Errorf("envelope = %+v, want payload type %q and one signature by %s", raw, PayloadType, id)
			}
			if p, _ := base64.StdEncoding.DecodeString(raw.Payload); string(p) != string(stmt) {
				t.Errorf("payload is not the statement as given")
			}
			got, err := Verify(ctx, env, VerifyOptions{Keys: []*Verifier{k.verifier}})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff([]string{id}, got.KeyIDs); diff != "" {
				t.Errorf("Verify KeyIDs (-want +got):\n%s", diff)
			}
			if string(got.Payload) != string(stmt) {
				t.Errorf("Verify payload differs from the statement")
			}
		})
	}
}

func TestSignRefusesInvalidStatements(t *testing.T) {
	k := newTestKey(t, Ed25519)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "not JSON", in: "hello", wantErr: "in-toto statement"},
		{name: "bad predicate", in: strings.Replace(string(statementBytes(t)), `"sev-snp"`, `"sev-xx"`, 1), wantErr: `platform "sev-xx"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(context.Background(), []byte(tc.in), k.signer)
			if !errors.Is(err, ErrInvalidStatement) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Sign() = %v, want ErrInvalidStatement containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Sign(context.Background(), statementBytes(t), k.signer, k.signer); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("Sign(same key twice) = %v, want an error", err)
	}
	if _, err := Sign(context.Background(), statementBytes(t)); err == nil {
		t.Errorf("Sign(no key) = nil error")
	}
}

// editEnvelope decodes env, lets edit change it and encodes it again.
func editEnvelope(t *testing.T, env []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var sentinels = []error{ErrMalformedEnvelope, ErrPayloadType, ErrBadSignature, ErrThreshold, ErrInvalidStatement, ErrSubjectMismatch}

func TestVerifyFailures(t *testing.T) {
	ctx := context.Background()
	stmt := statementBytes(t)
	a, b, c := newTestKey(t, Ed25519), newTestKey(t, ECDSAP256), newTestKey(t, ECDSAP384)
	signed := func(t *testing.T, payload []byte, ks ...testKey) []byte {
		t.Helper()
		var ss []*Signer
		for _, k := range ks {
			ss = append(ss, k.signer)
		}
		env, err := Sign(ctx, payload, ss...)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	envA := signed(t, stmt, a)
	envAB := signed(t, stmt, a, b)
	firmware := Subject{Name: "OVMF.fd", Digest: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384}}
	other := Subject{Name: "other.fd", Digest: map[string]string{"sha256": hexOf("00", 32)}}

	// A payload that is no statement, signed without Sign's checks.
	badStmt := editEnvelope(t, envA, func(m map[string]any) {
		p := []byte(`{"hello": "world"}`)
		sig, err := a.signer.Sign(ctx, PAE(PayloadType, p))
		if err != nil {
			t.Fatal(err)
		}
		m["payload"] = base64.StdEncoding.EncodeToString(p)
		m["signatures"].([]any)[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
	})
	tampered := editEnvelope(t, envA, func(m map[string]any) {
		p := strings.Replace(string(stmt), `"vcpus": 1`, `"vcpus": 3`, 1)
		m["payload"] = base64.StdEncoding.EncodeToString([]byte(p))
	})

	tests := []struct {
		name      string
		env       []byte
		keys      []testKey
		threshold int
		artifacts []Subject
		want      error // nil for success
		wantMsg   string
	}{
		{name: "valid", env: envA, keys: []testKey{a}, artifacts: []Subject{firmware}},
		{name: "valid, key given twice", env: envA, keys: []testKey{a, a}},
		{name: "valid, one of two keys", env: envA, keys: []testKey{b, a}},
		{name: "valid, threshold 2", env: envAB, keys: []testKey{a, b, c}, threshold: 2},
		{name: "url-safe base64", env: editEnvelope(t, envA, func(m map[string]any) {
			p, _ := base64.StdEncoding.DecodeString(m["payload"].(string))
			m["payload"] = base64.URLEncoding.EncodeToString(p)
		}), keys: []testKey{a}},
		{name: "truncated", env: envA[:len(envA)/2], keys: []testKey{a}, want: ErrMalformedEnvelope, wantMsg: "unexpected EOF"},
		{name: "empty", env: nil, keys: []testKey{a}, want: ErrMalformedEnvelope},
		{name: "trailing data", env: append(append([]byte{}, envA...), "{}"...), keys: []testKey{a}, want: ErrMalformedEnvelope, wantMsg: "data after"},
		{name: "no signatures", env: editEnvelope(t, envA, func(m map[string]any) { m["signatures"] = []any{} }), keys: []testKey{a}, want: ErrMalformedEnvelope, wantMsg: "no signatures"},
		{name: "payload not base64", env: editEnvelope(t, envA, func(m map[string]any) { m["payload"] = "!!!" }), keys: []testKey{a}, want: ErrMalformedEnvelope, wantMsg: "payload"},
		{name: "sig not base64", env: editEnvelope(t, envA, func(m map[string]any) { m["signatures"].([]any)[0].(map[string]any)["sig"] = "!!!" }), keys: []testKey{a}, want: ErrMalformedEnvelope, wantMsg: "signature 0"},
		{name: "payload type", env: editEnvelope(t, envA, func(m map[string]any) { m["payloadType"] = "application/json" }), keys: []testKey{a}, want: ErrPayloadType, wantMsg: `"application/json", want "application/vnd.in-toto+json"`},
		{name: "tampered payload", env: tampered, keys: []testKey{a}, want: ErrBadSignature, wantMsg: "was altered"},
		{name: "tampered signature", env: editEnvelope(t, envA, func(m map[string]any) {
			s := m["signatures"].([]any)[0].(map[string]any)
			sig, _ := base64.StdEncoding.DecodeString(s["sig"].(string))
			sig[0] ^= 1
			s["sig"] = base64.StdEncoding.EncodeToString(sig)
		}), keys: []testKey{a}, want: ErrBadSignature},
		{name: "wrong key", env: envA, keys: []testKey{b}, want: ErrThreshold, wantMsg: "0 valid from the 1 given key(s), want 1; signed by other key(s): "},
		{name: "below threshold", env: envA, keys: []testKey{a, b}, threshold: 2, want: ErrThreshold, wantMsg: "1 valid from the 2 given key(s), want 2"},
		{name: "invalid statement", env: badStmt, keys: []testKey{a}, want: ErrInvalidStatement},
		{name: "swapped artifact", env: envA, keys: []testKey{a}, artifacts: []Subject{firmware, other}, want: ErrSubjectMismatch, wantMsg: `artifact "other.fd"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var vs []*Verifier
			for _, k := range tc.keys {
				vs = append(vs, k.verifier)
			}
			got, err := Verify(ctx, tc.env, VerifyOptions{Keys: vs, Threshold: tc.threshold, Artifacts: tc.artifacts})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if len(got.Subjects) != len(tc.artifacts) {
					t.Errorf("Verify matched %d subjects, want %d", len(got.Subjects), len(tc.artifacts))
				}
				return
			}
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("Verify() = %v; errors.Is(%q) = %v, want %v", err, s, errors.Is(err, s), s == tc.want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Verify() = %v, want a message containing %q", err, tc.wantMsg)
			}
		})
	}
}

func TestVerifyOptionErrors(t *testing.T) {
	a := newTestKey(t, Ed25519)
	env, err := Sign(context.Background(), statementBytes(t), a.signer)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       VerifyOptions
		wantErr string
	}{
		{name: "no key", o: VerifyOptions{}, wantErr: "no verification key"},
		{name: "threshold above keys", o: VerifyOptions{Keys: []*Verifier{a.verifier, a.verifier}, Threshold: 2}, wantErr: "threshold 2, want 1 to 1"},
		{name: "negative threshold", o: VerifyOptions{Keys: []*Verifier{a.verifier}, Threshold: -1}, wantErr: "threshold -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(context.Background(), env, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Verify() = %v, want an error containing %q", err, tc.wantErr)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					t.Errorf("Verify() = %v wraps %v, want an options error", err, s)
				}
			}
		})
	}
}
