package verify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/provenance"
)

// Comparison is the outcome of comparing a report's registers with every
// configuration in a set of reference values. Its JSON form is
// MarshalJSON's.
type Comparison struct {
	// Platform is the evidence's platform.
	Platform string
	// ReferencePlatform is the reference values' platform; when it is not
	// Platform, nothing was compared.
	ReferencePlatform string
	// Registers are the evidence's measurement registers.
	Registers []Register
	// Compared is how many configurations were compared.
	Compared int
	// Matches are the configurations all of whose registers equal the
	// evidence's; usually one.
	Matches []provenance.ReferenceValue
	// Nearest, when nothing matches, is the configuration with the most
	// equal registers, if any register is equal at all, or the only
	// configuration.
	Nearest *Miss
}

// Miss is a configuration that does not match, and how.
type Miss struct {
	Configuration provenance.Configuration
	Equal         []string
	Differ        []RegisterDiff
}

// configurationJSON is a launch configuration in measure's output
// language (docs/output.md). The reference-values predicate names the
// same fields in camelCase, as in-toto predicates do, and keeps those
// names where it is signed; a verdict that quotes it speaks snake_case.
type configurationJSON struct {
	VMMType       string `json:"vmm_type,omitempty"`
	VCPUs         int    `json:"vcpus,omitempty"`
	VCPUType      string `json:"vcpu_type,omitempty"`
	VCPUSig       string `json:"vcpu_sig,omitempty"`
	GuestFeatures string `json:"guest_features,omitempty"`
}

func configurationOf(c provenance.Configuration) configurationJSON {
	return configurationJSON{VMMType: c.VMMType, VCPUs: c.VCPUs, VCPUType: c.VCPUType, VCPUSig: c.VCPUSig, GuestFeatures: c.GuestFeatures}
}

// referenceValueJSON is one configuration of the reference values and its
// registers' digests.
type referenceValueJSON struct {
	Configuration configurationJSON        `json:"configuration"`
	Measurements  []provenance.Measurement `json:"measurements,omitempty"`
}

// missJSON is Miss's JSON form.
type missJSON struct {
	Configuration configurationJSON `json:"configuration"`
	Equal         []string          `json:"equal,omitempty"`
	Differ        []RegisterDiff    `json:"differ,omitempty"`
}

// MarshalJSON writes c with snake_case keys: platform,
// reference_platform, registers, compared, matches (each a configuration
// and its measurements) and nearest (configuration, equal, differ).
func (c Comparison) MarshalJSON() ([]byte, error) {
	v := struct {
		Platform          string               `json:"platform"`
		ReferencePlatform string               `json:"reference_platform,omitempty"`
		Registers         []Register           `json:"registers,omitempty"`
		Compared          int                  `json:"compared"`
		Matches           []referenceValueJSON `json:"matches,omitempty"`
		Nearest           *missJSON            `json:"nearest,omitempty"`
	}{Platform: c.Platform, ReferencePlatform: c.ReferencePlatform, Registers: c.Registers, Compared: c.Compared}
	for _, m := range c.Matches {
		v.Matches = append(v.Matches, referenceValueJSON{Configuration: configurationOf(m.Configuration), Measurements: m.Measurements})
	}
	if n := c.Nearest; n != nil {
		v.Nearest = &missJSON{Configuration: configurationOf(n.Configuration), Equal: n.Equal, Differ: n.Differ}
	}
	return json.Marshal(v)
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
// ErrMismatch; reference values for another platform are ErrPlatform, with
// a comparison that compared nothing.
func Compare(ev Evidence, rv *provenance.ReferenceValues) (*Comparison, error) {
	regs := ev.Registers()
	c := &Comparison{Platform: ev.Platform(), ReferencePlatform: rv.Platform, Registers: regs}
	if rv.Platform != ev.Platform() {
		return c, fmt.Errorf("%w: reference values for %q, evidence from %q", ErrPlatform, rv.Platform, ev.Platform())
	}
	have := map[string]string{}
	for _, r := range regs {
		have[r.Name] = r.Hex
	}
	c.Compared = len(rv.Values)
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
		// The nearest miss: the configuration with the most equal
		// registers, or the only one there is (its got and want are then
		// all there is to say).
		if len(m.Equal) > best && (len(m.Equal) > 0 || len(rv.Values) == 1) {
			best = len(m.Equal)
			mm := m
			c.Nearest = &mm
		}
	}
	if len(c.Matches) > 0 {
		c.Nearest = nil
		return c, nil
	}
	return c, fmt.Errorf("%w: %s of %d configuration(s) of %s", ErrMismatch, describeRegisters(regs), len(rv.Values), showName(rv.Firmware.Name))
}

// showName shows a name from the reference values (a firmware's): as it
// is when it is plain (flagWord), quoted otherwise.
func showName(s string) string {
	if flagWord(s) {
		return s
	}
	return strconv.Quote(s)
}

// flagWord reports whether s is non-empty and of letters, digits and
// . _ - + : , = @ / only: a word a shell and a terminal show as it is.
func flagWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-+:,=@/", c) >= 0) {
			return false
		}
	}
	return true
}

// flagArg formats a flag and its value from the reference values, the value
// quoted (strconv.Quote) unless it is a plain word.
func flagArg(name, value string) string {
	return name + " " + showName(value)
}

func describeRegisters(regs []Register) string {
	var s []string
	for _, r := range regs {
		s = append(s, r.Name+" "+r.Hex)
	}
	return strings.Join(s, ", ") + " matches none"
}

// DescribeConfiguration formats a configuration as measure's flags spell
// it. The fields come from reference values, which may have been read back
// from an unsigned export: a value that is not a plain word is quoted
// (strconv.Quote), so that none prints a line of its own.
func DescribeConfiguration(c provenance.Configuration) string {
	var s []string
	if c.VMMType != "" {
		s = append(s, flagArg("--vmm-type", c.VMMType))
	}
	if c.VCPUs != 0 {
		s = append(s, fmt.Sprintf("--vcpus %d", c.VCPUs))
	}
	switch {
	case c.VCPUType != "":
		s = append(s, flagArg("--vcpu-type", c.VCPUType))
	case c.VCPUSig != "":
		s = append(s, flagArg("--vcpu-sig", c.VCPUSig))
	}
	if c.GuestFeatures != "" {
		s = append(s, flagArg("--guest-features", c.GuestFeatures))
	}
	if c.PageAddOrder != "" {
		s = append(s, flagArg("--page-add-order", c.PageAddOrder))
	}
	if c.Memory != "" {
		s = append(s, flagArg("--memory", c.Memory))
	}
	if c.QEMUVersion != "" {
		s = append(s, flagArg("--qemu-version", c.QEMUVersion))
	}
	// The profile only when it is not the VMM's default, which the other
	// flags already imply.
	if c.Profile != "" {
		if vmm, err := measure.ParseVMM(c.VMMType); err != nil || string(measure.DefaultProfile(vmm)) != c.Profile {
			s = append(s, flagArg("--profile", c.Profile))
		}
	}
	if len(s) == 0 {
		return "(the only configuration)"
	}
	return strings.Join(s, " ")
}

func sortStrings(s []string) { sort.Strings(s) }
