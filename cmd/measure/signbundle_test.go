//go:build !measure_front

package main

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/measure-cc/measure/provenance"
)

// cosignVerifyBlobAttestation does what `cosign verify-blob-attestation
// --bundle BUNDLE --key PUB --insecure-ignore-tlog --type TYPE BLOB` does
// with a Sigstore bundle (cosign v3.1, cmd/cosign/cli/verify/
// verify_blob_attestation.go and pkg/cosign/verify.go), with the library it
// does it with, sigstore-go: the key loaded with sha256 (cosign's
// --signature-digest-algorithm default; ed25519 ignores it), trusted
// whatever the hint, WithNoObserverTimestamps, WithKey, the blob as
// artifact; then the predicate type compared.
func cosignVerifyBlobAttestation(t *testing.T, bundlePath, pubPath, predicateType, blobPath string) error {
	t.Helper()
	pubPEM, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
	b, err := sgbundle.LoadJSONFromPath(bundlePath)
	if err != nil {
		return err
	}
	v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.Open(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	res, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifact(blob), sgverify.WithKey()))
	if err != nil {
		return err
	}
	if got := res.Statement.GetPredicateType(); got != predicateType {
		t.Errorf("predicate type %q, want %q", got, predicateType)
	}
	return nil
}

// TestSignBundle: sign --bundle writes a bundle that verify accepts,
// printing the statement, and that cosign's verification (with
// sigstore-go) accepts for the firmware it was measured from, with the
// public key keygen wrote.
func TestSignBundle(t *testing.T) {
	f := newSignFixture(t)
	for _, key := range []string{f.a, f.b} { // ed25519, ecdsa-p256: cosign's defaults work
		bun := f.write(t, "refs.sigstore.json", nil)
		f.run(t, 0, "sign", "--bundle", "--key", key+".key", f.statement, "--output-file", bun)
		b, err := os.ReadFile(bun)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"`)) {
			t.Errorf("bundle lacks the v0.3 media type:\n%s", b)
		}
		_, stderr, code := runCLI("verify", "--key", key+".pub", "--artifact", trixie, bun)
		if code != 0 || !strings.Contains(stderr, "Sigstore bundle") {
			t.Fatalf("verify bundle: exit %d, %s", code, stderr)
		}
		if out := f.run(t, 0, "verify", "--key", f.c+".pub", "--key", key+".pub", bun); out != string(f.statementBytes) {
			t.Errorf("verify of the bundle printed %q, want the statement", out)
		}
		if err := cosignVerifyBlobAttestation(t, bun, key+".pub", provenance.PredicateType, trixie); err != nil {
			t.Errorf("cosign's bundle verification (sigstore-go) with %s.pub: %v", key, err)
		}
		other := f.write(t, "other.fd", []byte("not the firmware"))
		if err := cosignVerifyBlobAttestation(t, bun, key+".pub", provenance.PredicateType, other); err == nil {
			t.Error("cosign's bundle verification accepted another blob")
		}
		if err := cosignVerifyBlobAttestation(t, bun, f.c+".pub", provenance.PredicateType, trixie); err == nil {
			t.Error("cosign's bundle verification accepted another key")
		}
	}
	checkNoSecret(t, f.privA, f.outputs...)
}

// TestVerifyBundleFailures: a bundle fails verify with the exit code an
// envelope gets for the same defect.
func TestVerifyBundleFailures(t *testing.T) {
	f := newSignFixture(t)
	bun := f.write(t, "refs.sigstore.json", []byte(f.run(t, 0, "sign", "--bundle", "--key", f.a+".key", f.statement)))
	b, err := os.ReadFile(bun)
	if err != nil {
		t.Fatal(err)
	}
	dsse := func(m map[string]any) map[string]any { return m["dsseEnvelope"].(map[string]any) }
	flip := func(s string, i int) string {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		raw[(i+len(raw))%len(raw)] ^= 1
		return base64.StdEncoding.EncodeToString(raw)
	}
	tampered := f.editEnvelope(t, bun, "tampered.json", func(m map[string]any) {
		p := bytes.Replace(f.statementBytes, []byte(`"vcpus": 1`), []byte(`"vcpus": 3`), 1)
		dsse(m)["payload"] = base64.StdEncoding.EncodeToString(p)
	})
	badSig := f.editEnvelope(t, bun, "badsig.json", func(m map[string]any) {
		s := dsse(m)["signatures"].([]any)[0].(map[string]any)
		s["sig"] = flip(s["sig"].(string), -1)
	})
	payloadType := f.editEnvelope(t, bun, "type.json", func(m map[string]any) { dsse(m)["payloadType"] = "application/json" })
	mediaType := f.editEnvelope(t, bun, "media.json", func(m map[string]any) { m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json" })
	keyless := f.editEnvelope(t, bun, "keyless.json", func(m map[string]any) {
		m["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": "MAA="}}
	})
	truncated := f.write(t, "truncated.json", b[:len(b)/2])
	other := f.write(t, "other.fd", []byte("not the firmware"))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"truncated bundle", []string{"verify", "--key", f.a + ".pub", truncated}, exitMalformedEnvelope, "malformed DSSE envelope"},
		{"media type", []string{"verify", "--key", f.a + ".pub", mediaType}, exitMalformedEnvelope, "bundle media type"},
		{"keyless", []string{"verify", "--key", f.a + ".pub", keyless}, exitMalformedEnvelope, "keyless"},
		{"payload type", []string{"verify", "--key", f.a + ".pub", payloadType}, exitPayloadType, `wrong DSSE payload type: "application/json"`},
		{"tampered payload", []string{"verify", "--key", f.a + ".pub", tampered}, exitBadSignature, "the payload or the signature was altered"},
		{"signature byte", []string{"verify", "--key", f.a + ".pub", badSig}, exitBadSignature, "signature does not verify"},
		{"wrong key", []string{"verify", "--key", f.b + ".pub", bun}, exitThreshold, "not enough valid signatures"},
		{"threshold 2", []string{"verify", "--key", f.a + ".pub", "--key", f.b + ".pub", "--threshold", "2", bun}, exitThreshold, "1 valid from the 2 given key(s), want 2"},
		{"swapped artifact", []string{"verify", "--key", f.a + ".pub", "--artifact", other, bun}, exitSubjectMismatch, "artifact matches no subject"},
		{"bundle with two keys", []string{"sign", "--bundle", "--key", f.a + ".key", "--key", f.b + ".key", f.statement}, exitUsage, "give one --key, not 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			f.outputs = append(f.outputs, stdout, stderr)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", stdout)
			}
			if tc.args[0] == "verify" && !strings.Contains(stderr, "bundle \"") {
				t.Errorf("stderr %q does not call the input a bundle", stderr)
			}
		})
	}
	checkNoSecret(t, f.privA, f.outputs...)
}

// TestEncryptedKeys: keygen --encrypt writes a key in cosign's format with
// the password from the environment, sign reads it with the same password
// (MEASURE_KEY_PASSWORD, else COSIGN_PASSWORD) and says clearly when the
// password is missing or wrong, never printing it; sigstore's cryptoutils
// reads the key with the password.
func TestEncryptedKeys(t *testing.T) {
	f := newSignFixture(t)
	const pw = "s3cret-pass"
	prefix := f.dir + "/enc"

	t.Setenv(passwordEnv, "")
	if _, stderr, code := runCLI("keygen", "--out", prefix, "--encrypt"); code != exitUsage || !strings.Contains(stderr, "$MEASURE_KEY_PASSWORD is empty") {
		t.Errorf("keygen --encrypt with an empty password: exit %d, %s", code, stderr)
	}
	os.Unsetenv(passwordEnv)
	t.Setenv(cosignPasswordEnv, "")
	os.Unsetenv(cosignPasswordEnv)
	if _, stderr, code := runCLI("keygen", "--out", prefix, "--encrypt"); code != exitUsage || !strings.Contains(stderr, "set the password in $MEASURE_KEY_PASSWORD (or $COSIGN_PASSWORD)") {
		t.Errorf("keygen --encrypt without a password: exit %d, %s", code, stderr)
	}

	t.Setenv(passwordEnv, pw)
	_, stderr, code := runCLI("keygen", "--out", prefix, "--encrypt")
	if code != 0 || !strings.Contains(stderr, "encrypted, mode 0600") {
		t.Fatalf("keygen --encrypt: exit %d, %s", code, stderr)
	}
	priv, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(priv); blk == nil || blk.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
		t.Fatalf("keygen --encrypt wrote %q", priv[:min(len(priv), 50)])
	}
	if _, err := cryptoutils.UnmarshalPEMToPrivateKey(priv, cryptoutils.StaticPasswordFunc([]byte(pw))); err != nil {
		t.Errorf("sigstore's cryptoutils cannot read the encrypted key: %v", err)
	}

	env := f.write(t, "enc.dsse.json", []byte(f.run(t, 0, "sign", "--key", prefix+".key", f.statement)))
	f.run(t, 0, "verify", "--key", prefix+".pub", env)
	bun := f.write(t, "enc.sigstore.json", []byte(f.run(t, 0, "sign", "--bundle", "--key", prefix+".key", f.statement)))
	f.run(t, 0, "verify", "--key", prefix+".pub", bun)

	// cosign's variable, when measure's is unset.
	os.Unsetenv(passwordEnv)
	t.Setenv(cosignPasswordEnv, pw)
	f.run(t, 0, "sign", "--key", prefix+".key", f.statement)

	// Wrong and missing passwords.
	t.Setenv(passwordEnv, "wrong")
	stdout, stderr, code := runCLI("sign", "--key", prefix+".key", f.statement)
	f.outputs = append(f.outputs, stdout, stderr)
	if code != exitError || !strings.Contains(stderr, "wrong password") || !strings.Contains(stderr, "$MEASURE_KEY_PASSWORD") || !strings.Contains(stderr, prefix+".key") {
		t.Errorf("sign with a wrong password: exit %d, %s", code, stderr)
	}
	os.Unsetenv(passwordEnv)
	os.Unsetenv(cosignPasswordEnv)
	stdout, stderr, code = runCLI("sign", "--key", prefix+".key", f.statement)
	f.outputs = append(f.outputs, stdout, stderr)
	if code != exitError || !strings.Contains(stderr, "encrypted and no password was given: set its password in $MEASURE_KEY_PASSWORD") {
		t.Errorf("sign without a password: exit %d, %s", code, stderr)
	}
	// A plain key needs no password.
	f.run(t, 0, "sign", "--key", f.a+".key", f.statement)

	for _, out := range f.outputs {
		if strings.Contains(out, pw) {
			t.Errorf("output quotes the password: %q", out)
		}
	}
	checkNoSecret(t, priv, f.outputs...)
}
