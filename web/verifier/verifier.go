// Package verifier is the core of the browser verifier in web/: it turns
// the files a person gives the page into what measure compare and measure
// explain print for the same files, through the same library calls
// (verify.Assessment, verify.Verdict.WriteText, verify.Explainer), so that
// the page and the CLI cannot disagree on a verdict or its wording. It
// reads no file and makes no network request: every input comes in as
// bytes, and certificates come only from the evidence or from the files
// given. web/wasm exposes it to JavaScript; it does not decide anything
// itself.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// Size limits, the CLI's (cmd/measure): evidence with its certificates is a
// few KiB, hex or base64 at most doubles it.
const (
	MaxEvidenceSize = 1 << 20
	MaxEnvelopeSize = 16 << 20
	MaxKeySize      = 64 << 10
	MaxCertSize     = verify.MaxCertsDirFile
	MaxFirmwareSize = 64 << 20
)

// File is one file given to the page.
type File struct {
	// Name is the file's name as the person's system gave it (no
	// directory), or "pasted" for text pasted in.
	Name string
	Data []byte
	// Role, for a certificate or collateral file, is the name stem it
	// would have in a measure --certs directory (Roles); "" guesses it
	// (GuessRole), NotUsed leaves the file out.
	Role string
}

// Inputs are everything the page was given.
type Inputs struct {
	// Evidence is an SEV-SNP report (raw, hex, base64, extended with its
	// certificate table, or inside an Azure HCL report) or a TDX quote.
	Evidence File
	// Refs is a DSSE envelope or a Sigstore bundle of signed reference
	// values, as measure compare --refs reads them; Keys the publisher's
	// public keys (PKIX PEM), which the person chose as such (a key the
	// page only recognised is not one), Threshold how many of them must
	// have signed (1 when 0).
	Refs      *File
	Keys      []File
	Threshold int
	// Certs are certificates, CRLs and collateral for the hardware
	// signature, as measure compare --certs reads them.
	Certs []File
	// TrustRoots are root certificates to trust besides AMD's and Intel's
	// (measure compare --trust-root).
	TrustRoots []File
	// Firmware is the firmware image Explain searches.
	Firmware *File
	Policy   PolicyInputs
	// VerifyTime is an RFC 3339 time at which certificates must be valid
	// (--verify-time); empty means Now.
	VerifyTime string
	Now        time.Time
	// NoHardwareCheck accepts evidence whose hardware signature is not
	// verified to a trusted root (--no-hardware-check).
	NoHardwareCheck bool
}

// PolicyInputs are the policy as the page's form gives it, as text, as
// measure compare's flags take it.
type PolicyInputs struct {
	AllowDebug bool   // --allow-debug
	MinTCB     string // --min-tcb
	VMPL       string // --vmpl, empty for none
	ReportData string // --report-data, hex
}

// Error kinds: what kind of input stopped the verification before a
// verdict, as measure compare's exit codes tell them apart.
const (
	KindUsage           = "usage"            // exit 2: an input missing or malformed
	KindEvidence        = "evidence"         // exit 20: the report or quote cannot be read
	KindReferenceValues = "reference-values" // exit 10-15: the envelope or bundle is rejected
	KindHardware        = "hardware"         // exit 21: the hardware check could not run
	KindFirmware        = "firmware"         // the firmware image cannot be read
)

// Error is what stopped the verification before a verdict.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Result is what the page shows for its inputs.
type Result struct {
	// Command is the measure command line that checks the same files, the
	// certificate files named as in a --certs directory "certs" (CertsDir).
	Command string `json:"command"`
	// Error, when set, stopped the verification; what was established
	// before it (the decoded evidence) is still given.
	Error    *Error    `json:"error,omitempty"`
	Evidence *Evidence `json:"evidence,omitempty"`
	// Certs says how each certificate file was used.
	Certs []CertFile `json:"certs,omitempty"`
	// Verdict is measure compare --output json's verdict, VerdictText its
	// text; set only with reference values.
	Verdict     *verify.Verdict `json:"verdict,omitempty"`
	VerdictText string          `json:"verdict_text,omitempty"`
	// Without reference values there is no verdict: Hardware is the
	// hardware check's outcome (HardwareError when it failed) and Policy
	// the policy's checks (PolicyError when one failed).
	Hardware      *verify.Hardware `json:"hardware,omitempty"`
	HardwareError string           `json:"hardware_error,omitempty"`
	Policy        []verify.Check   `json:"policy,omitempty"`
	PolicyError   string           `json:"policy_error,omitempty"`
	// Millis is how long the verification took inside the library.
	Millis float64 `json:"millis"`
}

// Evidence is the decoded evidence, as measure report show prints it.
type Evidence struct {
	verify.NamedDigest
	Platform string `json:"platform"`
	// Form says what the bytes were: an SEV-SNP report (and whether
	// extended with certificates), a TDX quote, an Azure HCL report.
	Form      string            `json:"form"`
	Fields    []verify.Field    `json:"fields"`
	Registers []verify.Register `json:"registers"`
}

// CertFile is one certificate or collateral file and the role it played.
type CertFile struct {
	Name string `json:"name"`
	// Role is the --certs stem it was used as; empty when none could be
	// told (the file was not used).
	Role string `json:"role"`
	// As is the name it had in the certs directory.
	As string `json:"as,omitempty"`
}

// CertsDirName is the name the certificate files' directory has in
// Result.Command and in the hardware check's sources.
const CertsDirName = "certs"

// loaded is the evidence as measure compare loads it.
type loaded struct {
	ev   verify.Evidence
	hcl  *verify.HCLReport
	flag string // --report or --quote
}

// Verify checks in's evidence against its reference values, as measure
// compare does with the flags Result.Command names. Without reference
// values it decodes the evidence and checks its hardware signature and
// policy alone: no verdict.
func Verify(ctx context.Context, in Inputs) *Result {
	start := time.Now()
	res := &Result{}
	defer func() { res.Millis = float64(time.Since(start).Microseconds()) / 1000 }()
	fail := func(kind string, err error) *Result {
		res.Error = &Error{Kind: kind, Message: err.Error()}
		return res
	}
	ld, err := loadEvidence(in.Evidence)
	if err != nil {
		return fail(KindOf(err), err)
	}
	res.Evidence = describe(in.Evidence.Name, ld)
	cmd := newCommand(in, ld)
	res.Command = cmd.String()

	pol, err := policy(in.Policy, ld.ev.Platform())
	if err != nil {
		return fail(KindUsage, err)
	}
	trust, err := trustRoots(in)
	if err != nil {
		return fail(KindUsage, err)
	}
	now := in.Now
	if in.VerifyTime != "" {
		if now, err = time.Parse(time.RFC3339, in.VerifyTime); err != nil {
			return fail(KindUsage, fmt.Errorf("verify time %q: want RFC 3339, e.g. 2024-06-01T00:00:00Z", in.VerifyTime))
		}
	}
	dir, files, err := certsDir(in.Certs)
	res.Certs = files
	if err != nil {
		return fail(KindUsage, err)
	}
	var rv *provenance.ReferenceValues
	var refs verify.References
	if in.Refs != nil {
		if rv, refs, err = loadRefs(ctx, in); err != nil {
			kind := KindReferenceValues
			if u := (*usageError)(nil); errors.As(err, &u) {
				kind = KindUsage
			}
			return fail(kind, err)
		}
	}
	var hw verify.Hardware
	var hwErr error
	if cmd.certs {
		hw, hwErr = hardware(ld.ev, dir, now)
	}
	hw, hwErr = checkHCL(ld, in.Evidence.Name, hw, hwErr)
	if rv == nil {
		if hwErr != nil && !errors.Is(hwErr, verify.ErrHardwareSignature) && !errors.Is(hwErr, verify.ErrNoCertificate) && !errors.Is(hwErr, verify.ErrPolicy) {
			return fail(KindOf(hwErr), hwErr)
		}
		// As a verdict would say: a check that failed was checked, and
		// whether the chain ends at a root the caller trusts (the
		// vendor's, or one named).
		if hwErr != nil && !errors.Is(hwErr, verify.ErrPolicy) {
			hw = verify.Hardware{Checked: true, Limits: hw.Limits}
		}
		hw.TrustedRoot = hw.Trusted(verify.HardwareTrust{Roots: trust.Roots}) == nil
		res.Hardware = &hw
		if hwErr != nil {
			res.HardwareError = hwErr.Error()
		}
		res.Policy, err = verify.CheckPolicy(ld.ev, pol)
		if err != nil {
			res.PolicyError = err.Error()
		}
		return res
	}
	v, verr := verify.Assessment{
		Name: in.Evidence.Name, Evidence: ld.ev, Values: rv, References: refs,
		Hardware: hw, HardwareErr: hwErr, Policy: pol, Trust: trust,
	}.Verdict()
	if v == nil {
		return fail(KindOf(verr), verr)
	}
	var b strings.Builder
	if err := v.WriteText(&b); err != nil {
		return fail(KindUsage, err)
	}
	res.Verdict, res.VerdictText = v, b.String()
	return res
}

// KindOf names the kind of input an error is about.
func KindOf(err error) string {
	for _, k := range []struct {
		sentinel error
		kind     string
	}{
		{verify.ErrMalformed, KindEvidence},
		{verify.ErrTruncated, KindEvidence},
		{verify.ErrUnsupported, KindEvidence},
		{provenance.ErrMalformedEnvelope, KindReferenceValues},
		{provenance.ErrPayloadType, KindReferenceValues},
		{provenance.ErrBadSignature, KindReferenceValues},
		{provenance.ErrThreshold, KindReferenceValues},
		{provenance.ErrInvalidStatement, KindReferenceValues},
		{verify.ErrHardwareSignature, KindHardware},
		{verify.ErrNoCertificate, KindHardware},
	} {
		if errors.Is(err, k.sentinel) {
			return k.kind
		}
	}
	var u *usageError
	if errors.As(err, &u) {
		return KindUsage
	}
	return KindHardware
}

// usageError is an input the page was not given, or given wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// loadEvidence parses the evidence as measure compare's --report or
// --quote does, telling them apart by their bytes: an Azure HCL report
// stands for the SEV-SNP report it holds.
func loadEvidence(f File) (*loaded, error) {
	if len(f.Data) == 0 {
		return nil, usagef("no evidence: give an SEV-SNP attestation report or a TDX quote")
	}
	if len(f.Data) > MaxEvidenceSize {
		return nil, fmt.Errorf("%q: %w: %d bytes, more than %d", f.Name, verify.ErrMalformed, len(f.Data), MaxEvidenceSize)
	}
	ev, err := verify.Parse(f.Data, verify.KindAny)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", f.Name, err)
	}
	ld := &loaded{ev: ev, flag: "--report"}
	switch e := ev.(type) {
	case *verify.TDXQuote:
		ld.flag = "--quote"
	case *verify.HCLReport:
		if e.Type() == verify.HCLTypeTDX {
			return nil, usagef("%q is an Azure HCL report holding a TD report, which is MAC'd, not signed: check its TDX quote with measure compare --quote QUOTE --hcl %s", f.Name, f.Name)
		}
		ld.hcl, ld.ev = e, e.SNP()
	}
	return ld, nil
}

func describe(name string, ld *loaded) *Evidence {
	e := &Evidence{NamedDigest: verify.NewNamedDigest(name, ld.ev.Raw()), Platform: ld.ev.Platform(), Registers: ld.ev.Registers()}
	switch ev := ld.ev.(type) {
	case *verify.SNPReport:
		e.Form = fmt.Sprintf("SEV-SNP attestation report, version %d", ev.Version())
		if ev.Extended() {
			e.Form += ", extended with its certificate table"
		}
	case *verify.TDXQuote:
		e.Form = fmt.Sprintf("TDX quote, version %d", ev.Version())
		if ev.HasPCKChain() {
			e.Form += ", carrying its PCK certificate chain"
		}
	}
	e.Fields = ld.ev.Fields()
	if ld.hcl != nil {
		e.Form = "Azure HCL report holding an " + e.Form
		e.Fields = ld.hcl.Fields()
	}
	return e
}

// policy is measure compare's policy flags.
func policy(in PolicyInputs, platform string) (verify.Policy, error) {
	p := verify.Policy{AllowDebug: in.AllowDebug}
	if platform == "tdx" {
		switch {
		case strings.TrimSpace(in.MinTCB) != "":
			return p, usagef("a minimum TCB applies to SEV-SNP reports, not TDX quotes")
		case strings.TrimSpace(in.VMPL) != "":
			return p, usagef("a VMPL applies to SEV-SNP reports, not TDX quotes")
		}
	}
	if s := strings.TrimSpace(in.MinTCB); s != "" {
		t, err := verify.ParseTCB(s)
		if err != nil {
			return p, usagef("minimum TCB: %v", err)
		}
		p.MinTCB = &t
	}
	if s := strings.TrimSpace(in.VMPL); s != "" {
		var v uint32
		if _, err := fmt.Sscanf(s, "%d", &v); err != nil || v > 3 || fmt.Sprint(v) != s {
			return p, usagef("VMPL %q, want 0 to 3", s)
		}
		p.VMPL = &v
	}
	if s := strings.TrimSpace(in.ReportData); s != "" {
		b, err := decodeHex(s)
		if err != nil || len(b) > verify.ReportDataSize {
			return p, usagef("report data %q: want up to %d bytes of hex", s, verify.ReportDataSize)
		}
		p.ReportData = b
	}
	return p, nil
}

func trustRoots(in Inputs) (verify.HardwareTrust, error) {
	t := verify.HardwareTrust{Skip: in.NoHardwareCheck}
	for _, f := range in.TrustRoots {
		if len(f.Data) > MaxCertSize {
			return t, usagef("trusted root %q: larger than %d bytes", f.Name, MaxCertSize)
		}
		fp, err := verify.RootFingerprint(f.Data)
		if err != nil {
			return t, usagef("trusted root %q: %v", f.Name, err)
		}
		t.Roots = append(t.Roots, fp)
	}
	return t, nil
}

// loadRefs verifies the envelope or bundle with the keys and returns its
// reference values, as measure compare --refs --key does: with
// provenance.VerifySigned, which tells the two apart.
func loadRefs(ctx context.Context, in Inputs) (*provenance.ReferenceValues, verify.References, error) {
	var refs verify.References
	name := in.Refs.Name
	if len(in.Keys) == 0 {
		return nil, refs, usagef("reference values %q without the publisher's public key: they are trusted only when signed", name)
	}
	threshold := in.Threshold
	if threshold == 0 {
		threshold = 1
	}
	if threshold < 1 || threshold > len(in.Keys) {
		return nil, refs, usagef("threshold %d, want 1 to %d (the number of public keys)", threshold, len(in.Keys))
	}
	var keys []*provenance.Verifier
	for _, k := range in.Keys {
		if len(k.Data) > MaxKeySize {
			return nil, refs, usagef("public key %q: larger than %d bytes", k.Name, MaxKeySize)
		}
		v, err := provenance.ParseVerifier(k.Data)
		if err != nil {
			return nil, refs, usagef("public key %q: %v", k.Name, err)
		}
		keys = append(keys, v)
	}
	if len(in.Refs.Data) > MaxEnvelopeSize {
		return nil, refs, fmt.Errorf("reference values %q: %w: larger than %d bytes", name, provenance.ErrMalformedEnvelope, MaxEnvelopeSize)
	}
	res, _, err := provenance.VerifySigned(ctx, in.Refs.Data, provenance.VerifyOptions{Keys: keys, Threshold: threshold})
	if err != nil {
		return nil, refs, fmt.Errorf("reference values %q: %w", name, err)
	}
	rv, err := provenance.ReferenceValuesFromStatement(res.Statement)
	if err != nil {
		return nil, refs, fmt.Errorf("reference values %q: %w", name, err)
	}
	refs = verify.References{NamedDigest: verify.NewNamedDigest(name, in.Refs.Data), Firmware: rv.Firmware, KeyIDs: res.KeyIDs, Configurations: len(rv.Values)}
	return rv, refs, nil
}

// hardware verifies the evidence's hardware signature from the files in
// dir and what the evidence carries, as measure compare --certs does
// without --fetch. A TDX TCB status that is not accepted is returned with
// the hardware, as an error wrapping verify.ErrPolicy.
func hardware(ev verify.Evidence, dir verify.CertsDir, now time.Time) (verify.Hardware, error) {
	switch e := ev.(type) {
	case *verify.SNPReport:
		c, err := dir.SNPCerts()
		if err != nil {
			return verify.Hardware{}, err
		}
		if e.Extended() {
			c.Sources = append(c.Sources, "report certificate table")
		}
		hw, err := verify.VerifySNPSignature(e, c, now)
		if err != nil {
			return verify.Hardware{}, err
		}
		return *hw, nil
	case *verify.TDXQuote:
		files, err := dir.TDX()
		if err != nil {
			return verify.Hardware{}, err
		}
		hw, err := verify.VerifyTDXSignatureWith(e, verify.TDXVerifyOptions{Root: files.Root, Now: now, PCK: files.PCK, Collateral: files.Collateral})
		if err != nil {
			return verify.Hardware{}, err
		}
		if err := verify.CheckTCBStatus(*hw, nil); err != nil {
			return *hw, err
		}
		return *hw, nil
	}
	return verify.Hardware{}, fmt.Errorf("evidence of type %T", ev)
}

// checkHCL adds an Azure HCL report's binding check to the hardware
// check's outcome, as measure compare does.
func checkHCL(ld *loaded, name string, hw verify.Hardware, hwErr error) (verify.Hardware, error) {
	if ld.hcl == nil {
		return hw, hwErr
	}
	if err := ld.hcl.Check(nil); err != nil {
		if errors.Is(hwErr, verify.ErrHardwareSignature) {
			return hw, hwErr
		}
		return hw, fmt.Errorf("%q: %w", name, err)
	}
	hw.Sources = append(hw.Sources, fmt.Sprintf("%s: %s, bound to the hardware report", name, ld.hcl.Describe()))
	return hw, hwErr
}
