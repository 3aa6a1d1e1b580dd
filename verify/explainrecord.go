package verify

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
)

// Results of an ExplanationRecord: whether a configuration reproduces the
// measurement.
const (
	ExplanationResultExplained   = "explained"
	ExplanationResultUnexplained = "unexplained"
)

// ExplanationRecord is an SEV-SNP or SEV-ES Explanation as measure explain
// --output json prints it and the web verifier shows it (docs/output.md):
// the answer whether or not a configuration explains the measurement.
type ExplanationRecord struct {
	// Result is ExplanationResultExplained or ExplanationResultUnexplained.
	Result string `json:"result"`
	// Platform is "sev-snp" or "sev-es".
	Platform    string `json:"platform"`
	Measurement string `json:"measurement"`
	Firmware    string `json:"firmware"`
	// SNPOVMFHash is the seed that stood for the firmware pages.
	SNPOVMFHash string   `json:"snp_ovmf_hash,omitempty"`
	Searched    int      `json:"searched"`
	Skipped     []string `json:"skipped,omitempty"`
	// SignatureVerified is false for a report: explaining does not check
	// the hardware signature (measure compare --certs does); absent for a
	// bare measurement, which has none.
	SignatureVerified *bool `json:"signature_verified,omitempty"`
	// DebugAllowed is the report's POLICY.DEBUG; absent for a bare
	// measurement.
	DebugAllowed *bool                    `json:"debug_allowed,omitempty"`
	Found        []ExplainedConfiguration `json:"found,omitempty"`
}

// ExplainedConfiguration is one configuration found.
type ExplainedConfiguration struct {
	VMMType string `json:"vmm_type"`
	// Profile is the launch profile, always named; DefaultProfile says
	// whether it is the VMM's default.
	Profile        string   `json:"profile"`
	DefaultProfile bool     `json:"default_profile"`
	VCPUs          int      `json:"vcpus"`
	VCPUTypes      []string `json:"vcpu_types,omitempty"`
	VCPUSig        string   `json:"vcpu_sig,omitempty"`
	// GuestFeatures is absent for SEV-ES, whose VMSAs carry none.
	GuestFeatures string `json:"guest_features,omitempty"`
	Kernel        bool   `json:"kernel"`
	Initrd        bool   `json:"initrd"`
	Cmdline       bool   `json:"cmdline"`
	// Flags are the measure snp (seves) flags of the configuration, with
	// KERNEL, INITRD and CMDLINE standing for the boot's inputs.
	Flags string `json:"flags"`
	// Command is the whole measure snp (seves) command line that
	// reproduces the measurement, with the files and command line the
	// search was given, quoted for a POSIX shell.
	Command string `json:"command"`
}

// Boot is the boot variant of the configuration.
func (e ExplainedConfiguration) Boot() Boot {
	return Boot{Kernel: e.Kernel, Initrd: e.Initrd, Cmdline: e.Cmdline}
}

// ExplanationInputs are what a search was given, as the record names them.
type ExplanationInputs struct {
	// Platform and Measurement are the value searched for: an SEV-SNP
	// MEASUREMENT or an SEV-ES launch digest.
	Platform    measure.Platform
	Measurement []byte
	// Report is the report Measurement was read from; nil for a bare
	// measurement.
	Report *SNPReport
	// Firmware is the firmware image's name, as the command lines give it
	// to --ovmf.
	Firmware string
	// Seed, when set, stood for the firmware pages (--snp-ovmf-hash).
	Seed *snp.SNPDigest
	// Kernel, Initrd and Cmdline are the measured direct boot's kernel and
	// initrd file names and command line, for the configurations that
	// measure them.
	Kernel, Initrd, Cmdline string
}

// NewExplanationRecord turns ex, the answer of a search for in's
// measurement, into its record.
func NewExplanationRecord(in ExplanationInputs, ex *Explanation) ExplanationRecord {
	v := ExplanationRecord{Result: ExplanationResultUnexplained, Platform: string(in.Platform), Measurement: hex.EncodeToString(in.Measurement),
		Firmware: in.Firmware, Searched: ex.Searched, Skipped: ex.Skipped}
	if in.Seed != nil {
		v.SNPOVMFHash = in.Seed.String()
	}
	if in.Report != nil {
		no, debug := false, in.Report.Debug()
		v.SignatureVerified, v.DebugAllowed = &no, &debug
	}
	for _, f := range ex.Found {
		v.Found = append(v.Found, explainedConfiguration(in, f))
	}
	if len(v.Found) > 0 {
		v.Result = ExplanationResultExplained
	}
	return v
}

// explainedConfiguration describes one configuration found, with the
// measure snp or seves command line that reproduces it: the
// configuration's flags, --profile when the profile is not the VMM's
// default, the seed, and the boot's files as the search was given them.
func explainedConfiguration(in ExplanationInputs, f Found) ExplainedConfiguration {
	c := f.Config
	e := ExplainedConfiguration{
		VMMType: c.VMM.String(), Profile: string(c.Profile), DefaultProfile: c.Profile == snp.DefaultProfile(c.VMM), VCPUs: c.VCPUs,
		Kernel: f.Boot.Kernel, Initrd: f.Boot.Initrd, Cmdline: f.Boot.Cmdline,
	}
	flags := []string{"--vmm-type", e.VMMType, "--vcpus", fmt.Sprint(c.VCPUs)}
	if len(f.VCPUTypes) > 0 {
		e.VCPUTypes, e.VCPUSig = f.VCPUTypes, fmt.Sprintf("%#x", c.VCPUSig)
		flags = append(flags, "--vcpu-type", f.VCPUTypes[0])
	}
	sub := "seves"
	if f.Platform == measure.PlatformSNP {
		sub = "snp"
		e.GuestFeatures = fmt.Sprintf("%#x", c.GuestFeatures)
		flags = append(flags, "--guest-features", e.GuestFeatures)
	}
	if !e.DefaultProfile {
		flags = append(flags, "--profile", e.Profile)
	}
	command := append([]string{"measure", sub, "--ovmf", in.Firmware}, flags...)
	if in.Seed != nil {
		command = append(command, "--snp-ovmf-hash", in.Seed.String())
	}
	if f.Boot.Kernel {
		flags = append(flags, "--kernel", "KERNEL")
		command = append(command, "--kernel", in.Kernel)
		if f.Boot.Initrd {
			flags = append(flags, "--initrd", "INITRD")
			command = append(command, "--initrd", in.Initrd)
		}
		if f.Boot.Cmdline {
			flags = append(flags, "--append", "CMDLINE")
			command = append(command, "--append", in.Cmdline)
		}
	}
	e.Flags = strings.Join(flags, " ")
	e.Command = ShellCommand(command...)
	return e
}

// ShellCommand joins words into a command line for a POSIX shell, each
// quoted by ShellQuote.
func ShellCommand(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = ShellQuote(w)
	}
	return strings.Join(q, " ")
}

// ShellQuote quotes a word for a POSIX shell when it needs it: a word of
// letters, digits and _./,:=+-@% stands as it is; any other, the empty
// word included, goes in single quotes.
func ShellQuote(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./,:=+-@%") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
