package provenance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Verification failures. Verify wraps exactly one of them, with the details,
// so that callers can tell the cases apart with errors.Is.
var (
	// ErrMalformedEnvelope: the envelope is not DSSE JSON (truncated, a
	// field missing, base64 that does not decode).
	ErrMalformedEnvelope = errors.New("malformed DSSE envelope")
	// ErrPayloadType: the payload is not an in-toto statement.
	ErrPayloadType = errors.New("wrong DSSE payload type")
	// ErrBadSignature: a signature claims one of the given keys and does not
	// verify: the payload or the signature was altered.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrThreshold: fewer signatures from the given keys verify than the
	// threshold asks for (for instance, signed with another key).
	ErrThreshold = errors.New("not enough valid signatures")
	// ErrInvalidStatement: the payload is not a valid in-toto statement, or
	// its predicate does not match its schema.
	ErrInvalidStatement = errors.New("invalid statement")
	// ErrSubjectMismatch: an artifact's digests match no subject.
	ErrSubjectMismatch = errors.New("artifact matches no subject")
)

// Sign checks that statement is a valid in-toto statement (see
// ValidateStatement) and returns a DSSE envelope, as indented JSON, holding
// it exactly as given with one signature per signer.
func Sign(ctx context.Context, statement []byte, signers ...*Signer) ([]byte, error) {
	st, err := ParseStatement(statement)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidStatement, err)
	}
	if err := ValidateStatement(st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidStatement, err)
	}
	if len(signers) == 0 {
		return nil, errors.New("no signing key given")
	}
	seen := map[string]bool{}
	ss := make([]dsse.Signer, 0, len(signers))
	for _, s := range signers {
		if seen[s.keyID] {
			return nil, fmt.Errorf("key %s is given twice", s.keyID)
		}
		seen[s.keyID] = true
		ss = append(ss, s)
	}
	es, err := dsse.NewEnvelopeSigner(ss...)
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, statement)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return marshalEnvelope(env)
}

func marshalEnvelope(env *dsse.Envelope) ([]byte, error) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// PAE returns the DSSE pre-authentication encoding of payload, the bytes a
// signature covers: "DSSEv1 <len(type)> <type> <len(payload)> <payload>".
func PAE(payloadType string, payload []byte) []byte { return dsse.PAE(payloadType, payload) }

// Envelope is a parsed DSSE envelope, the payload decoded.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one signature of an envelope, decoded.
type Signature struct {
	KeyID string
	Sig   []byte
}

// MaxSignatures is the most signatures an envelope may carry. Each costs a
// signature check over the whole payload, and envelopes come from
// registries: the bound keeps a crafted envelope from costing minutes.
const MaxSignatures = 64

// ParseEnvelope parses a DSSE envelope: JSON with a payloadType, a base64
// payload and 1 to MaxSignatures signatures with base64 sig. Errors wrap
// ErrMalformedEnvelope.
func ParseEnvelope(b []byte) (*Envelope, error) {
	env, err := parseEnvelope(b)
	if err != nil {
		return nil, err
	}
	out := &Envelope{PayloadType: env.PayloadType}
	if out.Payload, err = decodeB64(env.Payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformedEnvelope, err)
	}
	for i, s := range env.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d: %w", ErrMalformedEnvelope, i, err)
		}
		out.Signatures = append(out.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return out, nil
}

func parseEnvelope(b []byte) (*dsse.Envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	env := &dsse.Envelope{}
	if err := dec.Decode(env); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformedEnvelope, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the envelope's JSON object", ErrMalformedEnvelope)
	}
	switch {
	case env.PayloadType == "":
		return nil, fmt.Errorf("%w: payloadType is missing", ErrMalformedEnvelope)
	case env.Payload == "":
		return nil, fmt.Errorf("%w: payload is missing", ErrMalformedEnvelope)
	case len(env.Signatures) == 0:
		return nil, fmt.Errorf("%w: no signatures", ErrMalformedEnvelope)
	case len(env.Signatures) > MaxSignatures:
		return nil, fmt.Errorf("%w: %d signatures, want at most %d", ErrMalformedEnvelope, len(env.Signatures), MaxSignatures)
	}
	for i, s := range env.Signatures {
		if s.Sig == "" {
			return nil, fmt.Errorf("%w: signature %d is empty", ErrMalformedEnvelope, i)
		}
	}
	return env, nil
}

// decodeB64 accepts standard and URL-safe base64, as DSSE asks of verifiers.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return b, nil
	}
	if b, err2 := base64.URLEncoding.DecodeString(s); err2 == nil {
		return b, nil
	}
	return nil, fmt.Errorf("base64: %w", err)
}

// VerifyOptions says what Verify trusts and checks.
type VerifyOptions struct {
	// Keys are the trusted public keys. A key given twice counts once.
	Keys []*Verifier
	// Threshold is how many distinct keys must have signed; 0 means 1.
	Threshold int
	// Artifacts, when set, must each match a subject of the statement by
	// digest (see Digests and MatchSubject). Name is used in messages only.
	Artifacts []Subject
}

// Verified is what Verify established.
type Verified struct {
	// Statement is the verified statement; Payload its exact bytes.
	Statement *intoto.Statement
	Payload   []byte
	// KeyIDs are the keys whose signatures verified.
	KeyIDs []string
	// Subjects holds, for each artifact, the subject it matched.
	Subjects []Subject
}

// Verify checks a DSSE envelope in this order: it parses, with at most
// MaxSignatures signatures (ErrMalformedEnvelope); its payload type is
// PayloadType (ErrPayloadType); no signature whose keyid names a given key
// fails (ErrBadSignature, even when other signatures verify); at least
// Threshold of the given keys signed it (ErrThreshold); the payload is a
// valid in-toto statement whose predicate matches its schema
// (ErrInvalidStatement); every artifact matches a subject
// (ErrSubjectMismatch). Errors in the options themselves wrap none of these.
//
// A signature with a keyid is checked only against the key it names, and
// skipped when it names none of the given keys; a signature without a keyid
// is checked against each given key that has not yet verified, once.
func Verify(ctx context.Context, envelope []byte, o VerifyOptions) (*Verified, error) {
	keys, threshold, err := o.keys()
	if err != nil {
		return nil, err
	}
	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: %q, want %q", ErrPayloadType, env.PayloadType, PayloadType)
	}
	vs := make([]keyVerifier, len(keys))
	for i, k := range keys {
		vs[i] = k
	}
	accepted, err := verifySignatures(ctx, env, vs, threshold)
	if err != nil {
		return nil, err
	}
	payload := env.Payload
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidStatement, err)
	}
	if err := ValidateStatement(st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidStatement, err)
	}
	out := &Verified{Statement: st, Payload: payload, KeyIDs: accepted}
	for _, a := range o.Artifacts {
		s, err := MatchSubject(st, a.Digest)
		if err != nil {
			return nil, fmt.Errorf("artifact %q: %w", a.Name, err)
		}
		out.Subjects = append(out.Subjects, s)
	}
	return out, nil
}

func (o VerifyOptions) keys() ([]*Verifier, int, error) {
	var keys []*Verifier
	seen := map[string]bool{}
	for _, k := range o.Keys {
		if k == nil || seen[k.keyID] {
			continue
		}
		seen[k.keyID] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, 0, errors.New("no verification key given")
	}
	t := o.Threshold
	if t == 0 {
		t = 1
	}
	if t < 0 || t > len(keys) {
		return nil, 0, fmt.Errorf("threshold %d, want 1 to %d (the number of distinct keys)", t, len(keys))
	}
	return keys, t, nil
}

// keyVerifier is what verifySignatures needs of a trusted key: *Verifier,
// or a fake in tests.
type keyVerifier interface {
	// KeyID returns the key id, never an error for a parsed key.
	KeyID() (string, error)
	// verifyMessage reports whether sig is a valid signature over m.
	verifyMessage(m *signedMessage, sig []byte) bool
}

// verifySignatures checks env's signatures against keys (distinct key ids)
// over one PAE, and returns the ids of the keys that verified, in signature
// order. Each signature with a keyid is checked once, against the key it
// names; one without is checked against each key not yet verified, once.
// Signatures repeated byte for byte are checked once. Any failure of a
// signature that names a given key is ErrBadSignature; otherwise fewer than
// threshold verified keys is ErrThreshold.
func verifySignatures(ctx context.Context, env *Envelope, keys []keyVerifier, threshold int) ([]string, error) {
	ids := make([]string, len(keys))
	byID := make(map[string]keyVerifier, len(keys))
	for i, k := range keys {
		id, err := k.KeyID()
		if err != nil {
			return nil, err
		}
		ids[i] = id
		byID[id] = k
	}
	msg := &signedMessage{pae: PAE(env.PayloadType, env.Payload)}
	valid := map[string]bool{}
	var accepted, bad, unknown []string
	keyless := 0 // signatures without keyid that verified with no key
	type sigKey struct{ keyID, sig string }
	seen := map[sigKey]bool{}
	for _, s := range env.Signatures {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sk := sigKey{s.KeyID, string(s.Sig)}
		if seen[sk] {
			continue
		}
		seen[sk] = true
		if s.KeyID != "" {
			k, ok := byID[s.KeyID]
			switch {
			case !ok:
				unknown = append(unknown, s.KeyID)
			case !k.verifyMessage(msg, s.Sig):
				bad = append(bad, s.KeyID)
			case !valid[s.KeyID]:
				valid[s.KeyID] = true
				accepted = append(accepted, s.KeyID)
			}
			continue
		}
		ok := false
		for i, k := range keys {
			if valid[ids[i]] || !k.verifyMessage(msg, s.Sig) {
				continue
			}
			valid[ids[i]] = true
			accepted = append(accepted, ids[i])
			ok = true
			break
		}
		if !ok {
			keyless++
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %d signature(s) by given keys fail over this payload, the first by key %s: the payload or the signature was altered", ErrBadSignature, len(bad), bad[0])
	}
	if len(valid) >= threshold {
		return accepted, nil
	}
	var other []string
	if len(unknown) > 0 {
		other = append(other, "signed by other key(s): "+strings.Join(unknown, ", "))
	}
	if keyless > 0 {
		other = append(other, fmt.Sprintf("%d signature(s) without keyid verify with none of them", keyless))
	}
	more := ""
	if len(other) > 0 {
		more = "; " + strings.Join(other, "; ")
	}
	return nil, fmt.Errorf("%w: %d valid from the %d given key(s), want %d%s", ErrThreshold, len(valid), len(keys), threshold, more)
}

// signedMessage is the PAE a signature covers, with its SHA-256 and SHA-384
// computed at most once however many signatures and keys are checked.
type signedMessage struct {
	pae            []byte
	sum256, sum384 []byte
}

func (m *signedMessage) sha256() []byte {
	if m.sum256 == nil {
		h := sha256.Sum256(m.pae)
		m.sum256 = h[:]
	}
	return m.sum256
}

func (m *signedMessage) sha384() []byte {
	if m.sum384 == nil {
		h := sha512.Sum384(m.pae)
		m.sum384 = h[:]
	}
	return m.sum384
}
