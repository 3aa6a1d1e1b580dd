package export

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/measure-cc/measure/provenance"
)

// The CoRIM measure writes, as draft-ietf-rats-corim (ietf-rats-wg/
// draft-ietf-rats-corim, cddl/, commit 0b855af9; docs/interop.md) defines
// it: a signed-corim, #6.18(COSE_Sign1) whose payload is a
// tagged-unsigned-corim-map #6.501, whose tags are tagged-concise-mid-tag
// #6.506(bstr .cbor concise-mid-tag).
const (
	tagCOSESign1 = 18  // signed-corim.cddl
	tagCoRIM     = 501 // tagged-unsigned-corim-map.cddl
	tagCoMID     = 506 // tagged-concise-mid-tag.cddl
	tagURI       = 32  // RFC 8949 URI, profile-type-choice
)

// COSE header labels (RFC 9052, protected-corim-header-map.cddl).
const (
	headerAlg         = 1
	headerContentType = 3
	headerKeyID       = 4
	headerCoRIMMeta   = 8
	headerCWTClaims   = 15
)

// CoRIMContentType is the protected header's content type (3).
const CoRIMContentType = "application/rim+cbor"

// CoRIMProfile identifies what measure's CoRIMs hold beyond the base
// CDDL: one CoMID per launch configuration, whose reference triple's
// environment names the platform (class vendor and model) and whose
// measurements are keyed by register name, with the private-use map keys
// -1 of corim-map (the predicate's platform, firmware, boot, tool and
// timestamp) and of concise-mid-tag (the configuration); docs/interop.md.
const CoRIMProfile = "https://measure-cc.github.io/corim/v1"

// privateUse is the map key, reserved for private use in the CoRIM and
// CoMID map registries (negative values), of measure's extensions.
const privateUse = -1

// corimEnvironments names each platform's environment: class vendor and
// model.
var corimEnvironments = map[string]classMap{
	"sev":     {Vendor: "AMD", Model: "SEV"},
	"sev-es":  {Vendor: "AMD", Model: "SEV-ES"},
	"sev-snp": {Vendor: "AMD", Model: "SEV-SNP"},
	"tdx":     {Vendor: "Intel", Model: "TDX"},
}

// namedInformation are the hash algorithm identifiers of the IANA Named
// Information Hash Algorithm Registry that digests-type uses.
var namedInformation = map[string]int64{"sha256": 1, "sha384": 7, "sha512": 8}

// namedInformationText are the registry's names of the same algorithms,
// which a digest may carry instead of the number.
var namedInformationText = map[string]string{"sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}

// COSE algorithms of the keys measure manages (RFC 9053).
var coseAlgorithms = map[provenance.KeyAlgorithm]cose.Algorithm{
	provenance.Ed25519:   cose.AlgorithmEdDSA,
	provenance.ECDSAP256: cose.AlgorithmES256,
	provenance.ECDSAP384: cose.AlgorithmES384,
}

// corimRoleManifestCreator is the corim-role manifest-creator.
const corimRoleManifestCreator = 1

type corimMap struct {
	ID       any            `cbor:"0,keyasint"`
	Tags     []cbor.RawTag  `cbor:"1,keyasint"`
	Profile  any            `cbor:"3,keyasint,omitempty"`
	Entities []entityMap    `cbor:"5,keyasint,omitempty"`
	Measure  *corimPreamble `cbor:"-1,keyasint,omitempty"`
}

// corimPreamble is the predicate without its values (corim-map key -1).
type corimPreamble struct {
	Platform  string              `cbor:"platform"`
	Firmware  provenance.Firmware `cbor:"firmware"`
	Boot      *provenance.Boot    `cbor:"boot,omitempty"`
	Tool      provenance.Tool     `cbor:"tool"`
	Timestamp string              `cbor:"timestamp,omitempty"`
}

type entityMap struct {
	Name  string  `cbor:"0,keyasint"`
	Roles []int64 `cbor:"2,keyasint"`
}

type comid struct {
	TagIdentity   tagIdentity               `cbor:"1,keyasint"`
	Triples       triples                   `cbor:"4,keyasint"`
	Configuration *provenance.Configuration `cbor:"-1,keyasint,omitempty"`
}

type tagIdentity struct {
	TagID any `cbor:"0,keyasint"`
}

type triples struct {
	Reference []referenceTriple `cbor:"0,keyasint,omitempty"`
}

// referenceTriple is a reference-triple-record: [ref-env, [+ measurement-map]].
type referenceTriple struct {
	_      struct{} `cbor:",toarray"`
	Env    environmentMap
	Claims []measurementMap
}

type environmentMap struct {
	Class *classMap `cbor:"0,keyasint,omitempty"`
}

type classMap struct {
	Vendor string `cbor:"1,keyasint,omitempty"`
	Model  string `cbor:"2,keyasint,omitempty"`
}

type measurementMap struct {
	Key any               `cbor:"0,keyasint,omitempty"`
	Val measurementValues `cbor:"1,keyasint"`
}

type measurementValues struct {
	Digests []digestEntry `cbor:"2,keyasint,omitempty"`
}

// digestEntry is an eatmc.digest: [alg, val].
type digestEntry struct {
	_     struct{} `cbor:",toarray"`
	Alg   any
	Value []byte
}

// protectedHeader holds the protected header fields a reader checks.
type protectedHeader struct {
	Alg         int64  `cbor:"1,keyasint"`
	ContentType any    `cbor:"3,keyasint"`
	KeyID       []byte `cbor:"4,keyasint,omitempty"`
	Meta        []byte `cbor:"8,keyasint,omitempty"`
	CWTClaims   any    `cbor:"15,keyasint,omitempty"`
}

// corimMeta is corim-meta-map: {0: corim-signer-map}.
type corimMeta struct {
	Signer signerMap `cbor:"0,keyasint"`
}

type signerMap struct {
	Name string `cbor:"0,keyasint"`
}

var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

// Limits of the CBOR a reader decodes; the input itself is bounded by the
// caller.
func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  24,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 12,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

// WriteCoRIM returns rv as a CoRIM signed with signer: a COSE_Sign1 whose
// protected header holds the algorithm, the content type
// application/rim+cbor, the key id (the SHA-256 of the public key's PKIX
// DER, as DSSE's keyid in hex) and the corim-meta naming signerName (the
// key id in hex when empty). The CoRIM's id is "sha256:" and the hex
// SHA-256 of statement, the statement rv comes from.
func WriteCoRIM(rv *provenance.ReferenceValues, statement []byte, signer *provenance.Signer, signerName string) ([]byte, error) {
	payload, err := marshalCoRIM(rv, statement)
	if err != nil {
		return nil, err
	}
	alg, ok := coseAlgorithms[signer.Algorithm()]
	if !ok {
		return nil, fmt.Errorf("key algorithm %q has no COSE algorithm here", signer.Algorithm())
	}
	keyID, _ := signer.KeyID()
	kid, err := hex.DecodeString(keyID)
	if err != nil {
		return nil, err
	}
	if signerName == "" {
		signerName = keyID
	}
	meta, err := encMode.Marshal(corimMeta{Signer: signerMap{Name: signerName}})
	if err != nil {
		return nil, err
	}
	protected, err := encMode.Marshal(map[int64]any{
		headerAlg:         int64(alg),
		headerContentType: CoRIMContentType,
		headerKeyID:       kid,
		headerCoRIMMeta:   meta,
	})
	if err != nil {
		return nil, err
	}
	tbs, err := sigStructure(protected, payload)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(context.Background(), tbs)
	if err != nil {
		return nil, fmt.Errorf("signing the CoRIM: %w", err)
	}
	if signer.Algorithm() != provenance.Ed25519 {
		if sig, err = rawECDSA(sig, signer.Public().(*ecdsa.PublicKey)); err != nil {
			return nil, err
		}
	}
	return encMode.Marshal(cbor.Tag{Number: tagCOSESign1, Content: []any{protected, map[int64]any{}, payload, sig}})
}

// sigStructure is what a COSE_Sign1 signature covers (RFC 9052, 4.4):
// ["Signature1", protected, external_aad (empty), payload].
func sigStructure(protected, payload []byte) ([]byte, error) {
	return encMode.Marshal([]any{"Signature1", protected, []byte{}, payload})
}

// rawECDSA converts an ASN.1 DER ECDSA signature to COSE's form, r and s
// big-endian, each the size of the curve's order (RFC 9053, 2.1).
func rawECDSA(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("ECDSA signature is not ASN.1 DER")
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// marshalCoRIM returns the tagged-unsigned-corim-map of rv.
func marshalCoRIM(rv *provenance.ReferenceValues, statement []byte) ([]byte, error) {
	env, ok := corimEnvironments[rv.Platform]
	if !ok {
		return nil, fmt.Errorf("%w: platform %q", ErrUnsupported, rv.Platform)
	}
	sum := sha256.Sum256(statement)
	id := "sha256:" + hex.EncodeToString(sum[:])
	m := corimMap{
		ID:       id,
		Profile:  cbor.Tag{Number: tagURI, Content: CoRIMProfile},
		Entities: []entityMap{{Name: rv.Tool.Name + " " + rv.Tool.Version, Roles: []int64{corimRoleManifestCreator}}},
		Measure:  &corimPreamble{Platform: rv.Platform, Firmware: rv.Firmware, Boot: rv.Boot, Tool: rv.Tool},
	}
	if rv.Timestamp != nil {
		m.Measure.Timestamp = rv.Timestamp.UTC().Format(time.RFC3339)
	}
	for i, v := range rv.Values {
		c := comid{TagIdentity: tagIdentity{TagID: fmt.Sprintf("%s#%d", id, i)}}
		var claims []measurementMap
		for _, meas := range v.Measurements {
			var ds []digestEntry
			for _, alg := range slices.Sorted(maps.Keys(meas.Digest)) {
				n, ok := namedInformation[alg]
				if !ok {
					return nil, fmt.Errorf("%s: digest algorithm %q has no named-information identifier", meas.Register, alg)
				}
				d, err := hex.DecodeString(meas.Digest[alg])
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", meas.Register, alg, err)
				}
				ds = append(ds, digestEntry{Alg: n, Value: d})
			}
			claims = append(claims, measurementMap{Key: meas.Register, Val: measurementValues{Digests: ds}})
		}
		c.Triples.Reference = []referenceTriple{{Env: environmentMap{Class: &env}, Claims: claims}}
		if v.Configuration != (provenance.Configuration{}) {
			cfg := v.Configuration
			c.Configuration = &cfg
		}
		b, err := encMode.Marshal(c)
		if err != nil {
			return nil, err
		}
		m.Tags = append(m.Tags, cbor.RawTag{Number: tagCoMID, Content: mustMarshal(b)})
	}
	return encMode.Marshal(cbor.Tag{Number: tagCoRIM, Content: m})
}

// mustMarshal encodes a byte string, which cannot fail.
func mustMarshal(b []byte) cbor.RawMessage {
	out, err := encMode.Marshal(b)
	if err != nil {
		panic(err)
	}
	return out
}

// VerifyCoRIM checks a signed CoRIM's COSE_Sign1 (with go-cose) against
// keys and returns its payload and the id of the key that verified it. The
// protected header must name the content type application/rim+cbor and
// carry a corim-meta or CWT claims. A kid in the header that names one of
// keys (its id as bytes) selects it, and only that key is tried: a CoRIM
// whose kid names key A and that key B signed is refused, as a DSSE
// signature whose keyid names a given key is. A kid that names none of
// keys is only a hint (COSE leaves its form to the signer; veraison's
// tools write "1"), and every key of the header's algorithm is tried.
// Errors wrap ErrMalformedEnvelope (not a COSE_Sign1), ErrPayloadType
// (another content type), ErrBadSignature (the key the kid names does not
// verify it) or ErrThreshold (no key does).
func VerifyCoRIM(b []byte, keys []*provenance.Verifier) ([]byte, string, error) {
	if len(keys) == 0 {
		return nil, "", errors.New("no verification key given")
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(b); err != nil {
		return nil, "", kindf(provenance.ErrMalformedEnvelope, "CoRIM COSE_Sign1: %w", err)
	}
	var raw []byte
	var h protectedHeader
	if err := decMode.Unmarshal(msg.Headers.RawProtected, &raw); err != nil {
		return nil, "", kindf(provenance.ErrMalformedEnvelope, "CoRIM protected header: %w", err)
	}
	if err := decMode.Unmarshal(raw, &h); err != nil {
		return nil, "", kindf(provenance.ErrMalformedEnvelope, "CoRIM protected header: %w", err)
	}
	if ct, ok := h.ContentType.(string); !ok || ct != CoRIMContentType {
		return nil, "", kindf(provenance.ErrPayloadType, "CoRIM content type %v, want %q", h.ContentType, CoRIMContentType)
	}
	if h.Meta == nil && h.CWTClaims == nil {
		return nil, "", kindf(provenance.ErrMalformedEnvelope, "CoRIM protected header has neither corim-meta (8) nor CWT claims (15)")
	}
	if msg.Payload == nil {
		return nil, "", kindf(provenance.ErrMalformedEnvelope, "CoRIM payload is detached")
	}
	if k, id := namedKey(keys, h.KeyID); k != nil {
		ok, err := verifyCOSE(&msg, h.Alg, k)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return nil, "", fmt.Errorf("%w: the CoRIM's signature (COSE algorithm %d) does not verify with key %s, which its kid names: the CoRIM or its signature was altered, or another key signed it", provenance.ErrBadSignature, h.Alg, id)
		}
		return msg.Payload, id, nil
	}
	tried := 0
	for _, k := range keys {
		ok, err := verifyCOSE(&msg, h.Alg, k)
		if err != nil {
			return nil, "", err
		}
		if int64(coseAlgorithms[k.Algorithm()]) == h.Alg {
			tried++
		}
		if ok {
			id, _ := k.KeyID()
			return msg.Payload, id, nil
		}
	}
	return nil, "", fmt.Errorf("%w: the CoRIM (COSE algorithm %d, kid %x) verifies with none of the %d key(s) given (%d of its algorithm)", provenance.ErrThreshold, h.Alg, h.KeyID, len(keys), tried)
}

// namedKey returns the key of keys whose id (as bytes) is kid, and its id.
func namedKey(keys []*provenance.Verifier, kid []byte) (*provenance.Verifier, string) {
	if len(kid) == 0 {
		return nil, ""
	}
	for _, k := range keys {
		id, _ := k.KeyID()
		if b, err := hex.DecodeString(id); err == nil && bytes.Equal(b, kid) {
			return k, id
		}
	}
	return nil, ""
}

// verifyCOSE reports whether msg's signature, of COSE algorithm alg,
// verifies with k; a key of another algorithm does not verify it.
func verifyCOSE(msg *cose.Sign1Message, alg int64, k *provenance.Verifier) (bool, error) {
	a := coseAlgorithms[k.Algorithm()]
	if int64(a) != alg {
		return false, nil
	}
	v, err := cose.NewVerifier(a, k.Public())
	if err != nil {
		return false, err
	}
	return msg.Verify(nil, v) == nil, nil
}

// ReadCoRIM reads a CoRIM of measure's profile: signed, verified with
// o.Keys (o.Threshold at most 1), or, with o.AllowUnsigned, unsigned
// (#6.501) or signed but not checked (no keys). See Read for the errors.
func ReadCoRIM(b []byte, o ReadOptions) (*Imported, error) {
	if o.Threshold > 1 {
		return nil, fmt.Errorf("%w: a CoRIM carries one signature, threshold %d cannot be met", provenance.ErrThreshold, o.Threshold)
	}
	var tag cbor.RawTag
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, kindf(provenance.ErrMalformedEnvelope, "CoRIM: %w", err)
	}
	payload := b
	var keyIDs []string
	switch {
	case tag.Number == tagCOSESign1 && len(o.Keys) > 0:
		p, id, err := VerifyCoRIM(b, o.Keys)
		if err != nil {
			return nil, err
		}
		payload, keyIDs = p, []string{id}
	case tag.Number == tagCOSESign1 && o.AllowUnsigned:
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(b); err != nil {
			return nil, kindf(provenance.ErrMalformedEnvelope, "CoRIM COSE_Sign1: %w", err)
		}
		payload = msg.Payload
	case tag.Number == tagCoRIM && o.AllowUnsigned && len(o.Keys) == 0:
	case tag.Number == tagCOSESign1 || tag.Number == tagCoRIM:
		return nil, fmt.Errorf("%w: the CoRIM's signature was not checked (unsigned, or no key given), and unsigned values were not accepted", provenance.ErrThreshold)
	default:
		return nil, kindf(provenance.ErrMalformedEnvelope, "CoRIM: CBOR tag %d, want a signed CoRIM (%d) or an unsigned one (%d)", tag.Number, tagCOSESign1, tagCoRIM)
	}
	rv, err := unmarshalCoRIM(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: CoRIM: %w", provenance.ErrInvalidStatement, err)
	}
	if err := rv.Validate(); err != nil {
		return nil, fmt.Errorf("%w: CoRIM: %w", provenance.ErrInvalidStatement, err)
	}
	return &Imported{Values: rv, Complete: true, KeyIDs: keyIDs}, nil
}

// unmarshalCoRIM decodes a tagged-unsigned-corim-map of measure's profile
// into reference values.
func unmarshalCoRIM(b []byte) (*provenance.ReferenceValues, error) {
	var tag cbor.RawTag
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, err
	}
	if tag.Number != tagCoRIM {
		return nil, fmt.Errorf("payload has CBOR tag %d, want %d (tagged-unsigned-corim-map)", tag.Number, tagCoRIM)
	}
	var m corimMap
	if err := decMode.Unmarshal(tag.Content, &m); err != nil {
		return nil, fmt.Errorf("corim-map: %w", err)
	}
	if p, ok := m.Profile.(cbor.Tag); !ok || p.Number != tagURI || p.Content != CoRIMProfile {
		return nil, fmt.Errorf("profile %v, want %d(%q): not a CoRIM measure wrote", m.Profile, tagURI, CoRIMProfile)
	}
	pre := m.Measure
	if pre == nil {
		return nil, fmt.Errorf("corim-map has no key %d (measure's predicate)", privateUse)
	}
	env, ok := corimEnvironments[pre.Platform]
	if !ok {
		return nil, fmt.Errorf("platform %q, want one of %v", shorten(pre.Platform), provenance.Platforms)
	}
	if len(m.Tags) > MaxConfigurations {
		return nil, fmt.Errorf("%d tags, want at most %d", len(m.Tags), MaxConfigurations)
	}
	rv := &provenance.ReferenceValues{Platform: pre.Platform, Firmware: pre.Firmware, Boot: pre.Boot, Tool: pre.Tool}
	if pre.Timestamp != "" {
		t, err := time.Parse(time.RFC3339, pre.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("timestamp: %w", err)
		}
		rv.Timestamp = &t
	}
	for i, t := range m.Tags {
		v, err := unmarshalCoMID(t, env)
		if err != nil {
			return nil, fmt.Errorf("tags[%d]: %w", i, err)
		}
		rv.Values = append(rv.Values, *v)
	}
	return rv, nil
}

// unmarshalCoMID decodes one #6.506 CoMID of measure's profile: one
// reference triple in environment env, each measurement keyed by register
// name with its digests.
func unmarshalCoMID(t cbor.RawTag, env classMap) (*provenance.ReferenceValue, error) {
	if t.Number != tagCoMID {
		return nil, fmt.Errorf("CBOR tag %d, want %d (tagged-concise-mid-tag)", t.Number, tagCoMID)
	}
	var content []byte
	if err := decMode.Unmarshal(t.Content, &content); err != nil {
		return nil, fmt.Errorf("CoMID: want a byte string: %w", err)
	}
	var c comid
	if err := decMode.Unmarshal(content, &c); err != nil {
		return nil, fmt.Errorf("concise-mid-tag: %w", err)
	}
	if len(c.Triples.Reference) != 1 {
		return nil, fmt.Errorf("%d reference triples, want 1", len(c.Triples.Reference))
	}
	tr := c.Triples.Reference[0]
	if tr.Env.Class == nil || *tr.Env.Class != env {
		return nil, fmt.Errorf("environment %+v, want class vendor %q model %q", tr.Env.Class, env.Vendor, env.Model)
	}
	v := &provenance.ReferenceValue{}
	if c.Configuration != nil {
		v.Configuration = *c.Configuration
	}
	for _, mm := range tr.Claims {
		reg, ok := mm.Key.(string)
		if !ok {
			return nil, fmt.Errorf("mkey %v, want a register name", mm.Key)
		}
		if len(mm.Val.Digests) == 0 {
			return nil, fmt.Errorf("%s: no digests", shorten(reg))
		}
		for _, d := range mm.Val.Digests {
			alg, err := digestAlgorithm(d.Alg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", shorten(reg), err)
			}
			if err := addValue(v, reg, alg, hex.EncodeToString(d.Value)); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// digestAlgorithm names the algorithm of a digest's alg: a Named
// Information identifier or name.
func digestAlgorithm(a any) (string, error) {
	switch a := a.(type) {
	case uint64:
		for name, n := range namedInformation {
			if uint64(n) == a {
				return name, nil
			}
		}
	case string:
		if name, ok := namedInformationText[a]; ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("digest algorithm %v, want sha-256 (1), sha-384 (7) or sha-512 (8)", a)
}
