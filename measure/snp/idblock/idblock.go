// Package idblock builds and checks the SEV-SNP ID block and ID
// authentication information: the two structures a host passes to
// SNP_LAUNCH_FINISH (QEMU's sev-snp-guest id-block and id-auth options) so
// that the firmware refuses to launch a guest whose launch digest is not the
// one an ID key signed, and so that the guest's attestation reports carry
// ID_KEY_DIGEST and AUTHOR_KEY_DIGEST.
//
// The layouts are the SEV-SNP ABI specification's (AMD 56860) "ID_BLOCK
// Structure", "ID Authentication Information Structure", "ECDSA Public Key
// Format" and "ECDSA Signature Format"; the defaults and the output are
// those of sev-snp-measure's snp-create-id-block
// (sevsnpmeasure/id_block.py@8f2b337). Only ECDSA P-384 with SHA-384
// (algorithm 1, curve 2) exists in the ABI, and only it is supported.
//
// It does not compute the launch digest (package snp does) and does not
// read attestation reports (package verify does).
package idblock

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Sizes of the structures, SEV-SNP ABI.
const (
	// BlockSize is the size of the ID block (KVM_SEV_SNP_ID_BLOCK_SIZE).
	BlockSize = 0x60
	// AuthSize is the size of the ID authentication information
	// (KVM_SEV_SNP_ID_AUTH_SIZE).
	AuthSize = 0x1000
	// PublicKeySize is the size of an ECDSA public key structure, the
	// bytes ID_KEY_DIGEST and AUTHOR_KEY_DIGEST are the SHA-384 of.
	PublicKeySize = 0x404
	// SignatureSize is the size of an ECDSA signature structure.
	SignatureSize = 0x200
	// ComponentSize is the size of QX, QY, R and S: little-endian, zero
	// beyond the curve's 48 bytes.
	ComponentSize = 0x48
)

// Values the ABI defines and sev-snp-measure writes.
const (
	// AlgoECDSAP384SHA384 is ID_KEY_ALGO and AUTHOR_KEY_ALGO 1: ECDSA
	// P-384 with SHA-384, the only algorithm the ABI defines.
	AlgoECDSAP384SHA384 = 1
	// CurveP384 is the ECDSA public key's CURVE for P-384.
	CurveP384 = 2
	// BlockVersion is the ID block's VERSION; the firmware accepts only 1.
	BlockVersion = 1
	// DefaultPolicy is the guest policy snp-create-id-block (and QEMU's
	// sev-snp-guest policy option) defaults to: SMT allowed (bit 16) and
	// the reserved bit 17, which must be 1.
	DefaultPolicy = 0x30000
)

// p384Size is the byte length of a P-384 field element or scalar.
const p384Size = 48

// Field offsets, SEV-SNP ABI (the structs' comments repeat them; a test
// checks them against the structs).
const (
	blockFamilyID = 0x30
	blockImageID  = 0x40
	blockVersion  = 0x50
	blockGuestSVN = 0x54
	blockPolicy   = 0x58

	keyQX       = 0x04
	keyQY       = 0x4c
	keyReserved = 0x94

	sigS        = 0x48
	sigReserved = 0x90

	authAuthorKeyAlgo = 0x004
	authReserved1     = 0x008
	authIDBlockSig    = 0x040
	authIDKey         = 0x240
	authReserved2     = 0x644
	authIDKeySig      = 0x680
	authAuthorKey     = 0x880
	authReserved3     = 0xc84
)

// Errors callers branch on.
var (
	// ErrSize: a structure of the wrong length.
	ErrSize = errors.New("wrong size")
	// ErrUnsupported: a key or algorithm other than ECDSA P-384.
	ErrUnsupported = errors.New("unsupported key or algorithm")
	// ErrInvalidKey: a public key structure that is not a point on its curve.
	ErrInvalidKey = errors.New("invalid public key")
	// ErrSignature: a signature that does not verify.
	ErrSignature = errors.New("signature does not verify")
)

// Block is the ID block (SEV-SNP ABI "ID_BLOCK Structure"), 0x60 bytes,
// little-endian. The firmware launches the guest only if LD equals the
// launch digest and POLICY the guest policy; FAMILY_ID, IMAGE_ID and
// GUEST_SVN then appear in its attestation reports.
type Block struct {
	LD       [48]byte // 0x00: the expected launch digest
	FamilyID [16]byte // 0x30
	ImageID  [16]byte // 0x40
	Version  uint32   // 0x50: BlockVersion
	GuestSVN uint32   // 0x54
	Policy   uint64   // 0x58: the guest policy
}

// NewBlock returns the ID block snp-create-id-block makes for the launch
// digest ld: zero FAMILY_ID, IMAGE_ID and GUEST_SVN, VERSION 1,
// DefaultPolicy.
func NewBlock(ld [48]byte) Block {
	return Block{LD: ld, Version: BlockVersion, Policy: DefaultPolicy}
}

// MarshalBinary returns the block's 0x60 bytes.
func (b Block) MarshalBinary() ([]byte, error) {
	out := make([]byte, BlockSize)
	copy(out, b.LD[:])
	copy(out[blockFamilyID:], b.FamilyID[:])
	copy(out[blockImageID:], b.ImageID[:])
	le.PutUint32(out[blockVersion:], b.Version)
	le.PutUint32(out[blockGuestSVN:], b.GuestSVN)
	le.PutUint64(out[blockPolicy:], b.Policy)
	return out, nil
}

// ParseBlock reads an ID block. It checks the size only: VERSION is what
// the firmware checks.
func ParseBlock(b []byte) (Block, error) {
	var blk Block
	if err := checkSize(b, BlockSize, "ID block"); err != nil {
		return blk, err
	}
	copy(blk.LD[:], b)
	copy(blk.FamilyID[:], b[blockFamilyID:])
	copy(blk.ImageID[:], b[blockImageID:])
	blk.Version = le.Uint32(b[blockVersion:])
	blk.GuestSVN = le.Uint32(b[blockGuestSVN:])
	blk.Policy = le.Uint64(b[blockPolicy:])
	return blk, nil
}

// PublicKey is an ECDSA public key as the firmware reads it (SEV-SNP ABI
// "ECDSA Public Key Format"), 0x404 bytes.
type PublicKey struct {
	Curve    uint32                            // 0x000: CurveP384
	QX       [ComponentSize]byte               // 0x004: little-endian
	QY       [ComponentSize]byte               // 0x04c: little-endian
	Reserved [PublicKeySize - keyReserved]byte // 0x094
}

// PublicKeyOf converts a P-384 public key.
func PublicKeyOf(k *ecdsa.PublicKey) (PublicKey, error) {
	var pk PublicKey
	if k == nil || k.Curve != elliptic.P384() {
		return pk, fmt.Errorf("%w: public key is not on P-384", ErrUnsupported)
	}
	raw, err := k.Bytes() // 0x04 || X || Y, big-endian, 48 bytes each
	if err != nil {
		return pk, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	pk.Curve = CurveP384
	putLE(pk.QX[:], raw[1:1+p384Size])
	putLE(pk.QY[:], raw[1+p384Size:])
	return pk, nil
}

// ECDSA returns the key as crypto/ecdsa reads it. It fails when CURVE is
// not P-384, or QX, QY are not a point on it (which covers a nonzero byte
// beyond the 48 of a coordinate).
func (k PublicKey) ECDSA() (*ecdsa.PublicKey, error) {
	if k.Curve != CurveP384 {
		return nil, fmt.Errorf("%w: public key curve %d, want %d (P-384)", ErrUnsupported, k.Curve, CurveP384)
	}
	x, okx := getLE(k.QX[:])
	y, oky := getLE(k.QY[:])
	if !okx || !oky {
		return nil, fmt.Errorf("%w: coordinate longer than %d bytes", ErrInvalidKey, p384Size)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pub, nil
}

// MarshalBinary returns the key's 0x404 bytes.
func (k PublicKey) MarshalBinary() ([]byte, error) {
	out := make([]byte, PublicKeySize)
	k.put(out)
	return out, nil
}

// put writes k to b, which holds at least PublicKeySize bytes.
func (k *PublicKey) put(b []byte) {
	le.PutUint32(b, k.Curve)
	copy(b[keyQX:], k.QX[:])
	copy(b[keyQY:], k.QY[:])
	copy(b[keyReserved:PublicKeySize], k.Reserved[:])
}

// get reads k from b, which holds at least PublicKeySize bytes.
func (k *PublicKey) get(b []byte) {
	k.Curve = le.Uint32(b)
	copy(k.QX[:], b[keyQX:])
	copy(k.QY[:], b[keyQY:])
	copy(k.Reserved[:], b[keyReserved:PublicKeySize])
}

// Digest is SHA-384 of the key's 0x404 bytes: what an attestation report
// carries as ID_KEY_DIGEST or AUTHOR_KEY_DIGEST for it.
func (k PublicKey) Digest() [48]byte {
	b, _ := k.MarshalBinary() // fixed-size arrays: cannot fail
	return sha512.Sum384(b)
}

// KeyDigest is the ID_KEY_DIGEST or AUTHOR_KEY_DIGEST a report carries for
// the P-384 key k.
func KeyDigest(k *ecdsa.PublicKey) ([48]byte, error) {
	pk, err := PublicKeyOf(k)
	if err != nil {
		return [48]byte{}, err
	}
	return pk.Digest(), nil
}

// Signature is an ECDSA signature as the firmware reads it (SEV-SNP ABI
// "ECDSA Signature Format"), 0x200 bytes.
type Signature struct {
	R        [ComponentSize]byte               // 0x00: little-endian
	S        [ComponentSize]byte               // 0x48: little-endian
	Reserved [SignatureSize - sigReserved]byte // 0x90
}

// Sign signs msg's SHA-384 with priv, a P-384 key, taking randomness from
// rand (ECDSA signatures differ from one call to the next).
func Sign(rand io.Reader, priv *ecdsa.PrivateKey, msg []byte) (Signature, error) {
	var sig Signature
	if priv == nil || priv.Curve != elliptic.P384() {
		return sig, fmt.Errorf("%w: private key is not on P-384", ErrUnsupported)
	}
	h := sha512.Sum384(msg)
	r, s, err := ecdsa.Sign(rand, priv, h[:])
	if err != nil {
		return sig, err
	}
	r.FillBytes(sig.R[:p384Size])
	s.FillBytes(sig.S[:p384Size])
	reverse(sig.R[:p384Size])
	reverse(sig.S[:p384Size])
	return sig, nil
}

// Verify reports whether sig is pub's signature of msg's SHA-384.
func (sig Signature) Verify(pub *ecdsa.PublicKey, msg []byte) bool {
	r, okr := getLE(sig.R[:])
	s, oks := getLE(sig.S[:])
	if !okr || !oks || pub == nil {
		return false
	}
	h := sha512.Sum384(msg)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(r), new(big.Int).SetBytes(s))
}

// MarshalBinary returns the signature's 0x200 bytes.
func (sig Signature) MarshalBinary() ([]byte, error) {
	out := make([]byte, SignatureSize)
	sig.put(out)
	return out, nil
}

// ParseSignature reads a signature structure.
func ParseSignature(b []byte) (Signature, error) {
	var sig Signature
	if err := checkSize(b, SignatureSize, "ECDSA signature"); err != nil {
		return sig, err
	}
	sig.get(b)
	return sig, nil
}

// put writes sig to b, which holds at least SignatureSize bytes.
func (sig *Signature) put(b []byte) {
	copy(b, sig.R[:])
	copy(b[sigS:], sig.S[:])
	copy(b[sigReserved:SignatureSize], sig.Reserved[:])
}

// get reads sig from b, which holds at least SignatureSize bytes.
func (sig *Signature) get(b []byte) {
	copy(sig.R[:], b)
	copy(sig.S[:], b[sigS:])
	copy(sig.Reserved[:], b[sigReserved:SignatureSize])
}

// Auth is the ID authentication information (SEV-SNP ABI "ID
// Authentication Information Structure"), 0x1000 bytes: the ID key's
// signature of the ID block, the ID key, and optionally the author key's
// signature of the ID key and the author key.
type Auth struct {
	IDKeyAlgo     uint32      // 0x000: AlgoECDSAP384SHA384
	AuthorKeyAlgo uint32      // 0x004: AlgoECDSAP384SHA384, or 0 without an author key
	Reserved1     [0x38]byte  // 0x008
	IDBlockSig    Signature   // 0x040: ID_BLOCK_SIG, by the ID key over the ID block
	IDKey         PublicKey   // 0x240: ID_KEY
	Reserved2     [0x3c]byte  // 0x644
	IDKeySig      Signature   // 0x680: ID_KEY_SIG, by the author key over ID_KEY's 0x404 bytes
	AuthorKey     PublicKey   // 0x880: AUTHOR_KEY
	Reserved3     [0x37c]byte // 0xc84
}

// MarshalBinary returns the structure's 0x1000 bytes.
func (a *Auth) MarshalBinary() ([]byte, error) {
	out := make([]byte, AuthSize)
	le.PutUint32(out, a.IDKeyAlgo)
	le.PutUint32(out[authAuthorKeyAlgo:], a.AuthorKeyAlgo)
	copy(out[authReserved1:], a.Reserved1[:])
	a.IDBlockSig.put(out[authIDBlockSig:])
	a.IDKey.put(out[authIDKey:])
	copy(out[authReserved2:], a.Reserved2[:])
	a.IDKeySig.put(out[authIDKeySig:])
	a.AuthorKey.put(out[authAuthorKey:])
	copy(out[authReserved3:], a.Reserved3[:])
	return out, nil
}

// ParseAuth reads ID authentication information. It checks the size only;
// Verify checks the contents.
func ParseAuth(b []byte) (*Auth, error) {
	if err := checkSize(b, AuthSize, "ID authentication information"); err != nil {
		return nil, err
	}
	a := new(Auth)
	a.IDKeyAlgo = le.Uint32(b)
	a.AuthorKeyAlgo = le.Uint32(b[authAuthorKeyAlgo:])
	copy(a.Reserved1[:], b[authReserved1:])
	a.IDBlockSig.get(b[authIDBlockSig:])
	a.IDKey.get(b[authIDKey:])
	copy(a.Reserved2[:], b[authReserved2:])
	a.IDKeySig.get(b[authIDKeySig:])
	a.AuthorKey.get(b[authAuthorKey:])
	copy(a.Reserved3[:], b[authReserved3:])
	return a, nil
}

// New signs blk with idKey and, when authorKey is not nil, idKey's public
// key structure with authorKey, as snp-create-id-block does (which
// requires the author key). Both keys must be on P-384.
func New(rand io.Reader, blk Block, idKey, authorKey *ecdsa.PrivateKey) (*Auth, error) {
	if idKey == nil {
		return nil, fmt.Errorf("ID key: %w: none given", ErrUnsupported)
	}
	a := &Auth{IDKeyAlgo: AlgoECDSAP384SHA384}
	var err error
	if a.IDKey, err = PublicKeyOf(&idKey.PublicKey); err != nil {
		return nil, fmt.Errorf("ID key: %w", err)
	}
	msg, err := blk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if a.IDBlockSig, err = Sign(rand, idKey, msg); err != nil {
		return nil, fmt.Errorf("ID key: %w", err)
	}
	if authorKey == nil {
		return a, nil
	}
	a.AuthorKeyAlgo = AlgoECDSAP384SHA384
	if a.AuthorKey, err = PublicKeyOf(&authorKey.PublicKey); err != nil {
		return nil, fmt.Errorf("author key: %w", err)
	}
	idPub, err := a.IDKey.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if a.IDKeySig, err = Sign(rand, authorKey, idPub); err != nil {
		return nil, fmt.Errorf("author key: %w", err)
	}
	return a, nil
}

// HasAuthorKey reports whether a carries an author key: AUTHOR_KEY_ALGO or
// AUTHOR_KEY is nonzero. (The host says so to the firmware separately, with
// SNP_LAUNCH_FINISH's AUTHOR_KEY_EN: QEMU's author-key-enabled.)
func (a *Auth) HasAuthorKey() bool {
	return a.AuthorKeyAlgo != 0 || a.AuthorKey != (PublicKey{})
}

// Verify checks a as the firmware does at SNP_LAUNCH_FINISH: the algorithms
// are ECDSA P-384 with SHA-384, ID_BLOCK_SIG is ID_KEY's signature of blk
// and, when a carries an author key, ID_KEY_SIG is AUTHOR_KEY's signature
// of ID_KEY. It returns the first failure.
func (a *Auth) Verify(blk Block) error {
	if a.IDKeyAlgo != AlgoECDSAP384SHA384 {
		return fmt.Errorf("%w: ID_KEY_ALGO %d, want %d (ECDSA P-384 with SHA-384)", ErrUnsupported, a.IDKeyAlgo, AlgoECDSAP384SHA384)
	}
	idPub, err := a.IDKey.ECDSA()
	if err != nil {
		return fmt.Errorf("ID_KEY: %w", err)
	}
	msg, err := blk.MarshalBinary()
	if err != nil {
		return err
	}
	if !a.IDBlockSig.Verify(idPub, msg) {
		return fmt.Errorf("ID_BLOCK_SIG: %w with ID_KEY %x over the ID block", ErrSignature, a.IDKey.Digest())
	}
	if !a.HasAuthorKey() {
		return nil
	}
	if a.AuthorKeyAlgo != AlgoECDSAP384SHA384 {
		return fmt.Errorf("%w: AUTHOR_KEY_ALGO %d, want %d (ECDSA P-384 with SHA-384)", ErrUnsupported, a.AuthorKeyAlgo, AlgoECDSAP384SHA384)
	}
	authorPub, err := a.AuthorKey.ECDSA()
	if err != nil {
		return fmt.Errorf("AUTHOR_KEY: %w", err)
	}
	idKey, err := a.IDKey.MarshalBinary()
	if err != nil {
		return err
	}
	if !a.IDKeySig.Verify(authorPub, idKey) {
		return fmt.Errorf("ID_KEY_SIG: %w with AUTHOR_KEY %x over ID_KEY", ErrSignature, a.AuthorKey.Digest())
	}
	return nil
}

var le = binary.LittleEndian

// checkSize checks that b, a what, is exactly size bytes.
func checkSize(b []byte, size int, what string) error {
	if len(b) != size {
		return fmt.Errorf("%s is %d bytes, want %d: %w", what, len(b), size, ErrSize)
	}
	return nil
}

// putLE writes the big-endian be into dst little-endian.
func putLE(dst, be []byte) {
	for i, c := range be {
		dst[len(be)-1-i] = c
	}
}

// getLE returns the little-endian le as 48 big-endian bytes, and false
// when a byte beyond the 48th is nonzero.
func getLE(le []byte) ([]byte, bool) {
	for _, c := range le[p384Size:] {
		if c != 0 {
			return nil, false
		}
	}
	be := make([]byte, p384Size)
	putLE(be, le[:p384Size])
	return be, true
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}
