package provenance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
)

// KeyAlgorithm names a signing algorithm and key type.
type KeyAlgorithm string

// The signing algorithms. ECDSA signs the SHA-256 (P-256) or SHA-384 (P-384)
// of the message and encodes the signature in ASN.1 DER; Ed25519 signs the
// message itself.
const (
	Ed25519   KeyAlgorithm = "ed25519"
	ECDSAP256 KeyAlgorithm = "ecdsa-p256"
	ECDSAP384 KeyAlgorithm = "ecdsa-p384"
)

// KeyAlgorithms lists the supported algorithms, the default first.
var KeyAlgorithms = []KeyAlgorithm{Ed25519, ECDSAP256, ECDSAP384}

// PEM block types of the key files.
const (
	privateKeyPEMType = "PRIVATE KEY" // PKCS #8
	publicKeyPEMType  = "PUBLIC KEY"  // PKIX SubjectPublicKeyInfo
)

// ParseKeyAlgorithm returns the algorithm named s.
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	if a := KeyAlgorithm(s); slices.Contains(KeyAlgorithms, a) {
		return a, nil
	}
	return "", fmt.Errorf("key algorithm %q is unknown, want one of %v", s, KeyAlgorithms)
}

// GenerateKey makes a key pair with randomness from random (crypto/rand's
// Reader when nil) and returns the private key as PKCS #8 PEM and the public
// key as PKIX PEM. The private key is not encrypted: store it 0600.
func GenerateKey(alg KeyAlgorithm, random io.Reader) (privatePEM, publicPEM []byte, err error) {
	if random == nil {
		random = rand.Reader
	}
	var priv crypto.Signer
	switch alg {
	case Ed25519:
		_, k, err := ed25519.GenerateKey(random)
		if err != nil {
			return nil, nil, fmt.Errorf("generating %s key: %w", alg, err)
		}
		priv = k
	case ECDSAP256, ECDSAP384:
		curve := elliptic.P256()
		if alg == ECDSAP384 {
			curve = elliptic.P384()
		}
		k, err := ecdsa.GenerateKey(curve, random)
		if err != nil {
			return nil, nil, fmt.Errorf("generating %s key: %w", alg, err)
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("key algorithm %q is unknown, want one of %v", alg, KeyAlgorithms)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding %s private key: %w", alg, err)
	}
	pubPEM, err := publicKeyPEM(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyPEMType, Bytes: der}), pubPEM, nil
}

func publicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyPEMType, Bytes: der}), nil
}

// KeyID returns the key id of pub as DSSE signatures carry it: the
// lower-case hex SHA-256 of its PKIX (SubjectPublicKeyInfo) DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:]), nil
}

// algorithmOf checks that pub is a supported key and returns its algorithm.
func algorithmOf(pub crypto.PublicKey) (KeyAlgorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return Ed25519, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256, nil
		case elliptic.P384():
			return ECDSAP384, nil
		}
		return "", fmt.Errorf("ECDSA curve %s is unsupported, want P-256 or P-384", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("key type %T is unsupported, want one of %v", pub, KeyAlgorithms)
}

// Signer signs DSSE envelopes with a private key. It implements the
// go-securesystemslib dsse.Signer interface.
type Signer struct {
	key   crypto.Signer
	alg   KeyAlgorithm
	keyID string
}

// ParseSigner reads a PKCS #8 PEM private key (as GenerateKey writes it).
// Errors never quote the key.
func ParseSigner(privatePEM []byte) (*Signer, error) {
	block, err := findPEM(privatePEM, privateKeyPEMType)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("private key: PKCS #8 DER does not parse")
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key type %T cannot sign", k)
	}
	return NewSigner(cs)
}

// NewSigner wraps an Ed25519 or ECDSA P-256/P-384 private key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	alg, err := algorithmOf(key.Public())
	if err != nil {
		return nil, err
	}
	id, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, alg: alg, keyID: id}, nil
}

// Sign signs data: Ed25519 over data itself, ECDSA over its SHA-256 or
// SHA-384, giving an ASN.1 DER signature.
func (s *Signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch s.alg {
	case Ed25519:
		return s.key.Sign(rand.Reader, data, crypto.Hash(0))
	case ECDSAP256:
		h := sha256.Sum256(data)
		return s.key.Sign(rand.Reader, h[:], crypto.SHA256)
	case ECDSAP384:
		h := sha512.Sum384(data)
		return s.key.Sign(rand.Reader, h[:], crypto.SHA384)
	}
	return nil, fmt.Errorf("key algorithm %q is unknown", s.alg)
}

// KeyID returns the key id (see KeyID).
func (s *Signer) KeyID() (string, error) { return s.keyID, nil }

// Algorithm returns the signing algorithm.
func (s *Signer) Algorithm() KeyAlgorithm { return s.alg }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// PublicPEM returns the public key as PKIX PEM.
func (s *Signer) PublicPEM() ([]byte, error) { return publicKeyPEM(s.key.Public()) }

// Verifier checks DSSE signatures with a public key. It implements the
// go-securesystemslib dsse.Verifier interface.
type Verifier struct {
	pub   crypto.PublicKey
	alg   KeyAlgorithm
	keyID string
}

// ParseVerifier reads a PKIX PEM public key (as GenerateKey writes it).
// Given a private key instead, it refuses, and says so.
func ParseVerifier(publicPEM []byte) (*Verifier, error) {
	block, err := findPEM(publicPEM, publicKeyPEMType)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("public key: PKIX DER does not parse")
	}
	return NewVerifier(pub)
}

// NewVerifier wraps an Ed25519 or ECDSA P-256/P-384 public key.
func NewVerifier(pub crypto.PublicKey) (*Verifier, error) {
	alg, err := algorithmOf(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{pub: pub, alg: alg, keyID: id}, nil
}

// Verify checks sig over data as Signer.Sign makes it.
func (v *Verifier) Verify(_ context.Context, data, sig []byte) error {
	if !v.verifyMessage(&signedMessage{pae: data}, sig) {
		return fmt.Errorf("%s signature does not verify with key %s", v.alg, v.keyID)
	}
	return nil
}

// verifyMessage checks sig over m.pae, using m's cached digest for ECDSA.
func (v *Verifier) verifyMessage(m *signedMessage, sig []byte) bool {
	switch v.alg {
	case Ed25519:
		return ed25519.Verify(v.pub.(ed25519.PublicKey), m.pae, sig)
	case ECDSAP256:
		return ecdsa.VerifyASN1(v.pub.(*ecdsa.PublicKey), m.sha256(), sig)
	case ECDSAP384:
		return ecdsa.VerifyASN1(v.pub.(*ecdsa.PublicKey), m.sha384(), sig)
	}
	return false
}

// KeyID returns the key id (see KeyID).
func (v *Verifier) KeyID() (string, error) { return v.keyID, nil }

// Algorithm returns the signing algorithm.
func (v *Verifier) Algorithm() KeyAlgorithm { return v.alg }

// Public returns the public key.
func (v *Verifier) Public() crypto.PublicKey { return v.pub }

// findPEM returns the first PEM block in b, which must be of type want.
// Errors name block types, never their contents.
func findPEM(b []byte, want string) (*pem.Block, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found, want %q", want)
	}
	if block.Type == want {
		return block, nil
	}
	if want == publicKeyPEMType && (block.Type == privateKeyPEMType || block.Type == "EC PRIVATE KEY" || block.Type == "ENCRYPTED PRIVATE KEY") {
		return nil, fmt.Errorf("PEM block %q is a private key, want the public key (%q)", block.Type, want)
	}
	return nil, fmt.Errorf("PEM block %q, want %q", block.Type, want)
}
