//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/verify"
)

// maxEvidenceSize bounds a report or quote file: an extended SEV-SNP report
// with its certificates, or a TDX quote with its PCK chain, is a few KiB;
// hex or base64 text at most doubles it.
const maxEvidenceSize = 1 << 20

// evidenceOptions is --report, --quote and --hcl: the attestation evidence
// to check.
type evidenceOptions struct {
	report, quote, hcl string
	// hclReport is the Azure HCL report load read (from --report or --hcl),
	// hclName its path, and tdxQuote the quote of its TD report (--quote);
	// checkHCL checks them.
	hclReport *verify.HCLReport
	hclName   string
	tdxQuote  *verify.TDXQuote
}

func (o *evidenceOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.report, "report", "", "SEV-SNP attestation report: 1184 bytes raw, hex or base64, extended with its certificate table, or an Azure HCL report holding one")
	fs.StringVar(&o.quote, "quote", "", "TDX quote (version 4), raw, hex or base64")
	fs.StringVar(&o.hcl, "hcl", "", "Azure HCL report (vTPM NV index 0x01400001): with --quote, the one holding that quote's TD report; alone, one holding an SEV-SNP report")
	cmd.MarkFlagsMutuallyExclusive("report", "quote")
	cmd.MarkFlagsMutuallyExclusive("report", "hcl")
}

// given reports whether any evidence flag was given.
func (o *evidenceOptions) given() bool { return o.report != "" || o.quote != "" || o.hcl != "" }

// load reads and parses the evidence that compare and explain check: the
// SEV-SNP report (inside an Azure HCL report, when --report or --hcl names
// one) or the TDX quote. name is the path as given; raw the file's bytes.
// An HCL report is kept for checkHCL.
func (o *evidenceOptions) load(cmd *cobra.Command) (ev verify.Evidence, name string, raw []byte, err error) {
	switch {
	case o.quote != "":
		if ev, raw, err = loadEvidence(cmd, o.quote, verify.KindTDXQuote); err != nil {
			return nil, "", nil, err
		}
		if o.hcl != "" {
			h, err := loadHCL(cmd, o.hcl)
			if err != nil {
				return nil, "", nil, err
			}
			if h.Type() != verify.HCLTypeTDX {
				return nil, "", nil, usagef("--hcl %q holds an %s report, not a TD report for --quote: give it alone or with --report", o.hcl, h.Type())
			}
			o.hclReport, o.hclName, o.tdxQuote = h, o.hcl, ev.(*verify.TDXQuote)
		}
		return ev, o.quote, raw, nil
	case o.report != "" || o.hcl != "":
		path := o.report
		if path == "" {
			path = o.hcl
		}
		b, err := readInput(cmd, path, maxEvidenceSize)
		if err != nil {
			return nil, "", nil, err
		}
		kind := verify.KindSNPReport
		if d, err := verify.DecodeText(b); o.hcl != "" || (err == nil && verify.IsHCLReport(d)) {
			kind = verify.KindHCLReport
		}
		if ev, err = verify.Parse(b, kind); err != nil {
			return nil, "", nil, fmt.Errorf("%q: %w", path, err)
		}
		if h, ok := ev.(*verify.HCLReport); ok {
			if h.Type() == verify.HCLTypeTDX {
				return nil, "", nil, usagef("%q is an Azure HCL report holding a TD report, which is MAC'd, not signed: give its TDX quote with --quote and the HCL report with --hcl", path)
			}
			o.hclReport, o.hclName = h, path
			ev = h.SNP()
		}
		return ev, path, b, nil
	}
	return nil, "", nil, usagef("--report or --quote is required, or --hcl")
}

// loadHCL reads and parses an Azure HCL report.
func loadHCL(cmd *cobra.Command, path string) (*verify.HCLReport, error) {
	ev, _, err := loadEvidence(cmd, path, verify.KindHCLReport)
	if err != nil {
		return nil, err
	}
	return ev.(*verify.HCLReport), nil
}

// checkHCL adds the Azure HCL report's checks (verify.HCLReport.Check: its
// hardware report binds its runtime data, the vTPM's attestation key among
// it, and a TDX quote is a quote of its TD report) to the outcome of the
// hardware check. A check that fails is a hardware failure
// (verify.ErrBinding, exit 21) unless the hardware signature had already
// failed; one that holds is named among the hardware check's sources.
func (o *evidenceOptions) checkHCL(hw verify.Hardware, hwErr error) (verify.Hardware, error) {
	if o.hclReport == nil {
		return hw, hwErr
	}
	if err := o.hclReport.Check(o.tdxQuote); err != nil {
		if errors.Is(hwErr, verify.ErrHardwareSignature) {
			return hw, hwErr
		}
		return hw, fmt.Errorf("%q: %w", o.hclName, err)
	}
	hw.Sources = append(hw.Sources, fmt.Sprintf("%s: %s, bound to the hardware report", o.hclName, o.hclReport.Describe()))
	return hw, hwErr
}

func loadEvidence(cmd *cobra.Command, path string, kind verify.Kind) (verify.Evidence, []byte, error) {
	b, err := readInput(cmd, path, maxEvidenceSize)
	if err != nil {
		return nil, nil, err
	}
	ev, err := verify.Parse(b, kind)
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %w", path, err)
	}
	return ev, b, nil
}

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Read attestation reports and quotes",
		Example: `  measure report show report.bin
  measure report show quote.dat --output json
  measure report show hcl-report.bin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return usagef("report needs a subcommand: show") },
	}
	cmd.AddCommand(newReportShowCmd())
	return cmd
}

// reportShowOptions is report show's --output.
type reportShowOptions struct {
	out outputOptions
}

func (o *reportShowOptions) AddFlags(fs *pflag.FlagSet) { o.out.AddFlags(fs) }

func newReportShowCmd() *cobra.Command {
	o := &reportShowOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print every field of an SEV-SNP attestation report, a TDX quote or an Azure HCL report",
		Long: `show prints the fields of an SEV-SNP attestation report (raw, hex, base64 or
extended with its certificate table), a TDX quote (version 4) or an Azure HCL
report (what an Azure confidential VM's vTPM holds at NV index 0x01400001),
telling them apart by their headers; "-" reads standard input. For an HCL
report it prints the header, the runtime claims (the vTPM's keys with the
SHA-256 of each public key, the VM configuration, the user data), whether the
hardware report's REPORT_DATA binds them, then the SEV-SNP report's or the TD
report's fields. It checks no signature: see compare for that.`,
		Example: `  measure report show report.bin
  measure report show quote.dat --output json
  measure report show hcl-report.bin
  tpm2_nvread -C o 0x01400001 | measure report show -
  base64 -w0 report.bin | measure report show -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			ev, _, err := loadEvidence(cmd, args[0], verify.KindAny)
			if err != nil {
				return err
			}
			return printFields(cmd.OutOrStdout(), o.out.format, ev)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// printFields prints a report's fields as aligned text, or as one JSON
// object with the platform and the fields in layout order.
func printFields(w io.Writer, format string, ev verify.Evidence) error {
	if format == "json" {
		return writeJSON(w, struct {
			Platform string         `json:"platform"`
			Fields   []verify.Field `json:"fields"`
		}{ev.Platform(), ev.Fields()})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "PLATFORM\t%s\n", ev.Platform())
	for _, f := range ev.Fields() {
		fmt.Fprintf(tw, "%s\t%s\n", f.Name, strings.ReplaceAll(f.Value, "\n", " "))
	}
	return tw.Flush()
}
