package verify

import (
	"encoding/hex"

	"github.com/google/go-sev-guest/abi"

	"github.com/measure-cc/measure/measure/snp/idblock"
)

// KeyDigestPEM returns the ID_KEY_DIGEST or AUTHOR_KEY_DIGEST an SEV-SNP
// report carries when its guest was launched with an ID block signed by
// the P-384 key in pemBytes: SHA-384 of the key's 0x404-byte SEV-SNP
// public key structure. pemBytes is a PKIX public key (measure keygen's
// PREFIX.pub) or a private key, PKCS #8 or SEC 1, whose public half is
// taken.
func KeyDigestPEM(pemBytes []byte) ([48]byte, error) {
	pub, err := idblock.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		return [48]byte{}, err
	}
	return idblock.KeyDigest(pub)
}

// IDKeyDigest is the report's ID_KEY_DIGEST: the digest of the key that
// signed the ID block at launch, zero when there was none.
func (r *SNPReport) IDKeyDigest() [48]byte { return [48]byte(pad48(r.proto.GetIdKeyDigest())) }

// AuthorKeyDigest is the report's AUTHOR_KEY_DIGEST: the digest of the key
// that signed the ID key, zero unless AuthorKeyEnabled.
func (r *SNPReport) AuthorKeyDigest() [48]byte {
	return [48]byte(pad48(r.proto.GetAuthorKeyDigest()))
}

// AuthorKeyEnabled is SIGNER_INFO.AUTHOR_KEY_EN: AUTHOR_KEY_DIGEST holds
// an author key's digest.
func (r *SNPReport) AuthorKeyEnabled() bool {
	si, err := abi.ParseSignerInfo(r.proto.GetSignerInfo())
	return err == nil && si.AuthorKeyEn
}

// pad48 returns b in 48 bytes: ParseSNPReport's protobuf always holds 48.
func pad48(b []byte) []byte {
	out := make([]byte, 48)
	copy(out, b)
	return out
}

// idKeyChecks are p's ID and author key rules for r.
func idKeyChecks(r *SNPReport, p Policy) []Check {
	var checks []Check
	if p.IDKeyDigest != nil {
		got := r.IDKeyDigest()
		g := hex.EncodeToString(got[:])
		if got == ([48]byte{}) {
			g += " (no ID block at launch)"
		}
		checks = append(checks, Check{Name: "ID_KEY_DIGEST", Got: g, Want: hex.EncodeToString(p.IDKeyDigest[:]), OK: got == *p.IDKeyDigest})
	}
	if p.AuthorKeyDigest != nil {
		got := r.AuthorKeyDigest()
		en := r.AuthorKeyEnabled()
		g := hex.EncodeToString(got[:])
		if !en {
			g += " (SIGNER_INFO.AUTHOR_KEY_EN 0: launched without an author key)"
		}
		checks = append(checks, Check{Name: "AUTHOR_KEY_DIGEST", Got: g, Want: hex.EncodeToString(p.AuthorKeyDigest[:]), OK: en && got == *p.AuthorKeyDigest})
	}
	return checks
}
