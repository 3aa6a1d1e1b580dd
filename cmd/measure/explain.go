package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/verify"
)

// spaceOptions bound explain's search.
type spaceOptions struct {
	maxVCPUs int
	features []string
}

func (o *spaceOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.maxVCPUs, "max-vcpus", verify.DefaultMaxVCPUs, "try vCPU counts 1 to N")
	var def []string
	for _, f := range verify.CommonGuestFeatures {
		def = append(def, fmt.Sprintf("%#x", f))
	}
	fs.StringSliceVar(&o.features, "guest-features", def, "VMSA SEV_FEATURES values to try")
}

func (o *spaceOptions) space() (verify.Space, error) {
	if o.maxVCPUs < 1 || o.maxVCPUs > snp.MaxVCPUs {
		return verify.Space{}, usagef("--max-vcpus %d, want 1 to %d", o.maxVCPUs, snp.MaxVCPUs)
	}
	s := verify.Space{MaxVCPUs: o.maxVCPUs}
	seen := map[uint64]bool{}
	for _, f := range o.features {
		v, err := parseUint("guest-features", f, 64)
		if err != nil {
			return s, err
		}
		if !seen[v] {
			seen[v] = true
			s.GuestFeatures = append(s.GuestFeatures, v)
		}
	}
	if len(s.GuestFeatures) == 0 {
		return s, usagef("--guest-features is empty")
	}
	return s, nil
}

// explainOptions are explain's flags.
type explainOptions struct {
	evidence evidenceOptions
	fw       firmwareOptions
	boot     kernelOptions
	space    spaceOptions
	out      outputOptions
}

func newExplainCmd() *cobra.Command {
	o := &explainOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "explain --report FILE --ovmf OVMF.fd [--kernel K --initrd I --append CMDLINE]",
		Short: "Find the launch configuration that reproduces an SEV-SNP report's MEASUREMENT",
		Long: `explain searches the launch configurations of a firmware for the one whose
SEV-SNP launch digest equals the report's MEASUREMENT: vCPU counts 1 to
--max-vcpus, every vCPU model (--list-vcpu-types of snp), every VMM type, the
--guest-features values, and, when --kernel is given, measured direct boot
with and without the kernel, initrd and command line. It prints the
configuration found, or fails with exit status 1 when no configuration of
this firmware explains the measurement: the evidence that the provider runs
something else (--output json prints the answer either way, "result":
"explained" or "unexplained"). The search time is printed on standard
error.`,
		Example: `  measure explain --report report.bin --ovmf OVMF.fd
  measure explain --report report.bin --ovmf OVMF-AmdSev.fd --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"
  measure explain --report report.bin --ovmf OVMF.fd --max-vcpus 64 --guest-features 0x1 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			if o.evidence.quote != "" {
				return usagef("explain searches SEV-SNP configurations: give --report; for TDX, compare with reference values")
			}
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.evidence.report, "report", "", "SEV-SNP attestation report: raw, hex, base64 or extended")
	cmd.Flags().StringVar(&o.evidence.quote, "quote", "", "")
	cmd.Flags().MarkHidden("quote")
	o.fw.AddFlags(cmd.Flags())
	o.boot.AddFlags(cmd.Flags())
	o.space.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	return cmd
}

func (o *explainOptions) run(cmd *cobra.Command) error {
	space, err := o.space.space()
	if err != nil {
		return err
	}
	if o.evidence.report == "" {
		return usagef("--report is required")
	}
	fw, err := o.fw.load()
	if err != nil {
		return err
	}
	kh, err := o.boot.hashes(cmd)
	if err != nil {
		return err
	}
	ev, name, _, err := o.evidence.load(cmd)
	if err != nil {
		return err
	}
	r := ev.(*verify.SNPReport)
	start := time.Now()
	boots := verify.BootVariants(kh, o.boot.initrd != "", cmd.Flags().Changed("append"))
	e := verify.NewExplainer(fw.img, boots, space)
	ex, err := e.Explain(r.Measurement())
	elapsed := time.Since(start)
	fmt.Fprintf(cmd.ErrOrStderr(), "searched %d configurations of %s in %.3f s\n", ex.Searched, fw.path, elapsed.Seconds())
	for _, s := range ex.Skipped {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipped: %s\n", s)
	}
	if err != nil && !errors.Is(err, verify.ErrNoConfiguration) {
		return err
	}
	if err != nil {
		if o.out.format == "json" {
			if perr := printExplanation(cmd.OutOrStdout(), o.out.format, fw.path, r, ex); perr != nil {
				return perr
			}
		}
		return fmt.Errorf("%s: no configuration of firmware %q explains MEASUREMENT %x (searched %d: vCPUs 1-%d, every vCPU type and VMM type, guest features %s, %d boot variant(s)): %w",
			name, fw.path, r.Measurement(), ex.Searched, space.MaxVCPUs, strings.Join(o.space.features, ","), len(boots), verify.ErrNoConfiguration)
	}
	// explain answers which configuration reproduces MEASUREMENT; it does
	// not say that genuine hardware reported it, nor that the guest is
	// safe to trust: say so, with what the report itself shows.
	fmt.Fprintf(cmd.ErrOrStderr(), "warning: the report's hardware signature was not verified (measure compare --certs verifies it)\n")
	if r.Debug() {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: the report's guest policy allows debugging (POLICY.DEBUG = 1): the host can read and change the guest's memory\n")
	}
	return printExplanation(cmd.OutOrStdout(), o.out.format, fw.path, r, ex)
}

// Results of explain --output json.
const (
	resultExplained   = "explained"
	resultUnexplained = "unexplained"
)

// explanationJSON is explain --output json: the answer whether or not a
// configuration explains the measurement (docs/output.md).
type explanationJSON struct {
	// Result is "explained" or "unexplained".
	Result      string   `json:"result"`
	Measurement string   `json:"measurement"`
	Firmware    string   `json:"firmware"`
	Searched    int      `json:"searched"`
	Skipped     []string `json:"skipped,omitempty"`
	// SignatureVerified is always false: explain does not check the
	// hardware signature (compare --certs does).
	SignatureVerified bool `json:"signature_verified"`
	// DebugAllowed is the report's POLICY.DEBUG.
	DebugAllowed bool        `json:"debug_allowed"`
	Found        []explained `json:"found,omitempty"`
}

// explained is one configuration found.
type explained struct {
	VMMType       string   `json:"vmm_type"`
	VCPUs         int      `json:"vcpus"`
	VCPUTypes     []string `json:"vcpu_types,omitempty"`
	VCPUSig       string   `json:"vcpu_sig,omitempty"`
	GuestFeatures string   `json:"guest_features"`
	Kernel        bool     `json:"kernel"`
	Initrd        bool     `json:"initrd"`
	Cmdline       bool     `json:"cmdline"`
	Flags         string   `json:"flags"`
}

func printExplanation(w io.Writer, format, firmware string, r *verify.SNPReport, ex *verify.Explanation) error {
	m := r.Measurement()
	var out []explained
	for _, f := range ex.Found {
		e := explained{
			VMMType: f.Config.VMM.String(), VCPUs: f.Config.VCPUs, GuestFeatures: fmt.Sprintf("%#x", f.Config.GuestFeatures),
			Kernel: f.Boot.Kernel, Initrd: f.Boot.Initrd, Cmdline: f.Boot.Cmdline,
		}
		flags := fmt.Sprintf("--vmm-type %s --vcpus %d", e.VMMType, e.VCPUs)
		if f.Config.VMM == snp.VMMQEMU {
			e.VCPUTypes, e.VCPUSig = f.VCPUTypes, fmt.Sprintf("%#x", f.Config.VCPUSig)
			flags += " --vcpu-type " + f.VCPUTypes[0]
		}
		flags += " --guest-features " + e.GuestFeatures
		if f.Boot.Kernel {
			flags += " --kernel KERNEL"
			if f.Boot.Initrd {
				flags += " --initrd INITRD"
			}
			if f.Boot.Cmdline {
				flags += " --append CMDLINE"
			}
		}
		e.Flags = flags
		out = append(out, e)
	}
	if format == "json" {
		v := explanationJSON{Result: resultUnexplained, Measurement: fmt.Sprintf("%x", m), Firmware: firmware,
			Searched: ex.Searched, Skipped: ex.Skipped, DebugAllowed: r.Debug(), Found: out}
		if len(out) > 0 {
			v.Result = resultExplained
		}
		return writeJSON(w, v)
	}
	var b strings.Builder
	for i, e := range out {
		if i > 0 {
			b.WriteString("or:\n")
		}
		fmt.Fprintf(&b, "explained: %s\n", e.Flags)
		if len(e.VCPUTypes) > 1 {
			fmt.Fprintf(&b, "  vCPU types with signature %s: %s\n", e.VCPUSig, strings.Join(e.VCPUTypes, ", "))
		}
		desc := "no measured direct boot"
		if ex.Found[i].Boot.Kernel {
			desc = ex.Found[i].Boot.String()
		}
		fmt.Fprintf(&b, "  boot: %s\n", desc)
	}
	fmt.Fprintf(&b, "MEASUREMENT: %x\n", m)
	_, err := io.WriteString(w, b.String())
	return err
}
