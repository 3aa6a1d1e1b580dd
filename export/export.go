package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// Format names a form reference values are written in.
type Format string

// The formats. Read takes RVPS, CoRIM and JSONL back.
const (
	RVPS              Format = "rvps"
	CoRIM             Format = "corim"
	SEVGuestCheck     Format = "sev-guest-check"
	SEVGuestCheckJSON Format = "sev-guest-check-json"
	JSONL             Format = "jsonl"
)

// Formats lists the formats Export writes.
var Formats = []Format{RVPS, CoRIM, SEVGuestCheck, SEVGuestCheckJSON, JSONL}

// ReadFormats lists the formats Read takes back.
var ReadFormats = []Format{RVPS, CoRIM, JSONL}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	if f := Format(s); slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("format %q is unknown, want one of %v", s, Formats)
}

var (
	// ErrUnsupported: the format cannot hold these reference values (a
	// platform its consumer does not verify, several measurements where
	// it takes one).
	ErrUnsupported = errors.New("not expressible in this format")
	// ErrUnverified: the reference values' signature was not checked and
	// the caller did not accept that.
	ErrUnverified = errors.New("reference values not verified")
)

// Source is a reference-values statement loaded for export.
type Source struct {
	// Values is the statement's predicate, validated.
	Values *provenance.ReferenceValues
	// Statement is the statement's exact bytes (the signed payload).
	Statement []byte
	// KeyIDs are the keys whose signatures verified; empty when the
	// statement was accepted unsigned.
	KeyIDs []string
}

// LoadOptions says what Load trusts.
type LoadOptions struct {
	// Keys and Threshold are as in provenance.VerifyOptions. With keys,
	// the input must be a DSSE envelope that provenance.Verify accepts.
	Keys      []*provenance.Verifier
	Threshold int
	// AllowUnsigned, without Keys, accepts an unsigned statement, or an
	// envelope whose signatures are then not checked.
	AllowUnsigned bool
}

// Load reads a reference-values statement: a DSSE envelope (as measure
// sign writes it), verified with o.Keys, or, with o.AllowUnsigned and no
// keys, an envelope or an in-toto statement whose signature is not checked.
// Errors wrap provenance's verification sentinels (an invalid statement,
// or another predicate, is ErrInvalidStatement), or ErrUnverified when
// neither keys nor AllowUnsigned are given.
func Load(ctx context.Context, b []byte, o LoadOptions) (*Source, error) {
	if len(o.Keys) > 0 {
		res, _, err := provenance.VerifySigned(ctx, b, provenance.VerifyOptions{Keys: o.Keys, Threshold: o.Threshold})
		if err != nil {
			return nil, err
		}
		rv, err := provenance.ReferenceValuesFromStatement(res.Statement)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", provenance.ErrInvalidStatement, err)
		}
		return &Source{Values: rv, Statement: res.Payload, KeyIDs: res.KeyIDs}, nil
	}
	if !o.AllowUnsigned {
		return nil, fmt.Errorf("%w: no key to check the signature with, and unsigned values were not accepted", ErrUnverified)
	}
	payload := b
	if isEnvelope(b) {
		env, err := provenance.ParseEnvelope(b)
		if err != nil {
			return nil, err
		}
		if env.PayloadType != provenance.PayloadType {
			return nil, fmt.Errorf("%w: %q, want %q", provenance.ErrPayloadType, env.PayloadType, provenance.PayloadType)
		}
		payload = env.Payload
	}
	st, err := provenance.ParseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", provenance.ErrInvalidStatement, err)
	}
	rv, err := provenance.ReferenceValuesFromStatement(st)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", provenance.ErrInvalidStatement, err)
	}
	return &Source{Values: rv, Statement: payload}, nil
}

// isEnvelope reports whether b is a JSON object with a DSSE envelope's
// payloadType or signatures, rather than a statement's _type.
func isEnvelope(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, typ := m["payloadType"]
	_, sigs := m["signatures"]
	return typ || sigs
}

// configurationKeys are the names Select takes: the JSON names of
// provenance.Configuration's fields.
var configurationKeys = []string{"vmmType", "vcpus", "vcpuType", "vcpuSig", "guestFeatures", "profile", "pageAddOrder", "qemuVersion", "memory"}

// configurationFields returns c's fields by JSON name, as strings (vcpus
// in decimal); empty fields are absent.
func configurationFields(c provenance.Configuration) map[string]string {
	m := map[string]string{
		"vmmType": c.VMMType, "vcpuType": c.VCPUType, "vcpuSig": c.VCPUSig,
		"guestFeatures": c.GuestFeatures, "profile": c.Profile, "pageAddOrder": c.PageAddOrder,
		"qemuVersion": c.QEMUVersion, "memory": c.Memory,
	}
	if c.VCPUs != 0 {
		m["vcpus"] = strconv.Itoa(c.VCPUs)
	}
	maps.DeleteFunc(m, func(_, v string) bool { return v == "" })
	return m
}

// Select returns a copy of rv holding only the configurations whose fields
// equal where's (names as in the predicate's JSON: vmmType, vcpus,
// vcpuType, vcpuSig, guestFeatures, profile, pageAddOrder, qemuVersion,
// memory). At least one must remain.
func Select(rv *provenance.ReferenceValues, where map[string]string) (*provenance.ReferenceValues, error) {
	for _, k := range slices.Sorted(maps.Keys(where)) {
		if !slices.Contains(configurationKeys, k) {
			return nil, fmt.Errorf("configuration field %q is unknown, want one of %v", k, configurationKeys)
		}
	}
	out := *rv
	out.Values = nil
	for _, v := range rv.Values {
		f := configurationFields(v.Configuration)
		keep := true
		for k, want := range where {
			keep = keep && strings.EqualFold(f[k], want)
		}
		if keep {
			out.Values = append(out.Values, v)
		}
	}
	if len(out.Values) == 0 {
		return nil, fmt.Errorf("no configuration of %d has %s", len(rv.Values), describeWhere(where))
	}
	return &out, nil
}

func describeWhere(where map[string]string) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(where)) {
		s = append(s, k+"="+where[k])
	}
	return strings.Join(s, ",")
}

// Options are the inputs of a format beyond the reference values.
type Options struct {
	// RVPSNames renames, for RVPS, a register (MEASUREMENT, MRTD,
	// RTMR0...) to the reference-value name a Trustee policy looks up;
	// the others keep DefaultRVPSNames'.
	RVPSNames map[string]string
	// Signer signs a CoRIM (required for CoRIM); SignerName is the
	// corim-meta signer name, the key id when empty.
	Signer     *provenance.Signer
	SignerName string
	// Check is the policy of SEVGuestCheck and SEVGuestCheckJSON.
	Check CheckPolicy
}

// Export writes src's reference values in format f.
func Export(src *Source, f Format, o Options) ([]byte, error) {
	rv := src.Values
	switch f {
	case RVPS:
		return WriteRVPS(rv, o.RVPSNames)
	case CoRIM:
		if o.Signer == nil {
			return nil, errors.New("a CoRIM needs a signing key")
		}
		return WriteCoRIM(rv, src.Statement, o.Signer, o.SignerName)
	case SEVGuestCheck:
		return WriteSEVGuestCheck(rv, o.Check, false)
	case SEVGuestCheckJSON:
		return WriteSEVGuestCheck(rv, o.Check, true)
	case JSONL:
		return WriteJSONL(rv)
	}
	return nil, fmt.Errorf("format %q is unknown, want one of %v", f, Formats)
}

// ReadOptions says what Read trusts.
type ReadOptions struct {
	// Keys verify a CoRIM's COSE_Sign1 signature; Threshold must then
	// be 0 or 1 (a COSE_Sign1 has one signature).
	Keys      []*provenance.Verifier
	Threshold int
	// AllowUnsigned accepts what carries no checked signature: an RVPS
	// message, JSON lines, or an unsigned CoRIM (without Keys).
	AllowUnsigned bool
}

// Imported is reference values read back from an exported form.
type Imported struct {
	// Values holds what the form carries: the platform and the register
	// values always; configurations, firmware and tool where it has them
	// (Complete).
	Values *provenance.ReferenceValues
	// Complete: the form carried the whole predicate, and Values passes
	// its Validate (a CoRIM of measure's profile).
	Complete bool
	// KeyIDs are the keys whose signature verified (CoRIM).
	KeyIDs []string
}

// Read reads reference values in format f, one of ReadFormats. Errors
// wrap provenance's sentinels: a CoRIM whose COSE_Sign1 does not parse is
// ErrMalformedEnvelope, another content type ErrPayloadType, a signature
// that fails ErrBadSignature, one by no given key ErrThreshold (so is an
// unsigned form without AllowUnsigned), and content that is not valid
// reference values ErrInvalidStatement. What it returns passes
// provenance's checks: Validate when Complete, else ValidateValues (so no
// field a verifier shows can print a line of its own).
func Read(b []byte, f Format, o ReadOptions) (*Imported, error) {
	var imp *Imported
	switch f {
	case RVPS, JSONL:
		if !o.AllowUnsigned {
			return nil, fmt.Errorf("%w: %s carries no signature, and unsigned values were not accepted", provenance.ErrThreshold, f)
		}
		read := ReadRVPS
		if f == JSONL {
			read = ReadJSONL
		}
		rv, err := read(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", provenance.ErrInvalidStatement, err)
		}
		imp = &Imported{Values: rv}
	case CoRIM:
		var err error
		if imp, err = ReadCoRIM(b, o); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q cannot be read back, want one of %v", f, ReadFormats)
	}
	validate := imp.Values.ValidateValues
	if imp.Complete {
		validate = imp.Values.Validate
	}
	if err := validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", provenance.ErrInvalidStatement, f, err)
	}
	return imp, nil
}

// kindError is an error of a kind callers branch on (one of provenance's
// sentinels, which it wraps) whose message does not repeat the sentinel's
// text, which speaks of DSSE envelopes.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// kindf returns fmt.Errorf(format, a...) as an error of kind.
func kindf(kind error, format string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, a...)}
}

// values returns, in first-appearance order without repeats, the
// lower-case hex digests with algorithm alg of register reg in rv.
func values(rv *provenance.ReferenceValues, reg, alg string) []string {
	var out []string
	for _, v := range rv.Values {
		for _, m := range v.Measurements {
			if d, ok := m.Digest[alg]; ok && m.Register == reg && !slices.Contains(out, strings.ToLower(d)) {
				out = append(out, strings.ToLower(d))
			}
		}
	}
	return out
}

// digestSizes are the algorithms a register value may have, with sizes.
var digestSizes = map[string]int{"sha256": 32, "sha384": 48, "sha512": 64}

// checkRegister checks that register reg belongs to platform and that d is
// a digest of a known algorithm in lower-case hex.
func checkRegister(platform, reg, alg, d string) error {
	if !slices.Contains(provenance.Registers[platform], reg) {
		return fmt.Errorf("register %q, want one of %v for %s", shorten(reg), provenance.Registers[platform], platform)
	}
	if err := checkDigest(alg, d); err != nil {
		return fmt.Errorf("%s: %w", reg, err)
	}
	return nil
}

// checkDigest checks that d is a digest of algorithm alg in lower-case hex.
func checkDigest(alg, d string) error {
	size, ok := digestSizes[alg]
	if !ok {
		return fmt.Errorf("digest algorithm %q is unknown, want sha256, sha384 or sha512", shorten(alg))
	}
	if len(d) != 2*size || strings.Trim(d, "0123456789abcdef") != "" {
		return fmt.Errorf("%s %q, want %d lower-case hex digits", alg, shorten(d), 2*size)
	}
	return nil
}

// shorten cuts s to a length fit for an error message.
func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// writeJSONValue encodes v as indented JSON with a final newline, without
// HTML escaping.
func writeJSONValue(v any) ([]byte, error) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
