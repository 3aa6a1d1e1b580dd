package provenance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// The independent implementation here is sigstore/sigstore's cryptoutils
// (v1.10.8), the package cosign and sigstore-go read and write encrypted
// keys with: UnmarshalPEMToPrivateKey reads "ENCRYPTED SIGSTORE PRIVATE
// KEY" blocks, GeneratePEMEncodedECDSAKeyPair and
// MarshalPrivateKeyToEncryptedDER write them. The keys cosign's own tests
// read are in testdata/cosign (verify/testdata/README.md).

const testPassword = "correct horse battery staple"

func staticPassword(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func encryptTestKey(t testing.TB, alg KeyAlgorithm) (encPEM []byte, k testKey) {
	t.Helper()
	k = newTestKey(t, alg)
	enc, err := EncryptPrivateKey(k.privPEM, []byte(testPassword))
	if err != nil {
		t.Fatalf("EncryptPrivateKey(%s): %v", alg, err)
	}
	return enc, k
}

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// TestEncryptedKeyRoundTrip: an encrypted key reads back with its password
// into the same key, which signs what its public key verifies.
func TestEncryptedKeyRoundTrip(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			enc, k := encryptTestKey(t, alg)
			if !strings.HasPrefix(string(enc), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n") {
				t.Errorf("encrypted key starts %q", enc[:40])
			}
			if !IsEncryptedKey(enc) || IsEncryptedKey(k.privPEM) {
				t.Error("IsEncryptedKey does not tell the encrypted key from the plain one")
			}
			s, err := LoadSigner(enc, staticPassword(testPassword))
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			if !samePublic(s.Public(), k.verifier.Public()) {
				t.Error("decrypted key's public key differs")
			}
			env, err := Sign(context.Background(), statementBytes(t), s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(context.Background(), env, VerifyOptions{Keys: []*Verifier{k.verifier}}); err != nil {
				t.Errorf("envelope signed with the decrypted key: %v", err)
			}
		})
	}
}

// TestSigstoreReadsEncryptedKey: sigstore's cryptoutils decrypts what
// EncryptPrivateKey writes into the same key, with the same password.
func TestSigstoreReadsEncryptedKey(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			enc, k := encryptTestKey(t, alg)
			priv, err := cryptoutils.UnmarshalPEMToPrivateKey(enc, cryptoutils.StaticPasswordFunc([]byte(testPassword)))
			if err != nil {
				t.Fatalf("cryptoutils.UnmarshalPEMToPrivateKey: %v", err)
			}
			cs, ok := priv.(crypto.Signer)
			if !ok || !samePublic(cs.Public(), k.verifier.Public()) {
				t.Errorf("cryptoutils decrypted %T, not the key encrypted", priv)
			}
			if _, err := cryptoutils.UnmarshalPEMToPrivateKey(enc, cryptoutils.StaticPasswordFunc([]byte("wrong"))); err == nil {
				t.Error("cryptoutils decrypted the key with a wrong password")
			}
		})
	}
}

// TestLoadSigstoreEncryptedKey: LoadSigner reads keys that sigstore's
// cryptoutils generated and encrypted: ECDSA P-256 as cosign
// generate-key-pair makes them, P-384, and Ed25519.
func TestLoadSigstoreEncryptedKey(t *testing.T) {
	pf := cryptoutils.StaticPasswordFunc([]byte(testPassword))
	privP256, pubP256, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), pf)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(k crypto.Signer) (priv, pub []byte) {
		der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(k, pf)
		if err != nil {
			t.Fatal(err)
		}
		pub, err = cryptoutils.MarshalPublicKeyToPEM(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), pub
	}
	privP384, pubP384 := encode(p384)
	privEd, pubEd := encode(ed)
	for _, tc := range []struct {
		name      string
		priv, pub []byte
		alg       KeyAlgorithm
	}{
		{"ecdsa-p256 generated", privP256, pubP256, ECDSAP256},
		{"ecdsa-p384", privP384, pubP384, ECDSAP384},
		{"ed25519", privEd, pubEd, Ed25519},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSigner(tc.priv, staticPassword(testPassword))
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			v, err := ParseVerifier(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != tc.alg || !samePublic(s.Public(), v.Public()) {
				t.Errorf("LoadSigner = %s key, want %s with the public key cryptoutils wrote", s.Algorithm(), tc.alg)
			}
			if _, err := LoadSigner(tc.priv, staticPassword("wrong")); !errors.Is(err, ErrKeyPassword) {
				t.Errorf("LoadSigner with a wrong password = %v, want ErrKeyPassword", err)
			}
		})
	}
}

// TestCosignTestKeys reads the encrypted keys of cosign's
// TestReadingPrivatePemTypes (pkg/cosign/keys_test.go), password "hello".
// cosign's LoadPrivateKey reads the first two and fails on the third, whose
// plaintext is a SEC 1 EC key rather than PKCS #8; so does LoadSigner.
func TestCosignTestKeys(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{"cosign-legacy-p256.key", ""},
		{"sigstore-p256.key", ""},
		{"cosign-legacy-sec1.key", "not a PKCS #8 DER key"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/cosign/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := LoadSigner(b, staticPassword("hello"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadSigner = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			if s.Algorithm() != ECDSAP256 {
				t.Errorf("LoadSigner = %s key, want ecdsa-p256", s.Algorithm())
			}
			if _, err := LoadSigner(b, staticPassword("hell")); !errors.Is(err, ErrKeyPassword) {
				t.Errorf("LoadSigner with a wrong password = %v, want ErrKeyPassword", err)
			}
		})
	}
}

// editEnvelope rewrites the JSON envelope of an encrypted key PEM.
func editEncrypted(t testing.TB, encPEM []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	block, _ := pem.Decode(encPEM)
	var m map[string]any
	if err := json.Unmarshal(block.Bytes, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: b})
}

// TestEncryptedKeyErrors: each defect gets its own error, none quotes the
// password, and a damaged envelope costs no key derivation.
func TestEncryptedKeyErrors(t *testing.T) {
	enc, k := encryptTestKey(t, Ed25519)
	kdf := func(m map[string]any) map[string]any { return m["kdf"].(map[string]any) }
	cipher := func(m map[string]any) map[string]any { return m["cipher"].(map[string]any) }
	called := false
	failing := func() ([]byte, error) { called = true; return nil, errors.New("no terminal") }
	tests := []struct {
		name       string
		key        []byte
		password   func() ([]byte, error)
		wantErr    string
		wantIs     error
		noPassword bool // the password function must not be called
	}{
		{name: "wrong password", key: enc, password: staticPassword("Correct horse battery staple"), wantIs: ErrKeyPassword},
		{name: "empty password", key: enc, password: staticPassword(""), wantIs: ErrKeyPassword},
		{name: "no password", key: enc, wantIs: ErrNoPassword},
		{name: "password error", key: enc, password: failing, wantErr: "no terminal"},
		{name: "ciphertext altered", key: editEncrypted(t, enc, func(m map[string]any) {
			c, _ := base64.StdEncoding.DecodeString(m["ciphertext"].(string))
			c[len(c)/2] ^= 1
			m["ciphertext"] = base64.StdEncoding.EncodeToString(c)
		}), password: staticPassword(testPassword), wantIs: ErrKeyPassword},
		{name: "scrypt N 2^20", key: editEncrypted(t, enc, func(m map[string]any) {
			kdf(m)["params"].(map[string]any)["N"] = 1 << 20
		}), password: failing, wantErr: "scrypt parameters N=1048576 r=8 p=1", noPassword: true},
		{name: "kdf", key: editEncrypted(t, enc, func(m map[string]any) { kdf(m)["name"] = "argon2" }), password: failing, wantErr: `kdf "argon2", want "scrypt"`, noPassword: true},
		{name: "no salt", key: editEncrypted(t, enc, func(m map[string]any) { delete(kdf(m), "salt") }), password: failing, wantErr: "salt is empty", noPassword: true},
		{name: "cipher", key: editEncrypted(t, enc, func(m map[string]any) { cipher(m)["name"] = "aes-gcm" }), password: failing, wantErr: `cipher "aes-gcm"`, noPassword: true},
		{name: "nonce", key: editEncrypted(t, enc, func(m map[string]any) { cipher(m)["nonce"] = "AAAA" }), password: failing, wantErr: "nonce of 3 bytes, want 24", noPassword: true},
		{name: "short ciphertext", key: editEncrypted(t, enc, func(m map[string]any) { m["ciphertext"] = "AAAA" }), password: failing, wantErr: "ciphertext of 3 bytes", noPassword: true},
		{name: "not JSON", key: pem.EncodeToMemory(&pem.Block{Type: EncryptedKeyPEMType, Bytes: []byte("{")}), password: failing, wantErr: "envelope JSON", noPassword: true},
		{name: "PKCS #8 encrypted", key: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30}}), password: failing, wantErr: "PBES2) is unsupported", noPassword: true},
		{name: "public key", key: k.pubPEM, password: failing, wantErr: `PEM block "PUBLIC KEY"`, noPassword: true},
		{name: "no PEM", key: []byte("hello"), password: failing, wantErr: "no PEM block", noPassword: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called = false
			_, err := LoadSigner(tc.key, tc.password)
			if err == nil {
				t.Fatal("LoadSigner succeeded")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("LoadSigner = %v, want %v", err, tc.wantIs)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("LoadSigner = %v, want %q in it", err, tc.wantErr)
			}
			if tc.noPassword && called {
				t.Error("the password was asked for a key that cannot be decrypted")
			}
			if strings.Contains(err.Error(), "horse") {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}

	// An unencrypted key never asks for a password.
	called = false
	if _, err := LoadSigner(k.privPEM, failing); err != nil || called {
		t.Errorf("LoadSigner(plain key) = %v, password asked: %v", err, called)
	}
	if _, err := EncryptPrivateKey(k.privPEM, nil); err == nil {
		t.Error("EncryptPrivateKey with an empty password succeeded")
	}
	if _, err := EncryptPrivateKey(k.pubPEM, []byte(testPassword)); err == nil {
		t.Error("EncryptPrivateKey of a public key succeeded")
	}
}
