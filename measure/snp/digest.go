package snp

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// SNPDigest is an SEV-SNP launch digest (the attestation report's
// MEASUREMENT): a SHA-384 chained over PAGE_INFO structures.
type SNPDigest [48]byte

// SEVDigest is an SEV or SEV-ES launch digest: a SHA-256 over the launch
// update data in order. (The report's measurement is an HMAC over it.)
type SEVDigest [32]byte

// String returns lower-case hex.
func (d SNPDigest) String() string { return hex.EncodeToString(d[:]) }

// Base64 returns the standard base64 encoding.
func (d SNPDigest) Base64() string { return base64.StdEncoding.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler as lower-case hex.
func (d SNPDigest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it takes 96 hex digits.
func (d *SNPDigest) UnmarshalText(b []byte) error {
	v, err := ParseSNPDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseSNPDigest parses 48 bytes written as 96 hex digits.
func ParseSNPDigest(s string) (SNPDigest, error) {
	var d SNPDigest
	if err := decodeHex(d[:], s); err != nil {
		return d, err
	}
	return d, nil
}

// String returns lower-case hex.
func (d SEVDigest) String() string { return hex.EncodeToString(d[:]) }

// Base64 returns the standard base64 encoding.
func (d SEVDigest) Base64() string { return base64.StdEncoding.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler as lower-case hex.
func (d SEVDigest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it takes 64 hex digits.
func (d *SEVDigest) UnmarshalText(b []byte) error {
	return decodeHex(d[:], string(b))
}

func decodeHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("digest %q: %d hex digits, want %d", s, len(s), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("digest %q: %w", s, err)
	}
	return nil
}
