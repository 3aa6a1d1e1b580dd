package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// Aspects: the separate questions a verdict answers, in the order a
// verdict lists them.
const (
	// AspectReferenceValues: who signed the reference values.
	AspectReferenceValues = "reference-values"
	// AspectMeasurement: which configuration of the reference values the
	// evidence's registers equal.
	AspectMeasurement = "measurement"
	// AspectHardware: the hardware signature and the root its chain ends at.
	AspectHardware = "hardware-signature"
	// AspectTCB: the platform's TCB, as reported, as certified by the
	// hardware key's certificate or the vendor's collateral, and as
	// required.
	AspectTCB = "tcb"
	// AspectPolicy: the report's other fields against the policy.
	AspectPolicy = "policy"
)

// Statuses of a Level.
const (
	StatusPassed = "passed"
	StatusFailed = "failed"
	// StatusNotChecked: nothing was checked, for want of input (no
	// certificates, no collateral); Detail says what is missing.
	StatusNotChecked = "not-checked"
	// StatusSkipped: the caller said not to check it
	// (HardwareTrust.Skip).
	StatusSkipped = "skipped"
)

// Level is one question a verdict answers and its answer.
type Level struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Detail says what was established, against what, or what is missing.
	Detail string `json:"detail"`
}

// Assessment is everything a verdict is made of: the evidence, the
// verified reference values, and the outcome of the hardware check, which
// the caller runs (it may need certificates from files or the network).
type Assessment struct {
	// Name names the evidence (a path).
	Name     string
	Evidence Evidence
	// Values are the reference values; References says who signed them.
	Values     *provenance.ReferenceValues
	References References
	// Hardware is the hardware check's result; HardwareErr its error,
	// which must wrap ErrHardwareSignature or ErrNoCertificate (a
	// signature that failed) or ErrPolicy (collateral that rejects the
	// platform, such as a TDX TCB status not accepted). A zero Hardware
	// with a nil error is a check that did not run.
	Hardware    Hardware
	HardwareErr error
	Policy      Policy
	Trust       HardwareTrust
}

// Verdict compares, checks the policy and decides. It returns the verdict
// and, when the result is not PASSED, the error that decides the exit
// status: a hardware signature that fails makes everything else moot, then
// a mismatch (ErrMismatch, or ErrPlatform for reference values of another
// platform), then a policy failure, then a hardware signature not verified
// to a trusted root (ErrHardwareUnverified). An error that is none of
// those (a policy rule the platform has no field for, a hardware check
// that could not run) returns a nil verdict.
func (a Assessment) Verdict() (*Verdict, error) {
	if a.HardwareErr != nil && !errors.Is(a.HardwareErr, ErrHardwareSignature) &&
		!errors.Is(a.HardwareErr, ErrNoCertificate) && !errors.Is(a.HardwareErr, ErrPolicy) {
		return nil, a.HardwareErr
	}
	v := &Verdict{
		Platform:   a.Evidence.Platform(),
		Evidence:   NewNamedDigest(a.Name, a.Evidence.Raw()),
		References: a.References,
		Hardware:   a.Hardware,
	}
	var errs []error
	if a.HardwareErr != nil {
		if !errors.Is(a.HardwareErr, ErrPolicy) {
			v.Hardware = Hardware{Checked: true, Limits: a.Hardware.Limits}
		}
		errs = append(errs, a.HardwareErr)
	}
	c, err := Compare(a.Evidence, a.Values)
	if err != nil && !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrPlatform) {
		return nil, err
	}
	v.Comparison = c
	if err != nil {
		errs = append(errs, err)
	}
	v.Policy, err = CheckPolicy(a.Evidence, a.Policy)
	if err != nil {
		if !errors.Is(err, ErrPolicy) {
			return nil, err
		}
		errs = append(errs, err)
	}
	// A collateral verdict on the platform is a policy failure, but ranks
	// after a mismatch like any other.
	if len(errs) > 1 && errors.Is(errs[0], ErrPolicy) {
		errs = append(errs[1:], errs[0])
	}
	v.Result = Passed
	for _, e := range errs {
		v.Result = Failed
		v.Failures = append(v.Failures, e.Error())
	}
	v.Hardware.TrustedRoot = v.Hardware.trustedRoot(a.Trust.Roots) == nil
	trustErr := v.Hardware.Trusted(a.Trust)
	if len(errs) == 0 && trustErr != nil {
		v.Result = Unverified
		v.Failures = append(v.Failures, trustErr.Error())
		errs = append(errs, trustErr)
	}
	// Reference values nobody signed (an export read back with
	// --allow-unsigned-refs) may match, but nothing says they are the
	// publisher's: never a PASS.
	if len(errs) == 0 && len(a.References.KeyIDs) == 0 {
		v.Result = Unverified
		v.Failures = append(v.Failures, ErrUnsignedReferences.Error())
		errs = append(errs, ErrUnsignedReferences)
	}
	v.Checks = a.levels(v, trustErr)
	if len(errs) > 0 {
		return v, errs[0]
	}
	return v, nil
}

// levels states each check's outcome for v.
func (a Assessment) levels(v *Verdict, trustErr error) []Level {
	refs := Level{Name: AspectReferenceValues, Status: StatusPassed,
		Detail: fmt.Sprintf("%s for %s, %d configuration(s), signed by %s", v.References.Name, v.References.Firmware.Name, v.References.Configurations, strings.Join(v.References.KeyIDs, ", "))}
	if len(v.References.KeyIDs) == 0 {
		refs.Status = StatusNotChecked
		refs.Detail = fmt.Sprintf("%s for %s, %d configuration(s), NOT signed: nothing shows who published them", v.References.Name, v.References.Firmware.Name, v.References.Configurations)
	}
	meas := Level{Name: AspectMeasurement}
	switch c := v.Comparison; {
	case c != nil && c.ReferencePlatform != c.Platform:
		meas.Status, meas.Detail = StatusFailed, fmt.Sprintf("the reference values are for %s, the evidence is %s: nothing compared", c.ReferencePlatform, c.Platform)
	case c != nil && len(c.Matches) > 0:
		meas.Status, meas.Detail = StatusPassed, fmt.Sprintf("%s equal(s) %s", registerNames(c.Registers), DescribeConfiguration(c.Matches[0].Configuration))
	case c != nil:
		meas.Status, meas.Detail = StatusFailed, fmt.Sprintf("%s match(es) none of %d configuration(s)", registerNames(c.Registers), c.Compared)
	}
	return []Level{refs, meas, a.hardwareLevel(v, trustErr), a.tcbLevel(v), policyLevel(v)}
}

func registerNames(regs []Register) string {
	var s []string
	for _, r := range regs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ", ")
}

func (a Assessment) hardwareLevel(v *Verdict, trustErr error) Level {
	l := Level{Name: AspectHardware}
	hw := v.Hardware
	switch {
	case a.HardwareErr != nil && !errors.Is(a.HardwareErr, ErrPolicy):
		l.Status, l.Detail = StatusFailed, a.HardwareErr.Error()
	case !hw.Checked && a.Trust.Skip:
		l.Status, l.Detail = StatusSkipped, "not checked, as asked (--no-hardware-check): nothing shows that the evidence came from genuine hardware"
	case !hw.Checked:
		l.Status, l.Detail = StatusNotChecked, "no certificates: nothing shows that the evidence came from genuine hardware"
	default:
		signer := hw.Signer
		if hw.ProductLine != "" {
			signer += " (" + hw.ProductLine + ")"
		}
		root := "the vendor's root " + hw.Root
		if !hw.VendorRoot {
			root = "a root supplied by the caller, NOT the vendor's: " + hw.Root
		}
		l.Detail = fmt.Sprintf("%s, chained to %s", signer, root)
		switch {
		case hw.TrustedRoot:
			l.Status = StatusPassed
		case a.Trust.Skip:
			l.Status, l.Detail = StatusSkipped, l.Detail+": not relied on, a root nobody named as trusted (accepted by --no-hardware-check)"
		default:
			l.Status, l.Detail = StatusFailed, l.Detail+", which was not named as trusted (--trust-root)"
		}
	}
	return l
}

func (a Assessment) tcbLevel(v *Verdict) Level {
	l := Level{Name: AspectTCB}
	var failed []string
	for _, c := range v.Policy {
		if strings.HasSuffix(c.Name, "_TCB") && !c.OK {
			failed = append(failed, fmt.Sprintf("%s is %s, want %s", c.Name, c.Got, c.Want))
		}
	}
	var parts []string
	switch e := a.Evidence.(type) {
	case *SNPReport:
		reported := e.TCBs()["REPORTED_TCB"]
		parts = append(parts, "REPORTED_TCB "+reported.String())
		if v.Hardware.CertifiedTCB != nil {
			parts = append(parts, "certified by the "+v.Hardware.Signer+" certificate")
		} else {
			parts = append(parts, "not certified: the signing certificate's TCB was not compared with it")
		}
		if a.Policy.MinTCB != nil {
			parts = append(parts, "required at least "+a.Policy.MinTCB.String())
		} else {
			parts = append(parts, "no minimum required (--min-tcb)")
		}
	default:
		if v.Hardware.TCBStatus != "" {
			s := "TCB status " + v.Hardware.TCBStatus + " (vendor collateral)"
			if len(v.Hardware.TCBAdvisories) > 0 {
				s += ", advisories " + strings.Join(v.Hardware.TCBAdvisories, ", ")
			}
			parts = append(parts, s)
		} else {
			parts = append(parts, "TCB status not evaluated: no TCB info collateral")
		}
	}
	if errors.Is(a.HardwareErr, ErrPolicy) {
		failed = append(failed, a.HardwareErr.Error())
	}
	l.Detail = strings.Join(parts, "; ")
	switch {
	case len(failed) > 0:
		l.Status, l.Detail = StatusFailed, l.Detail+": "+strings.Join(failed, "; ")
	case !v.Hardware.TrustedRoot:
		// Certified by a key that chains to no trusted root: certified
		// by nobody.
		l.Status = StatusNotChecked
		if v.Hardware.Verified {
			l.Detail += "; the certificate or collateral chains to a root nobody named as trusted, so it vouches for nothing"
		}
	case v.Hardware.CertifiedTCB != nil || v.Hardware.TCBStatus != "":
		l.Status = StatusPassed
	default:
		l.Status = StatusNotChecked
	}
	return l
}

func policyLevel(v *Verdict) Level {
	l := Level{Name: AspectPolicy, Status: StatusPassed}
	var s []string
	for _, c := range v.Policy {
		if strings.HasSuffix(c.Name, "_TCB") {
			continue // the TCB level's
		}
		s = append(s, fmt.Sprintf("%s = %s", c.Name, c.Got))
		if !c.OK {
			l.Status = StatusFailed
		}
	}
	l.Detail = strings.Join(s, ", ")
	return l
}

// WriteText writes v for a person: the answer first, then each check's
// level, then the evidence for it. measure compare prints it; anything
// that shows a verdict should use it, so that the wording is one. Every
// string in v that came from an input (names, the reference values, the
// certificates, error messages quoting them) is escaped (escapeText): no
// input prints a line of its own.
func (v *Verdict) WriteText(w io.Writer) error {
	var b bytes.Buffer
	c := v.Comparison
	switch {
	case c != nil && c.ReferencePlatform != c.Platform:
		fmt.Fprintf(&b, "MISMATCH: the %s evidence cannot match reference values for %s\n", v.Platform, escapeText(c.ReferencePlatform))
	case c != nil && len(c.Matches) > 0:
		fmt.Fprintf(&b, "MATCH: the %s evidence matches %s\n", v.Platform, DescribeConfiguration(c.Matches[0].Configuration))
		for _, m := range c.Matches[1:] {
			fmt.Fprintf(&b, "  and also %s\n", DescribeConfiguration(m.Configuration))
		}
	case c != nil:
		fmt.Fprintf(&b, "MISMATCH: the %s evidence matches none of the %d configurations in the reference values\n", v.Platform, c.Compared)
		if c.Nearest != nil {
			fmt.Fprintf(&b, "  nearest: %s (equal: %s)\n", DescribeConfiguration(c.Nearest.Configuration), escapeText(strings.Join(c.Nearest.Equal, ", ")))
			for _, d := range c.Nearest.Differ {
				fmt.Fprintf(&b, "    %s is %s, want %s\n", escapeText(d.Register), d.Got, escapeText(d.Want))
			}
		} else {
			fmt.Fprintf(&b, "  no configuration agrees on any register; for SEV-SNP, measure explain searches this firmware's configurations\n")
		}
	}
	fmt.Fprintf(&b, "result: %s\n", v.Result)
	for _, l := range v.Checks {
		fmt.Fprintf(&b, "  %-18s  %-11s  %s\n", l.Name, strings.ToUpper(l.Status), escapeText(l.Detail))
	}
	if c != nil {
		for _, r := range c.Registers {
			fmt.Fprintf(&b, "%s: %s\n", r.Name, r.Hex)
		}
	}
	fmt.Fprintf(&b, "evidence: %s (sha256 %s)\n", escapeText(v.Evidence.Name), v.Evidence.SHA256)
	hw := v.Hardware
	switch {
	case !hw.Checked:
		fmt.Fprintf(&b, "hardware signature: NOT CHECKED (no --certs): nothing here shows that the evidence came from genuine hardware\n")
	case !hw.Verified:
		fmt.Fprintf(&b, "hardware signature: FAILED\n")
	default:
		root := hw.Root
		if !hw.VendorRoot {
			root += ", NOT the vendor's published root"
		}
		line := hw.Signer
		if hw.ProductLine != "" {
			line += " (" + hw.ProductLine + ")"
		}
		fmt.Fprintf(&b, "hardware signature: verified, %s, chained to %s\n", escapeText(line), escapeText(root))
		if hw.CertifiedTCB != nil {
			fmt.Fprintf(&b, "certified TCB: %s (the %s certificate's, equal to REPORTED_TCB)\n", hw.CertifiedTCB, escapeText(hw.Signer))
		}
		if hw.TCBStatus != "" {
			fmt.Fprintf(&b, "TCB status: %s\n", escapeText(strings.Join(append([]string{hw.TCBStatus}, hw.TCBAdvisories...), " ")))
		}
		for _, crl := range hw.CRLs {
			fmt.Fprintf(&b, "revocation checked: %s\n", escapeText(crl))
		}
		for _, s := range hw.Sources {
			fmt.Fprintf(&b, "source: %s\n", escapeText(s))
		}
	}
	for _, l := range hw.Limits {
		fmt.Fprintf(&b, "not checked: %s\n", escapeText(l))
	}
	for _, p := range v.Policy {
		status := "ok  "
		if !p.OK {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "policy %s %s = %s (want %s)\n", status, p.Name, escapeText(p.Got), escapeText(p.Want))
	}
	for _, f := range v.Failures {
		fmt.Fprintf(&b, "failure: %s\n", escapeText(f))
	}
	_, err := w.Write(b.Bytes())
	return err
}
