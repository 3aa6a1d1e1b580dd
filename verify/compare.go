package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// Comparison is the outcome of comparing a report's registers with every
// configuration in a set of reference values.
type Comparison struct {
	// Platform is the evidence's platform.
	Platform string `json:"platform"`
	// Registers are the evidence's measurement registers.
	Registers []Register `json:"registers"`
	// Compared is how many configurations were compared.
	Compared int `json:"compared"`
	// Matches are the configurations all of whose registers equal the
	// evidence's; usually one.
	Matches []provenance.ReferenceValue `json:"matches,omitempty"`
	// Nearest, when nothing matches, is the configuration with the most
	// equal registers, if any register is equal at all.
	Nearest *Miss `json:"nearest,omitempty"`
}

// Miss is a configuration that does not match, and how.
type Miss struct {
	Configuration provenance.Configuration `json:"configuration"`
	Equal         []string                 `json:"equal"`
	Differ        []RegisterDiff           `json:"differ"`
}

// RegisterDiff is one register whose value differs from the reference.
type RegisterDiff struct {
	Register string `json:"register"`
	Got      string `json:"got"`
	Want     string `json:"want"`
}

// digestAlgorithm is the algorithm of the registers this package compares:
// SEV-SNP MEASUREMENT and TDX MRTD/RTMRs are all SHA-384.
const digestAlgorithm = "sha384"

// Compare checks ev's registers against each configuration of rv. A
// configuration matches when every register it names equals the evidence's.
// It returns the comparison and, when nothing matches, an error wrapping
// ErrMismatch; reference values for another platform are ErrPlatform.
func Compare(ev Evidence, rv *provenance.ReferenceValues) (*Comparison, error) {
	if rv.Platform != ev.Platform() {
		return nil, fmt.Errorf("%w: reference values for %q, evidence from %q", ErrPlatform, rv.Platform, ev.Platform())
	}
	regs := ev.Registers()
	have := map[string]string{}
	for _, r := range regs {
		have[r.Name] = r.Hex
	}
	c := &Comparison{Platform: ev.Platform(), Registers: regs, Compared: len(rv.Values)}
	best := -1
	for _, v := range rv.Values {
		var m Miss
		m.Configuration = v.Configuration
		for _, meas := range v.Measurements {
			got, ok := have[meas.Register]
			want := strings.ToLower(meas.Digest[digestAlgorithm])
			switch {
			case !ok:
				m.Differ = append(m.Differ, RegisterDiff{meas.Register, "(not in the evidence)", want})
			case want == "":
				m.Differ = append(m.Differ, RegisterDiff{meas.Register, got, "(no " + digestAlgorithm + " digest)"})
			case got == want:
				m.Equal = append(m.Equal, meas.Register)
			default:
				m.Differ = append(m.Differ, RegisterDiff{meas.Register, got, want})
			}
		}
		if len(m.Differ) == 0 && len(m.Equal) > 0 {
			c.Matches = append(c.Matches, v)
			continue
		}
		if len(m.Equal) > best && len(m.Equal) > 0 {
			best = len(m.Equal)
			mm := m
			c.Nearest = &mm
		}
	}
	if len(c.Matches) > 0 {
		c.Nearest = nil
		return c, nil
	}
	return c, fmt.Errorf("%w: %s of %d configuration(s) of %s", ErrMismatch, describeRegisters(regs), len(rv.Values), rv.Firmware.Name)
}

func describeRegisters(regs []Register) string {
	var s []string
	for _, r := range regs {
		s = append(s, r.Name+" "+r.Hex)
	}
	return strings.Join(s, ", ") + " matches none"
}

// DescribeConfiguration formats a configuration as measure's flags spell it.
func DescribeConfiguration(c provenance.Configuration) string {
	var s []string
	if c.VMMType != "" {
		s = append(s, "--vmm-type "+c.VMMType)
	}
	if c.VCPUs != 0 {
		s = append(s, fmt.Sprintf("--vcpus %d", c.VCPUs))
	}
	switch {
	case c.VCPUType != "":
		s = append(s, "--vcpu-type "+c.VCPUType)
	case c.VCPUSig != "":
		s = append(s, "--vcpu-sig "+c.VCPUSig)
	}
	if c.GuestFeatures != "" {
		s = append(s, "--guest-features "+c.GuestFeatures)
	}
	if len(s) == 0 {
		return "(the only configuration)"
	}
	return strings.Join(s, " ")
}

func sortStrings(s []string) { sort.Strings(s) }
