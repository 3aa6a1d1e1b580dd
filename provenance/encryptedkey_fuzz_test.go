package provenance

import (
	"encoding/pem"
	"errors"
	"os"
	"testing"
)

// FuzzEncryptedKey parses arbitrary encrypted-key envelopes (the JSON inside
// the PEM block) without deriving keys: LoadSigner without a password must
// stop at ErrNoPassword exactly when parseEncryptedKey accepts the
// envelope, and never panic.
func FuzzEncryptedKey(f *testing.F) {
	for _, name := range []string{"cosign-legacy-p256.key", "sigstore-p256.key", "cosign-legacy-sec1.key"} {
		b, err := os.ReadFile("testdata/cosign/" + name)
		if err != nil {
			f.Fatal(err)
		}
		block, _ := pem.Decode(b)
		f.Add(block.Bytes)
	}
	f.Add([]byte(`{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, perr := parseEncryptedKey(data)
		_, err := LoadSigner(pem.EncodeToMemory(&pem.Block{Type: EncryptedKeyPEMType, Bytes: data}), nil)
		if (perr == nil) != errors.Is(err, ErrNoPassword) {
			t.Fatalf("parseEncryptedKey = %v but LoadSigner = %v", perr, err)
		}
	})
}
