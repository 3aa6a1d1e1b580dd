//go:build !measure_front

package main

import (
	"encoding/hex"
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
	// format and allowUnsigned are --refs-format and
	// --allow-unsigned-refs (export.go).
	format        string
	allowUnsigned bool
}

func (o *refsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.path, "refs", "", "signed reference values: a DSSE envelope or Sigstore bundle from measure sign")
	fs.StringArrayVar(&o.keys, "key", nil, "trusted public key of the reference values' signer (PKIX PEM); repeat for several")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct --key keys must have signed")
	o.addRefsFormatFlags(fs)
}

// load verifies the envelope and returns its reference values.
func (o *refsOptions) load(cmd *cobra.Command) (*provenance.ReferenceValues, verify.References, error) {
	if o.format != refsFormatDSSE {
		return o.loadExported(cmd)
	}
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
	res, _, err := provenance.VerifySigned(cmd.Context(), env, provenance.VerifyOptions{Keys: keys, Threshold: o.threshold})
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
	idKey      string
	authorKey  string
}

func (o *policyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.allowDebug, "allow-debug", false, "accept a guest the host may debug (SEV-SNP POLICY.DEBUG, TDX TD_ATTRIBUTES.DEBUG)")
	fs.StringVar(&o.minTCB, "min-tcb", "", "SEV-SNP: lowest acceptable TCB, bl=N,tee=N,snp=N,ucode=N (Turin: fmc=N too; an fmc fails Milan and Genoa reports) or a TCB_VERSION number (read in the report's layout)")
	fs.IntVar(&o.vmpl, "vmpl", -1, "SEV-SNP: the VMPL the report must come from (0 to 3)")
	fs.StringVar(&o.reportData, "report-data", "", "expected report data in hex (up to 64 bytes, zero-padded)")
	fs.StringVar(&o.idKey, "id-key", "", "SEV-SNP: the P-384 key (PEM: public, or private as for snp-create-id-block) that signed the ID block; ID_KEY_DIGEST must be its digest")
	fs.StringVar(&o.authorKey, "author-key", "", "SEV-SNP: the P-384 author key (PEM) that signed the ID key; AUTHOR_KEY_DIGEST must be its digest")
}

func (o *policyOptions) policy(cmd *cobra.Command, platform string) (verify.Policy, error) {
	p := verify.Policy{AllowDebug: o.allowDebug}
	if platform == "tdx" {
		for _, name := range []string{"min-tcb", "vmpl", "id-key", "author-key"} {
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
	for _, k := range []struct {
		flag, path string
		digest     **[48]byte
	}{{"id-key", o.idKey, &p.IDKeyDigest}, {"author-key", o.authorKey, &p.AuthorKeyDigest}} {
		if k.path == "" {
			continue
		}
		b, err := readFileLimit(k.path, maxKeySize)
		if err != nil {
			return p, err
		}
		d, err := verify.KeyDigestPEM(b)
		if err != nil {
			return p, fmt.Errorf("--%s %q: %w", k.flag, k.path, err)
		}
		*k.digest = &d
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
		Use:   "compare (--report FILE | --quote FILE [--hcl FILE] | --hcl FILE) --refs ENVELOPE --key PUB",
		Short: "Check an attestation report or quote against signed reference values",
		Long: `compare verifies the reference values' signatures (as verify does), then
checks the report's MEASUREMENT (SEV-SNP) or the quote's MRTD and RTMRs (TDX)
against every configuration in them and prints a verdict naming the matching
configuration or the nearest miss. With --certs it also verifies the hardware
signature offline, to AMD's or Intel's root or to a root named with
--trust-root, and that the VCEK was issued for the report's TCB and chip.
The report's other fields are checked against the policy flags (debugging
is refused unless --allow-debug). An Azure HCL report (--report or --hcl) is
checked by its SEV-SNP report, or with --quote by the quote of its TD report,
and its runtime data, the vTPM's key among it, must be bound to them (else
exit 21).

Exit status: 0 the measurement matches, every check passed and the hardware
signature verified to a trusted root (or --no-hardware-check); 1 no
configuration matches; 10-15 the reference values are rejected (as verify);
20 the report or quote cannot be read; 21 the hardware signature does not
verify; 22 a policy check fails; 23 everything checked held but the hardware
signature was not verified to a trusted root (result UNVERIFIED). See
docs/compare.md.`,
		Example: `  measure compare --report report.bin --refs refs.dsse.json --key ci.pub --certs kds/
  measure compare --quote quote.dat --refs refs.dsse.json --key ci.pub --certs certs/
  measure compare --quote td-quote.dat --hcl hcl-report.bin --refs refs.dsse.json --key ci.pub --certs certs/
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
	if !o.evidence.given() {
		return usagef("--report or --quote is required, or --hcl")
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
	hw, hwErr := o.evidence.checkHCL(o.certs.hardware(cmd.Context(), ev))
	v, verr := verify.Assessment{
		Name: name, Evidence: ev, Values: rv, References: refs,
		Hardware: hw, HardwareErr: hwErr, Policy: pol, Trust: trust,
	}.Verdict()
	if v == nil {
		return verr
	}
	if err := o.print(cmd.OutOrStdout(), v); err != nil {
		return err
	}
	if verr != nil {
		return fmt.Errorf("%s: %w", name, verr)
	}
	return nil
}

func (o *compareOptions) print(w io.Writer, v *verify.Verdict) error {
	switch o.out.format {
	case "json":
		return writeJSON(w, v)
	case "vsa":
		var at *time.Time
		if o.certs.at != "" {
			t, _ := o.certs.time()
			at = &t
		}
		b, err := v.VSA(verifierID, toolVersion(), at)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return v.WriteText(w)
}
