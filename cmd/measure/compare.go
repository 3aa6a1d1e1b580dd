package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// verifierID names this tool in verification summaries.
const verifierID = "https://github.com/measure-cc/measure/cmd/measure"

// refsOptions is --refs, --key and --threshold: the signed reference values
// and who must have signed them.
type refsOptions struct {
	path      string
	keys      []string
	threshold int
}

func (o *refsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.path, "refs", "", "signed reference values: a DSSE envelope from measure sign")
	fs.StringArrayVar(&o.keys, "key", nil, "trusted public key of the reference values' signer (PKIX PEM); repeat for several")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct --key keys must have signed")
}

// load verifies the envelope and returns its reference values.
func (o *refsOptions) load(cmd *cobra.Command) (*provenance.ReferenceValues, verify.References, error) {
	var refs verify.References
	if o.path == "" {
		return nil, refs, usagef("--refs is required")
	}
	if len(o.keys) == 0 {
		return nil, refs, usagef("--key is required: reference values are trusted only when signed")
	}
	if o.threshold < 1 || o.threshold > len(o.keys) {
		return nil, refs, usagef("--threshold %d, want 1 to %d (the number of --key)", o.threshold, len(o.keys))
	}
	var keys []*provenance.Verifier
	for _, path := range o.keys {
		b, err := readFileLimit(path, maxKeySize)
		if err != nil {
			return nil, refs, err
		}
		v, err := provenance.ParseVerifier(b)
		if err != nil {
			return nil, refs, fmt.Errorf("public key %q: %w", path, err)
		}
		keys = append(keys, v)
	}
	env, err := readInput(cmd, o.path, maxStatementSize)
	if err != nil {
		return nil, refs, err
	}
	res, err := provenance.Verify(cmd.Context(), env, provenance.VerifyOptions{Keys: keys, Threshold: o.threshold})
	if err != nil {
		return nil, refs, fmt.Errorf("reference values %q: %w", o.path, err)
	}
	rv, err := provenance.ReferenceValuesFromStatement(res.Statement)
	if err != nil {
		return nil, refs, fmt.Errorf("reference values %q: %w", o.path, err)
	}
	refs = verify.References{NamedDigest: verify.NewNamedDigest(o.path, env), Firmware: rv.Firmware, KeyIDs: res.KeyIDs, Configurations: len(rv.Values)}
	return rv, refs, nil
}

// policyOptions are the checks on the report's other fields.
type policyOptions struct {
	allowDebug bool
	minTCB     string
	vmpl       int
	reportData string
}

func (o *policyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.allowDebug, "allow-debug", false, "accept a guest the host may debug (SEV-SNP POLICY.DEBUG, TDX TD_ATTRIBUTES.DEBUG)")
	fs.StringVar(&o.minTCB, "min-tcb", "", "SEV-SNP: lowest acceptable TCB, bl=N,tee=N,snp=N,ucode=N or a TCB_VERSION number")
	fs.IntVar(&o.vmpl, "vmpl", -1, "SEV-SNP: the VMPL the report must come from (0 to 3)")
	fs.StringVar(&o.reportData, "report-data", "", "expected report data in hex (up to 64 bytes, zero-padded)")
}

func (o *policyOptions) policy(cmd *cobra.Command, platform string) (verify.Policy, error) {
	p := verify.Policy{AllowDebug: o.allowDebug}
	if platform == "tdx" {
		for _, name := range []string{"min-tcb", "vmpl"} {
			if cmd.Flags().Changed(name) {
				return p, usagef("--%s applies to SEV-SNP reports, not TDX quotes", name)
			}
		}
	}
	if o.minTCB != "" {
		t, err := verify.ParseTCB(o.minTCB)
		if err != nil {
			return p, usagef("--min-tcb: %v", err)
		}
		p.MinTCB = &t
	}
	if cmd.Flags().Changed("vmpl") {
		if o.vmpl < 0 || o.vmpl > 3 {
			return p, usagef("--vmpl %d, want 0 to 3", o.vmpl)
		}
		v := uint32(o.vmpl)
		p.VMPL = &v
	}
	if cmd.Flags().Changed("report-data") {
		b, err := hex.DecodeString(strings.TrimPrefix(o.reportData, "0x"))
		if err != nil || len(b) > verify.ReportDataSize {
			return p, usagef("--report-data %q: want up to %d bytes of hex", o.reportData, verify.ReportDataSize)
		}
		p.ReportData = b
	}
	return p, nil
}

// compareOptions are compare's flags.
type compareOptions struct {
	evidence evidenceOptions
	refs     refsOptions
	certs    certsOptions
	policy   policyOptions
	out      outputOptions
}

func newCompareCmd() *cobra.Command {
	o := &compareOptions{out: outputOptions{allowed: []string{"text", "json", "vsa"}}}
	cmd := &cobra.Command{
		Use:   "compare (--report FILE | --quote FILE) --refs ENVELOPE --key PUB",
		Short: "Check an attestation report or quote against signed reference values",
		Long: `compare verifies the reference values' signatures (as verify does), then
checks the report's MEASUREMENT (SEV-SNP) or the quote's MRTD and RTMRs (TDX)
against every configuration in them and prints a verdict naming the matching
configuration or the nearest miss. With --certs it also verifies the hardware
signature offline, to AMD's or Intel's root or to a root named with
--trust-root, and that the VCEK was issued for the report's TCB and chip.
The report's other fields are checked against the policy flags (debugging
is refused unless --allow-debug).

Exit status: 0 the measurement matches, every check passed and the hardware
signature verified to a trusted root (or --no-hardware-check); 1 no
configuration matches; 10-15 the reference values are rejected (as verify);
20 the report or quote cannot be read; 21 the hardware signature does not
verify; 22 a policy check fails; 23 everything checked held but the hardware
signature was not verified to a trusted root (result UNVERIFIED). See
docs/compare.md.`,
		Example: `  measure compare --report report.bin --refs refs.dsse.json --key ci.pub --certs kds/
  measure compare --quote quote.dat --refs refs.dsse.json --key ci.pub --certs certs/
  measure compare --report report.bin --refs refs.dsse.json --key ci.pub --certs kds/ --min-tcb snp=22 --output json
  measure compare --report report.bin --refs refs.dsse.json --key ci.pub --no-hardware-check   # measurement only, on purpose`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			if _, err := o.certs.time(); err != nil {
				return err
			}
			return o.run(cmd)
		},
	}
	o.evidence.AddFlags(cmd)
	o.refs.AddFlags(cmd.Flags())
	o.certs.AddFlags(cmd.Flags())
	o.policy.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	return cmd
}

func (o *compareOptions) run(cmd *cobra.Command) error {
	if o.evidence.report == "" && o.evidence.quote == "" {
		return usagef("--report or --quote is required")
	}
	rv, refs, err := o.refs.load(cmd)
	if err != nil {
		return err
	}
	ev, name, _, err := o.evidence.load(cmd)
	if err != nil {
		return err
	}
	pol, err := o.policy.policy(cmd, ev.Platform())
	if err != nil {
		return err
	}
	trust, err := o.certs.trust()
	if err != nil {
		return err
	}
	v := &verify.Verdict{Platform: ev.Platform(), Evidence: verify.NewNamedDigest(name, ev.Raw()), References: refs}
	// The first failure decides the exit status: a bad hardware signature
	// makes everything else moot, then a mismatch, then the policy.
	var errs []error
	hw, hwErr := o.certs.hardware(ev)
	if hwErr != nil {
		if !errors.Is(hwErr, verify.ErrHardwareSignature) && !errors.Is(hwErr, verify.ErrNoCertificate) {
			return hwErr
		}
		hw = verify.Hardware{Checked: true}
		errs = append(errs, hwErr)
	}
	v.Hardware = hw
	c, err := verify.Compare(ev, rv)
	if err != nil && !errors.Is(err, verify.ErrMismatch) {
		return err
	}
	v.Comparison = c
	if err != nil {
		errs = append(errs, err)
	}
	v.Policy, err = verify.CheckPolicy(ev, pol)
	if err != nil {
		if !errors.Is(err, verify.ErrPolicy) {
			return err
		}
		errs = append(errs, err)
	}
	v.Result = verify.Passed
	for _, e := range errs {
		v.Result = verify.Failed
		v.Failures = append(v.Failures, e.Error())
	}
	// Everything checked held: the verdict is PASSED only when the
	// evidence is tied to hardware the caller trusts.
	if len(errs) == 0 {
		if err := v.Hardware.Trusted(trust); err != nil {
			v.Result = verify.Unverified
			v.Failures = append(v.Failures, err.Error())
			errs = append(errs, err)
		}
	}
	if err := o.print(cmd.OutOrStdout(), v); err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", name, errs[0])
	}
	return nil
}

func (o *compareOptions) print(w io.Writer, v *verify.Verdict) error {
	switch o.out.format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "vsa":
		var at *time.Time
		if o.certs.at != "" {
			t, _ := o.certs.time()
			at = &t
		}
		b, err := v.VSA(verifierID, version, at)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return printVerdict(w, v)
}

// printVerdict writes the verdict for a person: the answer first, then
// the evidence for it.
func printVerdict(w io.Writer, v *verify.Verdict) error {
	var b bytes.Buffer
	c := v.Comparison
	switch {
	case c != nil && len(c.Matches) > 0:
		fmt.Fprintf(&b, "MATCH: the %s evidence matches %s\n", v.Platform, verify.DescribeConfiguration(c.Matches[0].Configuration))
		for _, m := range c.Matches[1:] {
			fmt.Fprintf(&b, "  and also %s\n", verify.DescribeConfiguration(m.Configuration))
		}
	case c != nil:
		fmt.Fprintf(&b, "MISMATCH: the %s evidence matches none of the %d configurations in the reference values\n", v.Platform, c.Compared)
		if c.Nearest != nil {
			fmt.Fprintf(&b, "  nearest: %s (equal: %s)\n", verify.DescribeConfiguration(c.Nearest.Configuration), strings.Join(c.Nearest.Equal, ", "))
			for _, d := range c.Nearest.Differ {
				fmt.Fprintf(&b, "    %s is %s, want %s\n", d.Register, d.Got, d.Want)
			}
		} else {
			fmt.Fprintf(&b, "  no configuration agrees on any register; for SEV-SNP, measure explain searches this firmware's configurations\n")
		}
	}
	fmt.Fprintf(&b, "result: %s\n", v.Result)
	if c != nil {
		for _, r := range c.Registers {
			fmt.Fprintf(&b, "%s: %s\n", r.Name, r.Hex)
		}
	}
	fmt.Fprintf(&b, "evidence: %s (sha256 %s)\n", v.Evidence.Name, v.Evidence.SHA256)
	fmt.Fprintf(&b, "reference values: %s for %s, %d configuration(s), signed by %s\n", v.References.Name, v.References.Firmware.Name, v.References.Configurations, strings.Join(v.References.KeyIDs, ", "))
	hw := v.Hardware
	switch {
	case !hw.Checked:
		fmt.Fprintf(&b, "hardware signature: NOT CHECKED (no --certs): nothing here shows that the evidence came from genuine hardware\n")
	case hw.Signer == "":
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
		fmt.Fprintf(&b, "hardware signature: verified, %s, chained to %s; %s\n", line, root, strings.Join(hw.Limits, "; "))
	}
	for _, p := range v.Policy {
		status := "ok  "
		if !p.OK {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "policy %s %s = %s (want %s)\n", status, p.Name, p.Got, p.Want)
	}
	for _, f := range v.Failures {
		fmt.Fprintf(&b, "failure: %s\n", f)
	}
	_, err := w.Write(b.Bytes())
	return err
}
