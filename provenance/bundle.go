package provenance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Sigstore bundles: the protobuf-specs message Bundle
// (sigstore/protobuf-specs protos/sigstore_bundle.proto) in its JSON
// encoding, the form `cosign verify-blob-attestation --bundle` and
// sigstore-go read. measure writes version 0.3 with a DSSE envelope as
// content and a public-key hint as verification material: no
// certificate, no transparency-log entry, no timestamp. Reading and writing
// use the protobuf-specs Go types, the ones sigstore-go and cosign use, so
// the field names and the base64 of bytes fields are theirs.

// BundleMediaType is the media type of the bundles SignBundle writes,
// Sigstore bundle version 0.3 in its JSON encoding.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// bundleMediaTypes maps the media types a reader must accept
// (sigstore_bundle.proto, Bundle.media_type) to their versions.
var bundleMediaTypes = map[string]string{
	"application/vnd.dev.sigstore.bundle+json;version=0.1": "v0.1",
	"application/vnd.dev.sigstore.bundle+json;version=0.2": "v0.2",
	"application/vnd.dev.sigstore.bundle+json;version=0.3": "v0.3",
	BundleMediaType: "v0.3",
}

// bundleMediaTypePrefix starts every Sigstore bundle media type.
const bundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"

// ErrKeylessBundle: the bundle's verification material is an X.509
// certificate (Sigstore's keyless signing with Fulcio) rather than a public
// key hint. measure verifies bundles against public keys only. It wraps
// ErrMalformedEnvelope: the bundle is not one measure can read.
var ErrKeylessBundle = fmt.Errorf("%w: keyless (X.509 certificate) bundle", ErrMalformedEnvelope)

// SignedFormat says how a signed statement is packaged.
type SignedFormat string

// The packagings Sign, SignBundle and VerifySigned handle.
const (
	FormatEnvelope SignedFormat = "DSSE envelope"
	FormatBundle   SignedFormat = "Sigstore bundle"
)

// Bundle is a parsed Sigstore bundle with a DSSE envelope as content.
type Bundle struct {
	// MediaType is the bundle's media type and Version its version
	// ("v0.1" to "v0.3").
	MediaType, Version string
	// KeyHint is the verification material's public key hint (which
	// measure writes as KeyHint computes it; other signers write other
	// forms, or nothing).
	KeyHint string
	// Envelope is the DSSE envelope, with exactly one signature.
	Envelope *Envelope
	// TlogEntries and Timestamps count the transparency-log entries and
	// RFC 3161 timestamps the bundle carries. Verification with a key
	// does not check them (see VerifyBundle).
	TlogEntries, Timestamps int
}

// KeyHint returns the public key hint measure writes into a bundle for pub:
// the OpenSSH SHA-256 fingerprint of the key, "SHA256:" and the unpadded
// base64 of the SHA-256 of its SSH wire encoding (what `ssh-keygen -l`
// prints). It is also the keyid of the DSSE signature in the bundle: the
// bundle specification asks that the two be equal, and sigstore-go's DSSE
// check skips a signature whose keyid is neither empty nor this
// fingerprint.
func KeyHint(pub crypto.PublicKey) (string, error) {
	if _, err := algorithmOf(pub); err != nil {
		return "", err
	}
	h, err := dsse.SHA256KeyID(pub)
	if err != nil {
		return "", fmt.Errorf("public key fingerprint: %w", err)
	}
	return h, nil
}

// keyHints returns every form of key id under which a bundle may name
// pub: measure's and the securesystemslib DSSE keyid (KeyHint), cosign's
// hint (the standard base64 of the SHA-256 of the PKIX DER) and the DSSE
// keyid of measure's envelopes (its lower-case hex, KeyID).
func keyHints(pub crypto.PublicKey) ([]string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	fp, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return []string{fp, base64.StdEncoding.EncodeToString(sum[:]), id}, nil
}

// SignBundle checks that statement is a valid in-toto statement (see
// ValidateStatement) and returns a Sigstore bundle, as indented JSON,
// whose content is a DSSE envelope holding it exactly as given, signed by
// signer. A bundle holds one signature: sign several times for several
// keys. Its verification material is the key hint (KeyHint) alone.
func SignBundle(ctx context.Context, statement []byte, signer *Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("no signing key given")
	}
	envJSON, err := Sign(ctx, statement, signer)
	if err != nil {
		return nil, err
	}
	env, err := ParseEnvelope(envJSON)
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(signer.Public())
	if err != nil {
		return nil, err
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{
			DsseEnvelope: &protodsse.Envelope{
				Payload:     env.Payload,
				PayloadType: env.PayloadType,
				Signatures:  []*protodsse.Signature{{Sig: env.Signatures[0].Sig, Keyid: hint}},
			},
		},
	}
	raw, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	// protojson varies its whitespace from build to build on purpose;
	// re-indenting makes the bytes a function of the content alone.
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// DetectFormat tells a Sigstore bundle from a DSSE envelope: a JSON object
// with a "mediaType" (or "media_type") member is a bundle, anything else is
// taken for an envelope, whose parser then says what is wrong with it. It
// reads the top-level members only as far as needed, so that a truncated
// bundle is still reported as a bundle, and skips the values before
// "mediaType" only to maxDetectDepth levels of nesting (no bundle nests
// half as deep): a deeper one is taken for an envelope, so that the work
// and memory stay bounded whatever the input.
func DetectFormat(b []byte) SignedFormat {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return FormatEnvelope
	}
	for {
		t, err := dec.Token()
		if err != nil {
			return FormatEnvelope
		}
		key, ok := t.(string)
		if !ok { // the closing brace
			return FormatEnvelope
		}
		if key == "mediaType" || key == "media_type" {
			return FormatBundle
		}
		if err := skipJSONValue(dec, maxDetectDepth); err != nil {
			return FormatEnvelope
		}
	}
}

// maxDetectDepth bounds the nesting DetectFormat skips. json.Decoder.Token
// keeps a stack entry per open array or object, so an unbounded depth
// would let {"a":[[[[... hold memory in proportion to the input.
const maxDetectDepth = 64

// skipJSONValue reads one value from dec, nested at most maxDepth deep.
func skipJSONValue(dec *json.Decoder, maxDepth int) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxDepth {
				return fmt.Errorf("JSON nested more than %d deep", maxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// ParseBundle parses a Sigstore bundle in its JSON encoding, with the
// protobuf-specs types and protojson as sigstore-go does (unknown fields
// and repeated fields are errors), and checks what measure relies on: a
// version 0.1 to 0.3 media type; a DSSE envelope as content with a payload
// type, a payload and exactly one signature (as the bundle specification
// requires); a public key as verification material. Errors wrap
// ErrMalformedEnvelope; a certificate as verification material wraps
// ErrKeylessBundle.
func ParseBundle(b []byte) (*Bundle, error) {
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(b, pb); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle JSON: %w", ErrMalformedEnvelope, err)
	}
	out := &Bundle{MediaType: pb.GetMediaType()}
	v, ok := bundleMediaTypes[out.MediaType]
	if !ok {
		return nil, fmt.Errorf("%w: bundle media type %q, want %q (or version 0.1 to 0.3)", ErrMalformedEnvelope, out.MediaType, BundleMediaType)
	}
	out.Version = v
	vm := pb.GetVerificationMaterial()
	switch c := vm.GetContent().(type) {
	case *protobundle.VerificationMaterial_PublicKey:
		out.KeyHint = c.PublicKey.GetHint()
	case *protobundle.VerificationMaterial_Certificate, *protobundle.VerificationMaterial_X509CertificateChain:
		return nil, fmt.Errorf("%w: measure verifies bundles signed with a key; check this one with cosign or sigstore-go and a trusted root", ErrKeylessBundle)
	default:
		return nil, fmt.Errorf("%w: bundle has no verification material (public key hint or certificate)", ErrMalformedEnvelope)
	}
	out.TlogEntries = len(vm.GetTlogEntries())
	out.Timestamps = len(vm.GetTimestampVerificationData().GetRfc3161Timestamps())
	var env *protodsse.Envelope
	switch c := pb.GetContent().(type) {
	case *protobundle.Bundle_DsseEnvelope:
		env = c.DsseEnvelope
	case *protobundle.Bundle_MessageSignature:
		return nil, fmt.Errorf("%w: bundle content is a message signature (a signed blob), want a DSSE envelope", ErrMalformedEnvelope)
	default:
		return nil, fmt.Errorf("%w: bundle has no content", ErrMalformedEnvelope)
	}
	switch {
	case env == nil:
		return nil, fmt.Errorf("%w: bundle has no content", ErrMalformedEnvelope)
	case env.GetPayloadType() == "":
		return nil, fmt.Errorf("%w: bundle's DSSE payloadType is missing", ErrMalformedEnvelope)
	case len(env.GetPayload()) == 0:
		return nil, fmt.Errorf("%w: bundle's DSSE payload is missing", ErrMalformedEnvelope)
	case len(env.GetSignatures()) != 1:
		return nil, fmt.Errorf("%w: bundle's DSSE envelope has %d signatures, want exactly 1", ErrMalformedEnvelope, len(env.GetSignatures()))
	case len(env.GetSignatures()[0].GetSig()) == 0:
		return nil, fmt.Errorf("%w: bundle's DSSE signature is empty", ErrMalformedEnvelope)
	}
	s := env.GetSignatures()[0]
	out.Envelope = &Envelope{
		PayloadType: env.GetPayloadType(),
		Payload:     env.GetPayload(),
		Signatures:  []Signature{{KeyID: s.GetKeyid(), Sig: s.GetSig()}},
	}
	return out, nil
}

// VerifyBundle checks a Sigstore bundle against the given public keys, as
// Verify checks an envelope, with the same errors in the same order: the
// bundle parses (ParseBundle: ErrMalformedEnvelope, ErrKeylessBundle), and
// then its DSSE envelope is verified by Verify.
//
// The signature's keyid, if it has one, binds it to the key it names (in
// any form keyHints lists), as an envelope's keyid does: should it not
// verify with that key, the error is ErrBadSignature, even when another
// given key would verify it; should the keyid name no given key,
// ErrThreshold. The hint, which nothing signs, only says which key to try
// first: a signature without keyid verifies with whichever given key it
// verifies with; if none, the error is ErrBadSignature when the hint names
// a given key and ErrThreshold otherwise. A bundle holds one signature, so
// a Threshold above 1 fails with ErrThreshold.
//
// This is key-based, offline verification, as `cosign
// verify-blob-attestation --key --insecure-ignore-tlog` and sigstore-go's
// verifier with WithNoObserverTimestamps and WithKey do it: the key is
// trusted for as long as the caller gives it, so no time of signing is
// needed, and transparency-log entries and timestamps the bundle may carry
// are not checked (Bundle.TlogEntries and Timestamps count them).
func VerifyBundle(ctx context.Context, bundle []byte, o VerifyOptions) (*Verified, error) {
	keys, _, err := o.keys()
	if err != nil {
		return nil, err
	}
	b, err := ParseBundle(bundle)
	if err != nil {
		return nil, err
	}
	claimed, err := claimedKey(b, keys)
	if err != nil {
		return nil, err
	}
	s := b.Envelope.Signatures[0]
	env, err := marshalEnvelope(&dsse.Envelope{
		PayloadType: b.Envelope.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(b.Envelope.Payload),
		Signatures:  []dsse.Signature{{KeyID: claimed, Sig: base64.StdEncoding.EncodeToString(s.Sig)}},
	})
	if err != nil {
		return nil, err
	}
	return Verify(ctx, env, o)
}

// claimedKey returns the keyid under which Verify checks the bundle's
// signature: the id (KeyID) of a given key, the signature's own keyid when
// that names no given key (Verify then skips it), or "" to check it against
// each key. Neither the keyid nor the hint is signed; they say which key to
// try, and the signature decides:
//
//   - a keyid, in any form keyHints lists, binds the signature to the key
//     it names, as a DSSE envelope's keyid does: should it fail with that
//     key, the error is ErrBadSignature; should the keyid name no given
//     key, ErrThreshold. sigstore-go (under cosign) does the same: it skips
//     a signature whose keyid is neither empty nor its key's fingerprint.
//   - without a keyid, the signature verifies with whichever given key it
//     verifies with, the hint's key tried first. cosign's --key ignores the
//     hint, so a bundle whose hint names key A and that key B signed
//     verifies there with --key B, and here with keys A and B.
//   - without a keyid, a signature that verifies with no given key claims
//     the hint's key if the hint names one (ErrBadSignature: the bundle
//     says that key signed it), or none (ErrThreshold).
func claimedKey(b *Bundle, keys []*Verifier) (string, error) {
	named := func(name string) (*Verifier, error) {
		if name == "" {
			return nil, nil
		}
		for _, k := range keys {
			hints, err := keyHints(k.pub)
			if err != nil {
				return nil, err
			}
			if slices.Contains(hints, name) {
				return k, nil
			}
		}
		return nil, nil
	}
	s := b.Envelope.Signatures[0]
	k, err := named(s.KeyID)
	if err != nil {
		return "", err
	}
	if k != nil {
		return k.keyID, nil
	}
	if s.KeyID != "" {
		return s.KeyID, nil
	}
	hinted, err := named(b.KeyHint)
	if err != nil || hinted == nil {
		return "", err
	}
	msg := &signedMessage{pae: PAE(b.Envelope.PayloadType, b.Envelope.Payload)}
	if hinted.verifyMessage(msg, s.Sig) {
		return hinted.keyID, nil
	}
	for _, k := range keys {
		if k != hinted && k.verifyMessage(msg, s.Sig) {
			return k.keyID, nil
		}
	}
	return hinted.keyID, nil
}

// VerifySigned verifies data, a DSSE envelope or a Sigstore bundle
// (DetectFormat tells which), with Verify or VerifyBundle, and says which
// it was.
func VerifySigned(ctx context.Context, data []byte, o VerifyOptions) (*Verified, SignedFormat, error) {
	f := DetectFormat(data)
	var v *Verified
	var err error
	if f == FormatBundle {
		v, err = VerifyBundle(ctx, data, o)
	} else {
		v, err = Verify(ctx, data, o)
	}
	return v, f, err
}
