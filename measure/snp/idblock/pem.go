package idblock

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrPEM: a PEM file without a key this package reads.
var ErrPEM = errors.New("not a P-384 key in PEM")

// errNoPrivateKey: PEM without a private key block.
var errNoPrivateKey = fmt.Errorf("%w: no PRIVATE KEY or EC PRIVATE KEY block", ErrPEM)

// ParsePrivateKeyPEM reads a P-384 private key: unencrypted PKCS #8
// ("PRIVATE KEY", what measure keygen --alg ecdsa-p384 writes) or SEC 1
// ("EC PRIVATE KEY", what openssl ecparam -genkey writes and
// sev-snp-measure's test keys are). The first PEM block that is either is
// read; other blocks (EC PARAMETERS) are skipped.
func ParsePrivateKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errNoPrivateKey
		}
		var k any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: the private key is encrypted; decrypt it first (openssl pkey)", ErrPEM)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s block: %v", ErrPEM, block.Type, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T, want an ECDSA key", ErrUnsupported, k)
		}
		if ek.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA key on %s, want P-384", ErrUnsupported, ek.Curve.Params().Name)
		}
		return ek, nil
	}
}

// ParsePublicKeyPEM reads a P-384 public key: PKIX ("PUBLIC KEY", what
// measure keygen writes to PREFIX.pub and openssl ec -pubout writes), or
// the public half of a private key ParsePrivateKeyPEM reads.
func ParsePublicKeyPEM(b []byte) (*ecdsa.PublicKey, error) {
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PUBLIC KEY block: %v", ErrPEM, err)
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T, want an ECDSA key", ErrUnsupported, k)
		}
		if ek.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA key on %s, want P-384", ErrUnsupported, ek.Curve.Params().Name)
		}
		return ek, nil
	}
	priv, err := ParsePrivateKeyPEM(b)
	if errors.Is(err, errNoPrivateKey) {
		return nil, fmt.Errorf("%w: no PUBLIC KEY, PRIVATE KEY or EC PRIVATE KEY block", ErrPEM)
	}
	if err != nil {
		return nil, err
	}
	return &priv.PublicKey, nil
}
