package provenance

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// Encrypted private keys in cosign's format (sigstore/cosign
// pkg/cosign/keys.go; sigstore/sigstore pkg/cryptoutils/privatekey.go):
// a PEM block of type "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign before 2.0
// wrote "ENCRYPTED COSIGN PRIVATE KEY") whose bytes are the JSON envelope
// of go-securesystemslib's encrypted package,
//
//	{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":B64},
//	 "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
//
// the secretbox (XSalsa20-Poly1305) of the PKCS #8 DER of the key under the
// 32-byte scrypt of the password. That package does the cryptography here,
// as it does in cosign; this file parses and checks the envelope first, so
// that a damaged file gets a precise error and never costs a key
// derivation.

// PEM block types of encrypted private keys.
const (
	// EncryptedKeyPEMType is what EncryptPrivateKey writes, and cosign
	// since 2.0.
	EncryptedKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// LegacyEncryptedKeyPEMType is what cosign wrote before 2.0; read only.
	LegacyEncryptedKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
)

// Errors of encrypted private keys, for callers to branch on.
var (
	// ErrNoPassword: the key is encrypted and no password was given.
	ErrNoPassword = errors.New("private key is encrypted and no password was given")
	// ErrKeyPassword: the key does not decrypt with the password. The
	// authenticated encryption cannot tell a wrong password from a
	// damaged ciphertext.
	ErrKeyPassword = errors.New("private key does not decrypt: wrong password, or the key file is damaged")
)

// The envelope's constants (go-securesystemslib encrypted/encrypted.go).
const (
	kdfScrypt          = "scrypt"
	cipherSecretBox    = "nacl/secretbox"
	secretBoxNonceSize = 24
	secretBoxOverhead  = 16 // Poly1305 tag
	// maxEncryptedKeyDER bounds the ciphertext: a PKCS #8 P-384 key is
	// under 200 bytes, an RSA-4096 one under 2.5 KiB.
	maxEncryptedKeyDER = 16 << 10
)

// scryptParams are the scrypt cost parameters the envelope names. Only the
// three sets the encrypted package writes are accepted (it refuses any
// other): a key file cannot make the derivation cost more than N = 2^17,
// r = 8, 128 MiB and about half a second.
type scryptParams struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

var acceptedScrypt = []scryptParams{
	{N: 1 << 15, R: 8, P: 1}, // encrypted.Legacy; cosign before 1.x wrote it
	{N: 1 << 16, R: 8, P: 1}, // encrypted.Standard, what Encrypt and cosign write
	{N: 1 << 17, R: 8, P: 1}, // encrypted.OWASP
}

// encryptedKey is the JSON envelope of an encrypted key.
type encryptedKey struct {
	KDF struct {
		Name   string       `json:"name"`
		Params scryptParams `json:"params"`
		Salt   []byte       `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// parseEncryptedKey checks the JSON envelope of an encrypted key without
// deriving any key from a password.
func parseEncryptedKey(b []byte) (*encryptedKey, error) {
	var k encryptedKey
	// json.Unmarshal, as the encrypted package reads it: data after the
	// object is an error, names match case-insensitively.
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("encrypted private key: envelope JSON: %w", err)
	}
	switch {
	case k.KDF.Name != kdfScrypt:
		return nil, fmt.Errorf("encrypted private key: kdf %q, want %q", k.KDF.Name, kdfScrypt)
	case !isAcceptedScrypt(k.KDF.Params):
		return nil, fmt.Errorf("encrypted private key: scrypt parameters N=%d r=%d p=%d, want one of %v", k.KDF.Params.N, k.KDF.Params.R, k.KDF.Params.P, acceptedScrypt)
	case len(k.KDF.Salt) == 0:
		return nil, errors.New("encrypted private key: scrypt salt is empty")
	case k.Cipher.Name != cipherSecretBox:
		return nil, fmt.Errorf("encrypted private key: cipher %q, want %q", k.Cipher.Name, cipherSecretBox)
	case len(k.Cipher.Nonce) != secretBoxNonceSize:
		return nil, fmt.Errorf("encrypted private key: nonce of %d bytes, want %d", len(k.Cipher.Nonce), secretBoxNonceSize)
	case len(k.Ciphertext) <= secretBoxOverhead:
		return nil, fmt.Errorf("encrypted private key: ciphertext of %d bytes, want more than %d", len(k.Ciphertext), secretBoxOverhead)
	case len(k.Ciphertext) > maxEncryptedKeyDER:
		return nil, fmt.Errorf("encrypted private key: ciphertext of %d bytes, want at most %d", len(k.Ciphertext), maxEncryptedKeyDER)
	}
	return &k, nil
}

func isAcceptedScrypt(p scryptParams) bool {
	for _, a := range acceptedScrypt {
		if p == a {
			return true
		}
	}
	return false
}

// EncryptPrivateKey encrypts a PKCS #8 PEM private key (as GenerateKey
// writes it) with password, in cosign's format: a PEM block of type
// EncryptedKeyPEMType, scrypt N = 2^16, r = 8, p = 1 as cosign uses. The
// password must not be empty.
func EncryptPrivateKey(privatePEM, password []byte) ([]byte, error) {
	if len(password) == 0 {
		return nil, errors.New("empty password: the key would be encrypted with no secret")
	}
	s, err := ParseSigner(privatePEM)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return nil, fmt.Errorf("encoding %s private key: %w", s.alg, err)
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, fmt.Errorf("encrypting private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: EncryptedKeyPEMType, Bytes: enc}), nil
}

// IsEncryptedKey reports whether b starts with a PEM block of an encrypted
// private key in cosign's format.
func IsEncryptedKey(b []byte) bool {
	block, _ := pem.Decode(b)
	return block != nil && (block.Type == EncryptedKeyPEMType || block.Type == LegacyEncryptedKeyPEMType)
}

// LoadSigner reads a private key: PKCS #8 PEM (as ParseSigner), or
// encrypted in cosign's format, which password, called only then, gives
// the password of. A nil password reads unencrypted keys only. Errors
// never quote the key or the password; they wrap ErrNoPassword when the key
// is encrypted and password is nil, ErrKeyPassword when it does not
// decrypt.
func LoadSigner(privatePEM []byte, password func() ([]byte, error)) (*Signer, error) {
	block, _ := pem.Decode(privatePEM)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found, want %q or %q", privateKeyPEMType, EncryptedKeyPEMType)
	}
	switch block.Type {
	case privateKeyPEMType:
		return ParseSigner(privatePEM)
	case EncryptedKeyPEMType, LegacyEncryptedKeyPEMType:
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q (PKCS #8 with PBES2) is unsupported, want %q or %q (`measure keygen --encrypt`, `cosign generate-key-pair`, or `cosign import-key-pair`)", block.Type, privateKeyPEMType, EncryptedKeyPEMType)
	default:
		return nil, fmt.Errorf("PEM block %q, want %q or %q", block.Type, privateKeyPEMType, EncryptedKeyPEMType)
	}
	if _, err := parseEncryptedKey(block.Bytes); err != nil {
		return nil, err
	}
	if password == nil {
		return nil, ErrNoPassword
	}
	pw, err := password()
	if err != nil {
		return nil, err
	}
	der, err := encrypted.Decrypt(block.Bytes, pw)
	if err != nil {
		return nil, ErrKeyPassword
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("encrypted private key: decrypted bytes are not a PKCS #8 DER key")
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key type %T cannot sign", k)
	}
	return NewSigner(cs)
}
