package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on. Parse errors wrap ErrMalformed (or ErrTruncated,
// ErrUnsupported); checks wrap the sentinel of the check that failed.
var (
	// ErrMalformed: the bytes are not a report or quote of a known form.
	ErrMalformed = errors.New("malformed attestation evidence")
	// ErrTruncated: the report or quote is shorter than its format.
	ErrTruncated = errors.New("truncated attestation evidence")
	// ErrUnsupported: a well-formed structure this package cannot read,
	// such as a TDX quote version go-tdx-guest does not parse.
	ErrUnsupported = errors.New("unsupported attestation evidence")
	// ErrMismatch: the measurement equals no reference value.
	ErrMismatch = errors.New("measurement matches no reference value")
	// ErrPlatform: the reference values are for another platform.
	ErrPlatform = errors.New("reference values are for another platform")
	// ErrNoConfiguration: no launch configuration of the firmware
	// reproduces the measurement.
	ErrNoConfiguration = errors.New("no configuration explains the measurement")
	// ErrPolicy: a report field violates the policy.
	ErrPolicy = errors.New("policy check failed")
	// ErrHardwareSignature: the hardware signature or its certificate chain
	// does not verify.
	ErrHardwareSignature = errors.New("hardware signature does not verify")
)

// Register is one measurement register of a report or quote.
type Register struct {
	// Name is MEASUREMENT (SEV-SNP), MRTD or RTMR0-3 (TDX), as
	// provenance.Registers names them.
	Name  string `json:"register"`
	Value []byte `json:"-"`
	// Hex is Value in lower-case hex.
	Hex string `json:"digest"`
}

// Field is one report field as shown to a person: a name from the
// specification and its value, formatted.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Evidence is a parsed attestation report or quote.
type Evidence interface {
	// Platform is "sev-snp" or "tdx", as provenance.Platforms names them.
	Platform() string
	// Registers are the launch measurement registers, in a fixed order.
	Registers() []Register
	// Fields are every field worth a person's attention, in layout order.
	Fields() []Field
	// Raw is the signed structure, decoded from any text form.
	Raw() []byte
}

// Kind selects what Parse expects.
type Kind int

// Kinds of evidence.
const (
	KindAny       Kind = iota // detect from the bytes
	KindSNPReport             // an SEV-SNP attestation report
	KindTDXQuote              // a TDX quote
	KindHCLReport             // an Azure HCL report (ParseHCLReport)
)

// Parse decodes b (binary, or hex or base64 text) and parses it as kind.
// With KindAny, it tells an SEV-SNP report (a 32-bit version 2 to 5) from a
// TDX quote (16-bit version 4 or 5, attestation key type 2, TEE type 0x81)
// and from an Azure HCL report (signature "HCLA").
func Parse(b []byte, kind Kind) (Evidence, error) {
	raw, err := DecodeText(b)
	if err != nil {
		return nil, err
	}
	if kind == KindAny {
		kind = detect(raw)
	}
	switch kind {
	case KindSNPReport:
		return ParseSNPReport(raw)
	case KindTDXQuote:
		return ParseTDXQuote(raw)
	case KindHCLReport:
		return ParseHCLReport(raw)
	}
	return nil, fmt.Errorf("%w: %d bytes starting %x are neither an SEV-SNP report nor a TDX quote (nor an Azure HCL report)", ErrMalformed, len(raw), raw[:min(len(raw), 8)])
}

// Offsets that tell a TDX quote header (Intel TDX DCAP Quote Generation
// Library, "Quote Header") from an SEV-SNP report (SEV-SNP ABI Table 23,
// VERSION is a 32-bit field at 0).
const (
	quoteKeyTypeOffset = 2
	quoteTEETypeOffset = 4
	quoteKeyTypeECDSA  = 2
	quoteTEETypeTDX    = 0x81
)

func detect(raw []byte) Kind {
	if IsHCLReport(raw) {
		return KindHCLReport
	}
	if len(raw) >= 8 &&
		binary.LittleEndian.Uint16(raw[quoteKeyTypeOffset:]) == quoteKeyTypeECDSA &&
		binary.LittleEndian.Uint32(raw[quoteTEETypeOffset:]) == quoteTEETypeTDX {
		return KindTDXQuote
	}
	if len(raw) >= 4 {
		if v := binary.LittleEndian.Uint32(raw); v >= 2 && v <= 5 {
			return KindSNPReport
		}
	}
	return KindAny
}

// DecodeText returns b itself when it is binary, or the bytes it spells
// when it is hex or base64 text (standard or URL alphabet, whitespace
// ignored). Empty input is ErrTruncated.
func DecodeText(b []byte) ([]byte, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: no bytes", ErrTruncated)
	}
	for _, c := range b {
		if c >= 0x7f || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			return b, nil // binary
		}
	}
	s := strings.Join(strings.Fields(string(b)), "")
	if d, err := hex.DecodeString(strings.TrimPrefix(s, "0x")); err == nil {
		return d, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: text of %d characters is neither hex nor base64", ErrMalformed, len(s))
}

func hexField(name string, b []byte) Field { return Field{name, hex.EncodeToString(b)} }
