package verifier

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/verify"
)

// Results of an explanation, as measure explain --output json names them.
const (
	ResultExplained   = "explained"
	ResultUnexplained = "unexplained"
)

// Explanation is measure explain --output json for the evidence and the
// firmware: which configurations of the firmware's default search space
// (verify.Space{}: vCPU counts 1 to 512, every vCPU model, VMM type,
// launch profile and common guest features; no measured direct boot)
// reproduce the report's MEASUREMENT.
type Explanation struct {
	Result            string      `json:"result"`
	Platform          string      `json:"platform"`
	Measurement       string      `json:"measurement"`
	Firmware          string      `json:"firmware"`
	Searched          int         `json:"searched"`
	Skipped           []string    `json:"skipped,omitempty"`
	SignatureVerified *bool       `json:"signature_verified,omitempty"`
	DebugAllowed      *bool       `json:"debug_allowed,omitempty"`
	Found             []Explained `json:"found,omitempty"`
}

// Explained is one configuration found, as measure explain prints it.
type Explained struct {
	VMMType        string   `json:"vmm_type"`
	Profile        string   `json:"profile"`
	DefaultProfile bool     `json:"default_profile"`
	VCPUs          int      `json:"vcpus"`
	VCPUTypes      []string `json:"vcpu_types,omitempty"`
	VCPUSig        string   `json:"vcpu_sig,omitempty"`
	GuestFeatures  string   `json:"guest_features,omitempty"`
	Kernel         bool     `json:"kernel"`
	Initrd         bool     `json:"initrd"`
	Cmdline        bool     `json:"cmdline"`
	Flags          string   `json:"flags"`
	Command        string   `json:"command"`
}

// ExplainResult is what the page shows for a firmware image.
type ExplainResult struct {
	// Command is the measure explain command line that searches the same.
	Command     string       `json:"command"`
	Explanation *Explanation `json:"explanation,omitempty"`
	// Message, when nothing explains the measurement, says what was
	// searched, in measure explain's words.
	Message string  `json:"message,omitempty"`
	Error   *Error  `json:"error,omitempty"`
	Millis  float64 `json:"millis"`
}

// Explain searches the default launch configurations of in.Firmware for
// one that reproduces the MEASUREMENT of in.Evidence, an SEV-SNP report,
// as measure explain --report --ovmf does.
func Explain(in Inputs) *ExplainResult {
	start := time.Now()
	res := &ExplainResult{}
	defer func() { res.Millis = float64(time.Since(start).Microseconds()) / 1000 }()
	fail := func(kind string, err error) *ExplainResult {
		res.Error = &Error{Kind: kind, Message: err.Error()}
		return res
	}
	if in.Firmware == nil {
		return fail(KindUsage, usagef("no firmware image to search"))
	}
	ld, err := loadEvidence(in.Evidence)
	if err != nil {
		return fail(KindOf(err), err)
	}
	r, ok := ld.ev.(*verify.SNPReport)
	if !ok {
		return fail(KindUsage, usagef("explain searches SEV-SNP configurations: a %s quote is checked against reference values", ld.ev.Platform()))
	}
	fwName := in.Firmware.Name
	res.Command = (&command{args: []string{"measure", "explain", "--report", in.Evidence.Name, "--ovmf", fwName}}).String()
	if len(in.Firmware.Data) > MaxFirmwareSize {
		return fail(KindFirmware, fmt.Errorf("firmware %q: larger than %d bytes", fwName, MaxFirmwareSize))
	}
	img, err := ovmf.Parse(in.Firmware.Data)
	if err != nil {
		return fail(KindFirmware, fmt.Errorf("firmware %q: %w", fwName, err))
	}
	boots := verify.BootVariants(nil, false, false)
	m := r.Measurement()
	ex, err := verify.NewExplainer(img, boots, verify.Space{}).Explain(snp.SNPDigest(m))
	if err != nil && !errors.Is(err, verify.ErrNoConfiguration) {
		return fail(KindFirmware, err)
	}
	no, debug := false, r.Debug()
	out := &Explanation{Result: ResultUnexplained, Platform: "sev-snp", Measurement: hex.EncodeToString(m[:]), Firmware: fwName,
		Searched: ex.Searched, Skipped: ex.Skipped, SignatureVerified: &no, DebugAllowed: &debug}
	for _, f := range ex.Found {
		out.Found = append(out.Found, explained(f, fwName))
	}
	if len(out.Found) > 0 {
		out.Result = ResultExplained
	}
	res.Explanation = out
	if err != nil {
		var features []string
		for _, f := range verify.CommonGuestFeatures {
			features = append(features, fmt.Sprintf("%#x", f))
		}
		res.Message = fmt.Sprintf("%s: no sev-snp configuration of firmware %q explains MEASUREMENT %x (searched %d: vCPUs 1-%d, every vCPU type, VMM type and launch profile, guest features %s, %d boot variant(s)): %v",
			in.Evidence.Name, fwName, m, ex.Searched, verify.DefaultMaxVCPUs, strings.Join(features, ","), len(boots), verify.ErrNoConfiguration)
	}
	return res
}

// explained describes one configuration found with the measure snp
// command line that reproduces it, as measure explain does.
func explained(f verify.Found, firmware string) Explained {
	c := f.Config
	e := Explained{VMMType: c.VMM.String(), Profile: string(c.Profile), DefaultProfile: c.Profile == snp.DefaultProfile(c.VMM), VCPUs: c.VCPUs}
	flags := []string{"--vmm-type", e.VMMType, "--vcpus", fmt.Sprint(c.VCPUs)}
	if len(f.VCPUTypes) > 0 {
		e.VCPUTypes, e.VCPUSig = f.VCPUTypes, fmt.Sprintf("%#x", c.VCPUSig)
		flags = append(flags, "--vcpu-type", f.VCPUTypes[0])
	}
	e.GuestFeatures = fmt.Sprintf("%#x", c.GuestFeatures)
	flags = append(flags, "--guest-features", e.GuestFeatures)
	if !e.DefaultProfile {
		flags = append(flags, "--profile", e.Profile)
	}
	e.Flags = strings.Join(flags, " ")
	e.Command = (&command{args: append([]string{"measure", "snp", "--ovmf", firmware}, flags...)}).String()
	return e
}
