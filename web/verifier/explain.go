package verifier

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/verify"
)

// Results of an explanation, as measure explain --output json names them.
const (
	ResultExplained   = verify.ExplanationResultExplained
	ResultUnexplained = verify.ExplanationResultUnexplained
)

// ExplainResult is what the page shows for a firmware image.
type ExplainResult struct {
	// Command is the measure explain command line that searches the same.
	Command string `json:"command"`
	// Explanation is measure explain --output json for the evidence and
	// the firmware: which configurations of the firmware's default search
	// space (verify.Space{}: vCPU counts 1 to 512, every vCPU model, VMM
	// type, launch profile and common guest features; no measured direct
	// boot) reproduce the report's MEASUREMENT.
	Explanation *verify.ExplanationRecord `json:"explanation,omitempty"`
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
	out := verify.NewExplanationRecord(verify.ExplanationInputs{Platform: measure.PlatformSNP, Measurement: m[:], Report: r, Firmware: fwName}, ex)
	res.Explanation = &out
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
