package export

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// CheckPolicy is what a go-sev-guest check configuration holds beyond the
// MEASUREMENT: fields of its check.Policy and check.RootOfTrust messages
// (proto/check.proto of go-sev-guest v0.15.0).
type CheckPolicy struct {
	// GuestPolicy is Policy.policy, the component-wise most permissive
	// guest POLICY accepted; 0 means DefaultGuestPolicy.
	GuestPolicy uint64
	// MinimumTCB is Policy.minimum_tcb, a TCB_VERSION (see
	// ParseTCBVersion); 0 checks nothing.
	MinimumTCB uint64
	// VMPL, when set, is Policy.vmpl: the VMPL the report must come from.
	VMPL *uint32
	// ProductLine, when set, is RootOfTrust.product_line: Milan, Genoa or
	// Turin.
	ProductLine string
}

// DefaultGuestPolicy is the guest policy the check tool itself assumes
// when given none (tools/check/check.go, defaultGuestPolicy): only the
// reserved bit 17 set, that is no SMT, no debugging, no migration agent,
// ABI 0.0 and later.
const DefaultGuestPolicy = 1 << 17

// Guest POLICY bits that go-sev-guest v0.15.0's abi.ParseSnpPolicy checks:
// bit 17 must be one, bits 26 to 63 zero.
const (
	policyReservedOne = 1 << 17
	policyMBZ         = ^uint64(1<<26 - 1)
)

// ProductLines are the values of CheckPolicy.ProductLine.
var ProductLines = []string{"Milan", "Genoa", "Turin"}

// The SEV-SNP TCB_VERSION of Milan and Genoa (SEV-SNP Firmware ABI,
// TCB_VERSION structure): one byte per component, little endian. It is the
// layout go-sev-guest v0.15.0 decomposes Policy.minimum_tcb in
// (kds.DecomposeTCBVersion); Turin's layout, with an FMC byte first, it
// does not know.
const (
	tcbBootloaderByte = 0
	tcbTEEByte        = 1
	tcbSNPByte        = 6
	tcbMicrocodeByte  = 7
)

// ParseTCBVersion reads a minimum TCB as "bl=N,tee=N,snp=N,ucode=N" (any
// subset, missing parts 0; bl, tee and snp at most 127, as go-sev-guest
// composes them) in the Milan/Genoa layout, or a TCB_VERSION number (0x-hex
// or decimal).
func ParseTCBVersion(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=") {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("TCB %q: want bl=N,tee=N,snp=N,ucode=N or a TCB_VERSION number", s)
		}
		return v, nil
	}
	var b [8]byte
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("TCB %q: part %q, want NAME=0..255", s, part)
		}
		var at int
		switch strings.ToLower(k) {
		case "bl", "bootloader":
			at = tcbBootloaderByte
		case "tee":
			at = tcbTEEByte
		case "snp":
			at = tcbSNPByte
		case "ucode", "microcode":
			at = tcbMicrocodeByte
		case "fmc":
			return 0, fmt.Errorf("TCB %q: fmc is Turin's, whose TCB layout go-sev-guest v0.15.0 does not decompose: give a TCB_VERSION number", s)
		default:
			return 0, fmt.Errorf("TCB %q: part %q, want bl, tee, snp or ucode", s, k)
		}
		if at != tcbMicrocodeByte && n > 127 {
			return 0, fmt.Errorf("TCB %q: %s=%d, want 0..127", s, k, n)
		}
		b[at] = byte(n)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// check returns p with its default filled in, checked.
func (p CheckPolicy) check() (CheckPolicy, error) {
	if p.GuestPolicy == 0 {
		p.GuestPolicy = DefaultGuestPolicy
	}
	if p.GuestPolicy&policyReservedOne == 0 || p.GuestPolicy&policyMBZ != 0 {
		return p, fmt.Errorf("guest policy %#x: bit 17 must be 1 and bits 26 to 63 zero", p.GuestPolicy)
	}
	if p.VMPL != nil && *p.VMPL > 3 {
		return p, fmt.Errorf("VMPL %d, want 0 to 3", *p.VMPL)
	}
	if p.ProductLine != "" && !slices.Contains(ProductLines, p.ProductLine) {
		return p, fmt.Errorf("product line %q, want one of %v", p.ProductLine, ProductLines)
	}
	return p, nil
}

// WriteSEVGuestCheck returns a check.Config for go-sev-guest's check tool
// holding rv's one SEV-SNP MEASUREMENT and p: as protocol buffer text
// (which the tool reads from a file named *.textproto), or with asJSON in
// the protocol buffer JSON mapping. Policy.measurement holds one value, so
// rv's configurations must agree on it (ErrUnsupported otherwise: select
// one configuration first).
func WriteSEVGuestCheck(rv *provenance.ReferenceValues, p CheckPolicy, asJSON bool) ([]byte, error) {
	if rv.Platform != "sev-snp" {
		return nil, fmt.Errorf("%w: go-sev-guest checks SEV-SNP reports, these reference values are for %s", ErrUnsupported, rv.Platform)
	}
	p, err := p.check()
	if err != nil {
		return nil, err
	}
	ms := values(rv, "MEASUREMENT", rvpsAlgorithm)
	switch {
	case len(ms) == 0:
		return nil, fmt.Errorf("%w: no sha384 MEASUREMENT", ErrUnsupported)
	case len(ms) > 1:
		return nil, fmt.Errorf("%w: %d configurations have %d different MEASUREMENTs, and a check configuration holds one: select one configuration", ErrUnsupported, len(rv.Values), len(ms))
	}
	m, err := hex.DecodeString(ms[0])
	if err != nil {
		return nil, err
	}
	if asJSON {
		return checkJSON(p, m)
	}
	return checkText(rv, p, m), nil
}

// checkJSON is the protocol buffer JSON mapping of the check.Config:
// lowerCamelCase names, 64-bit integers as decimal strings, bytes as
// standard base64, a UInt32Value as its number.
func checkJSON(p CheckPolicy, m []byte) ([]byte, error) {
	type policy struct {
		Policy      string  `json:"policy"`
		VMPL        *uint32 `json:"vmpl,omitempty"`
		MinimumTCB  string  `json:"minimumTcb,omitempty"`
		Measurement string  `json:"measurement"`
	}
	type rootOfTrust struct {
		ProductLine string `json:"productLine"`
	}
	type config struct {
		RootOfTrust *rootOfTrust `json:"rootOfTrust,omitempty"`
		Policy      policy       `json:"policy"`
	}
	c := config{Policy: policy{
		Policy: strconv.FormatUint(p.GuestPolicy, 10), VMPL: p.VMPL,
		Measurement: base64.StdEncoding.EncodeToString(m),
	}}
	if p.MinimumTCB != 0 {
		c.Policy.MinimumTCB = strconv.FormatUint(p.MinimumTCB, 10)
	}
	if p.ProductLine != "" {
		c.RootOfTrust = &rootOfTrust{ProductLine: p.ProductLine}
	}
	return writeJSONValue(c)
}

// checkText is the check.Config in protocol buffer text format, fields in
// number order, with comments saying where the values come from.
func checkText(rv *provenance.ReferenceValues, p CheckPolicy, m []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# go-sev-guest check configuration (check -config FILE.textproto), written by measure export\n")
	fmt.Fprintf(&b, "# from reference values of firmware %s (sha256 %s)", strconv.Quote(rv.Firmware.Name), rv.Firmware.Digest["sha256"])
	if len(rv.Values) == 1 {
		if c := describeConfiguration(rv.Values[0].Configuration); c != "" {
			fmt.Fprintf(&b, ",\n# configuration %s", c)
		}
	} else {
		fmt.Fprintf(&b, ",\n# %d configurations with this MEASUREMENT", len(rv.Values))
	}
	b.WriteString("\n")
	if p.ProductLine != "" {
		fmt.Fprintf(&b, "root_of_trust {\n  product_line: %s\n}\n", strconv.Quote(p.ProductLine))
	}
	b.WriteString("policy {\n")
	fmt.Fprintf(&b, "  policy: %d\n", p.GuestPolicy)
	if p.VMPL != nil {
		fmt.Fprintf(&b, "  vmpl {\n    value: %d\n  }\n", *p.VMPL)
	}
	if p.MinimumTCB != 0 {
		fmt.Fprintf(&b, "  minimum_tcb: %d\n", p.MinimumTCB)
	}
	b.WriteString("  measurement: \"")
	for _, c := range m {
		fmt.Fprintf(&b, "\\%03o", c)
	}
	b.WriteString("\"\n}\n")
	return b.Bytes()
}

// describeConfiguration names c's fields, as in the predicate's JSON.
func describeConfiguration(c provenance.Configuration) string {
	f := configurationFields(c)
	var s []string
	for _, k := range configurationKeys {
		if v, ok := f[k]; ok {
			s = append(s, k+"="+strconv.Quote(v))
		}
	}
	return strings.Join(s, " ")
}
