//go:build !measure_front

package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/measure"
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
	evidence    evidenceOptions
	measurement string
	fw          firmwareOptions
	seed        string
	boot        kernelOptions
	space       spaceOptions
	out         outputOptions
	eventLog    string // TDX: explain_tdx.go
}

func newExplainCmd() *cobra.Command {
	o := &explainOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "explain (--report FILE | --measurement HEX | --quote FILE [--event-log CCEL]) --ovmf OVMF.fd [--snp-ovmf-hash HEX] [--kernel K --initrd I --append CMDLINE]",
		Short: "Find the launch configuration that reproduces an SEV-SNP MEASUREMENT, an SEV-ES launch digest or a TDX MRTD",
		Long: `explain searches the launch configurations of a firmware for the one whose
launch digest equals a measurement: the MEASUREMENT of an SEV-SNP report
(--report), or a bare measurement (--measurement: 96 hex digits for an
SEV-SNP MEASUREMENT, 64 for an SEV-ES launch digest). It tries vCPU counts 1
to --max-vcpus, every vCPU model (--list-vcpu-types of snp), every VMM type
with each of its launch profiles (docs/profiles.md), the --guest-features
values (SEV-SNP only), and, when --kernel is given, measured direct boot
with and without the kernel, initrd and command line.

--snp-ovmf-hash takes a firmware seed (the SEV-SNP digest of the firmware
pages, as measure snp-ovmf-hash prints it and measure snp --snp-ovmf-hash
takes it) in place of the pages of --ovmf: the image then supplies only its
layout (SEV metadata sections, hashes table, reset address), which must be
that of the launched firmware. A seed cannot explain an SEV-ES digest.

It prints the configuration found with the measure snp (or seves) command
line that reproduces it, or fails with exit status 1 when no configuration
of this firmware explains the measurement: the evidence that the provider
runs something else (--output json prints the answer either way, "result":
"explained" or "unexplained"). The search time is printed on standard
error.

--quote takes a TDX quote: explain searches the page-add orders (and the
memory sizes, when the firmware's MRTD measures the TD HOB) for its MRTD.
With --event-log, the TD's CC event log, it also says which RTMRs the log
replays to, which memory size its TD HOB event was made with, and compares
the log event by event with the prediction of each QEMU behaviour (setup
header patched or not), printing the event that breaks each RTMR and the
measure tdx command line of the launch (docs/tdx.md).`,
		Example: `  measure explain --report report.bin --ovmf OVMF.fd
  measure explain --measurement 0a61ca2e6b5e472be1234088f1c470feb1a55b154556f1ad2223ab7faaa3396f9bd17ef04924ef82bd916962412f3baa --ovmf OVMF.fd
  measure explain --measurement 45a10654fbcca80ff3199c2d2befc7b4ae5ae80acfe4663b1cfc6f94ccba4dd5 --ovmf OVMF.fd --max-vcpus 16
  measure explain --measurement 119768794a3fef562ee35689f05da2bdf66e96cd16aade433768e92c0eb5ae892cebb679f7bf519577d095e0a18bcc8d --ovmf OVMF.fd --snp-ovmf-hash 52de7f3ba560307ec6c22a5cb001524d5e560467b5d618c715cfe3c6f1addcadb91563693fbfa433ae18c2412d739a95
  measure explain --report report.bin --ovmf OVMF-AmdSev.fd --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"
  measure explain --report report.bin --ovmf OVMF.fd --max-vcpus 64 --guest-features 0x1 --output json
  measure explain --quote quote.dat --ovmf OVMF.fd
  measure explain --quote quote.dat --ovmf OVMF.fd --event-log CCEL --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			if o.evidence.quote != "" {
				return o.runTDX(cmd)
			}
			if o.eventLog != "" {
				return usagef("--event-log needs --quote (TDX)")
			}
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.evidence.report, "report", "", "SEV-SNP attestation report: raw, hex, base64 or extended")
	cmd.Flags().StringVar(&o.measurement, "measurement", "", "a bare measurement instead of --report: an SEV-SNP MEASUREMENT (96 hex digits) or an SEV-ES launch digest (64)")
	cmd.Flags().StringVar(&o.evidence.quote, "quote", "", "TDX quote: search the launches that reproduce its MRTD")
	cmd.Flags().StringVar(&o.eventLog, "event-log", "", "with --quote: the TD's CC event log, compared with the quote's RTMRs and the prediction")
	o.fw.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.seed, "snp-ovmf-hash", "", "firmware seed (see snp-ovmf-hash), 96 hex digits: stands for the pages of --ovmf, which then gives only the layout (SEV-SNP only)")
	o.boot.AddFlags(cmd.Flags())
	o.space.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	return cmd
}

// target is the measurement explain looks for, from a report or given bare.
type target struct {
	// name says where it came from in messages: the report's path, or
	// "--measurement".
	name     string
	report   *verify.SNPReport
	platform measure.Platform
	digest   []byte
}

// register is the value's register name.
func (t *target) register() measure.Register {
	if t.platform == measure.PlatformSEVES {
		return measure.LaunchDigest
	}
	return measure.Measurement
}

// parseMeasurement reads --measurement: the length says the platform.
func parseMeasurement(s string) (*target, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, usagef("--measurement %q: not hex: %v", s, err)
	}
	t := &target{name: "--measurement", digest: b}
	switch len(b) {
	case len(snp.SNPDigest{}):
		t.platform = measure.PlatformSNP
	case len(snp.SEVDigest{}):
		t.platform = measure.PlatformSEVES
	default:
		return nil, usagef("--measurement: %d bytes, want 48 (an SEV-SNP MEASUREMENT) or 32 (an SEV-ES launch digest)", len(b))
	}
	return t, nil
}

// check refuses the combinations explain cannot search, before any file is
// read.
func (o *explainOptions) check() (*target, *snp.SNPDigest, error) {
	if (o.evidence.report == "") == (o.measurement == "") {
		return nil, nil, usagef("give exactly one of --report and --measurement")
	}
	var t *target
	if o.measurement != "" {
		var err error
		if t, err = parseMeasurement(o.measurement); err != nil {
			return nil, nil, err
		}
	}
	if o.fw.path == "" {
		if o.seed != "" {
			return nil, nil, usagef("--snp-ovmf-hash needs --ovmf: the seed stands for the firmware pages only; the SEV metadata pages, the hashes table and the vCPUs' reset address come from the image")
		}
		return nil, nil, usagef("--ovmf is required")
	}
	if o.seed == "" {
		return t, nil, nil
	}
	seed, err := snp.ParseSNPDigest(strings.TrimSpace(o.seed))
	if err != nil {
		return nil, nil, usagef("--snp-ovmf-hash: %v", err)
	}
	if t != nil && t.platform == measure.PlatformSEVES {
		return nil, nil, usagef("--snp-ovmf-hash with an SEV-ES launch digest: %v", verify.ErrSeedSEVES)
	}
	return t, &seed, nil
}

func (o *explainOptions) run(cmd *cobra.Command) error {
	space, err := o.space.space()
	if err != nil {
		return err
	}
	t, seed, err := o.check()
	if err != nil {
		return err
	}
	fw, err := o.fw.load()
	if err != nil {
		return err
	}
	kh, err := o.boot.hashes(cmd)
	if err != nil {
		return err
	}
	if t == nil {
		ev, name, _, err := o.evidence.load(cmd)
		if err != nil {
			return err
		}
		r := ev.(*verify.SNPReport)
		m := r.Measurement()
		t = &target{name: name, report: r, platform: measure.PlatformSNP, digest: m[:]}
	}
	start := time.Now()
	boots := verify.BootVariants(kh, o.boot.initrd != "", cmd.Flags().Changed("append"))
	var e *verify.Explainer
	if seed != nil {
		e = verify.NewSeededExplainer(fw.img, *seed, boots, space)
	} else {
		e = verify.NewExplainer(fw.img, boots, space)
	}
	var ex *verify.Explanation
	if t.platform == measure.PlatformSEVES {
		ex, err = e.ExplainSEVES(snp.SEVDigest(t.digest))
	} else {
		ex, err = e.Explain(snp.SNPDigest(t.digest))
	}
	if err != nil && !errors.Is(err, verify.ErrNoConfiguration) {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(cmd.ErrOrStderr(), "searched %d configurations of %s in %.3f s\n", ex.Searched, fw.path, elapsed.Seconds())
	for _, s := range ex.Skipped {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipped: %s\n", s)
	}
	out := o.explanation(t, fw.path, seed, ex)
	if err != nil {
		if o.out.format == "json" {
			if perr := writeJSON(cmd.OutOrStdout(), out); perr != nil {
				return perr
			}
		}
		features := ", guest features " + strings.Join(o.space.features, ",")
		if t.platform == measure.PlatformSEVES {
			features = ""
		}
		return fmt.Errorf("%s: no %s configuration of firmware %q explains %s %x (searched %d: vCPUs 1-%d, every vCPU type, VMM type and launch profile%s, %d boot variant(s)): %w",
			t.name, t.platform, fw.path, t.register(), t.digest, ex.Searched, space.MaxVCPUs, features, len(boots), verify.ErrNoConfiguration)
	}
	// explain answers which configuration reproduces the measurement; it
	// does not say that genuine hardware reported it, nor that the guest is
	// safe to trust: say so, with what the report itself shows.
	if r := t.report; r != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: the report's hardware signature was not verified (measure compare --certs verifies it)\n")
		if r.Debug() {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: the report's guest policy allows debugging (POLICY.DEBUG = 1): the host can read and change the guest's memory\n")
		}
	}
	if o.out.format == "json" {
		return writeJSON(cmd.OutOrStdout(), out)
	}
	return printExplanation(cmd.OutOrStdout(), t, out)
}

// Results of explain --output json, SEV and TDX alike.
const (
	resultExplained   = verify.ExplanationResultExplained
	resultUnexplained = verify.ExplanationResultUnexplained
)

// explanationJSON is explain --output json for SEV-SNP and SEV-ES: the
// answer whether or not a configuration explains the measurement
// (docs/output.md), the record the web verifier shows too.
type explanationJSON = verify.ExplanationRecord

// explanation turns the library's answer into explain's output.
func (o *explainOptions) explanation(t *target, firmware string, seed *snp.SNPDigest, ex *verify.Explanation) explanationJSON {
	return verify.NewExplanationRecord(verify.ExplanationInputs{
		Platform: t.platform, Measurement: t.digest, Report: t.report, Firmware: firmware, Seed: seed,
		Kernel: o.boot.kernel, Initrd: o.boot.initrd, Cmdline: o.boot.append,
	}, ex)
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(w string) string { return verify.ShellQuote(w) }

func printExplanation(w io.Writer, t *target, v explanationJSON) error {
	var b strings.Builder
	for i, e := range v.Found {
		if i > 0 {
			b.WriteString("or:\n")
		}
		fmt.Fprintf(&b, "explained: %s\n", e.Flags)
		def := ""
		if e.DefaultProfile {
			def = fmt.Sprintf(" (%s's default)", e.VMMType)
		}
		fmt.Fprintf(&b, "  profile: %s%s\n", e.Profile, def)
		if len(e.VCPUTypes) > 1 {
			fmt.Fprintf(&b, "  vCPU types with signature %s: %s\n", e.VCPUSig, strings.Join(e.VCPUTypes, ", "))
		}
		fmt.Fprintf(&b, "  boot: %s\n", e.Boot())
		fmt.Fprintf(&b, "  reproduce: %s\n", e.Command)
	}
	fmt.Fprintf(&b, "%s: %x\n", t.register(), t.digest)
	_, err := io.WriteString(w, b.String())
	return err
}
