package main

import (
	"encoding/json"
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

// evidenceOptions is --report and --quote: the attestation evidence to
// check.
type evidenceOptions struct {
	report, quote string
}

func (o *evidenceOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.report, "report", "", "SEV-SNP attestation report: 1184 bytes raw, hex or base64, or extended with its certificate table")
	fs.StringVar(&o.quote, "quote", "", "TDX quote (version 4), raw, hex or base64")
	cmd.MarkFlagsMutuallyExclusive("report", "quote")
}

// load reads and parses the evidence; name is the path as given.
func (o *evidenceOptions) load(cmd *cobra.Command) (ev verify.Evidence, name string, raw []byte, err error) {
	kind, path := verify.KindSNPReport, o.report
	if o.quote != "" {
		kind, path = verify.KindTDXQuote, o.quote
	}
	if path == "" {
		return nil, "", nil, usagef("--report or --quote is required")
	}
	ev, raw, err = loadEvidence(cmd, path, kind)
	return ev, path, raw, err
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
  measure report show quote.dat --output json`,
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
		Short: "Print every field of an SEV-SNP attestation report or a TDX quote",
		Long: `show prints the fields of an SEV-SNP attestation report (raw, hex, base64 or
extended with its certificate table) or a TDX quote (version 4), telling them
apart by their headers; "-" reads standard input. It checks nothing: see
compare for that.`,
		Example: `  measure report show report.bin
  measure report show quote.dat --output json
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
		b, err := json.MarshalIndent(struct {
			Platform string         `json:"platform"`
			Fields   []verify.Field `json:"fields"`
		}{ev.Platform(), ev.Fields()}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "PLATFORM\t%s\n", ev.Platform())
	for _, f := range ev.Fields() {
		fmt.Fprintf(tw, "%s\t%s\n", f.Name, strings.ReplaceAll(f.Value, "\n", " "))
	}
	return tw.Flush()
}
