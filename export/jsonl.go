package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/measure-cc/measure/provenance"
)

// JSONLine is one line of the JSONL format: one value of one register in
// one configuration. Its keys are stable (docs/interop.md): new keys may
// be added, none is renamed or removed, and their meaning does not change.
type JSONLine struct {
	// Platform is sev, sev-es, sev-snp or tdx.
	Platform string `json:"platform"`
	// Register is the report field: MEASUREMENT, LAUNCH_DIGEST, MRTD,
	// RTMR0..RTMR3.
	Register string `json:"register"`
	// Alg is the digest algorithm (sha384 for SEV-SNP and TDX).
	Alg string `json:"alg"`
	// Digest is the value, lower-case hex.
	Digest string `json:"digest"`
	// Configuration is the index of the configuration in the statement:
	// the lines of one configuration share it.
	Configuration int `json:"configuration"`

	// The configuration's fields, as in `measure snp --output json`.
	VMMType       string `json:"vmm_type,omitempty"`
	VCPUs         int    `json:"vcpus,omitempty"`
	VCPUType      string `json:"vcpu_type,omitempty"`
	VCPUSig       string `json:"vcpu_sig,omitempty"`
	GuestFeatures string `json:"guest_features,omitempty"`
	Profile       string `json:"profile,omitempty"`
	PageAddOrder  string `json:"page_add_order,omitempty"`
	QEMUVersion   string `json:"qemu_version,omitempty"`
	Memory        string `json:"memory,omitempty"`

	// Firmware is the firmware image's name; FirmwareSHA256 and
	// FirmwareSHA384 its digests.
	Firmware       string `json:"firmware"`
	FirmwareSHA256 string `json:"firmware_sha256"`
	FirmwareSHA384 string `json:"firmware_sha384"`
}

func (l *JSONLine) configuration() provenance.Configuration {
	return provenance.Configuration{
		VMMType: l.VMMType, VCPUs: l.VCPUs, VCPUType: l.VCPUType, VCPUSig: l.VCPUSig,
		GuestFeatures: l.GuestFeatures, Profile: l.Profile, PageAddOrder: l.PageAddOrder,
		QEMUVersion: l.QEMUVersion, Memory: l.Memory,
	}
}

// WriteJSONL returns rv as JSON lines: one line per configuration,
// register and digest algorithm, in the statement's order.
func WriteJSONL(rv *provenance.ReferenceValues) ([]byte, error) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	for i, v := range rv.Values {
		c := v.Configuration
		for _, m := range v.Measurements {
			for _, alg := range slices.Sorted(maps.Keys(m.Digest)) {
				l := JSONLine{
					Platform: rv.Platform, Register: m.Register, Alg: alg, Digest: m.Digest[alg], Configuration: i,
					VMMType: c.VMMType, VCPUs: c.VCPUs, VCPUType: c.VCPUType, VCPUSig: c.VCPUSig,
					GuestFeatures: c.GuestFeatures, Profile: c.Profile, PageAddOrder: c.PageAddOrder,
					QEMUVersion: c.QEMUVersion, Memory: c.Memory,
					Firmware: rv.Firmware.Name, FirmwareSHA256: rv.Firmware.Digest["sha256"], FirmwareSHA384: rv.Firmware.Digest["sha384"],
				}
				if err := enc.Encode(l); err != nil {
					return nil, err
				}
			}
		}
	}
	return out.Bytes(), nil
}

// maxJSONLine bounds one line of JSONL input.
const maxJSONLine = 64 << 10

// ReadJSONL reads JSON lines as WriteJSONL writes them: every line a
// JSONLine (unknown keys are errors), of one platform and one firmware,
// the lines of a configuration agreeing on its fields, no value given
// twice. Empty lines are skipped. The result has the configurations in
// index order, and the firmware when the lines name it; it carries no
// tool.
func ReadJSONL(b []byte) (*provenance.ReferenceValues, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxJSONLine)
	rv := &provenance.ReferenceValues{}
	byIndex := map[int]*provenance.ReferenceValue{}
	var first *JSONLine
	n := 0
	for lineNo := 1; sc.Scan(); lineNo++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l JSONLine
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if dec.InputOffset() != int64(len(text)) {
			return nil, fmt.Errorf("line %d: data after the JSON object", lineNo)
		}
		if err := checkLine(&l, first); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if first == nil {
			first = &l
			rv.Platform = l.Platform
			rv.Firmware = provenance.Firmware{Name: l.Firmware, Digest: map[string]string{}}
			for alg, d := range map[string]string{"sha256": l.FirmwareSHA256, "sha384": l.FirmwareSHA384} {
				if d != "" {
					rv.Firmware.Digest[alg] = d
				}
			}
		}
		v, ok := byIndex[l.Configuration]
		if !ok {
			if len(byIndex) == MaxConfigurations {
				return nil, fmt.Errorf("line %d: more than %d configurations", lineNo, MaxConfigurations)
			}
			v = &provenance.ReferenceValue{Configuration: l.configuration()}
			byIndex[l.Configuration] = v
		} else if v.Configuration != l.configuration() {
			return nil, fmt.Errorf("line %d: configuration %d has other fields than on an earlier line", lineNo, l.Configuration)
		}
		if err := addValue(v, l.Register, l.Alg, l.Digest); err != nil {
			return nil, fmt.Errorf("line %d: configuration %d: %w", lineNo, l.Configuration, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxJSONLine)
		}
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("no line")
	}
	for _, i := range slices.Sorted(maps.Keys(byIndex)) {
		rv.Values = append(rv.Values, *byIndex[i])
	}
	return rv, nil
}

// checkLine checks l's own fields, and that it agrees with the first line
// on the platform and the firmware.
func checkLine(l, first *JSONLine) error {
	if !slices.Contains(provenance.Platforms, l.Platform) {
		return fmt.Errorf("platform %q, want one of %v", shorten(l.Platform), provenance.Platforms)
	}
	if err := checkRegister(l.Platform, l.Register, l.Alg, l.Digest); err != nil {
		return err
	}
	if l.Configuration < 0 {
		return fmt.Errorf("configuration %d, want an index from 0", l.Configuration)
	}
	if l.VCPUs < 0 {
		return fmt.Errorf("vcpus %d, want a positive count", l.VCPUs)
	}
	for alg, d := range map[string]string{"sha256": l.FirmwareSHA256, "sha384": l.FirmwareSHA384} {
		if d == "" {
			continue
		}
		if err := checkDigest(alg, d); err != nil {
			return fmt.Errorf("firmware: %w", err)
		}
	}
	if first == nil {
		return nil
	}
	if l.Platform != first.Platform {
		return fmt.Errorf("platform %q, an earlier line %q", l.Platform, first.Platform)
	}
	if l.Firmware != first.Firmware || l.FirmwareSHA256 != first.FirmwareSHA256 || l.FirmwareSHA384 != first.FirmwareSHA384 {
		return fmt.Errorf("firmware %q (sha256 %s), an earlier line %q (sha256 %s)", shorten(l.Firmware), l.FirmwareSHA256, shorten(first.Firmware), first.FirmwareSHA256)
	}
	return nil
}

// addValue adds digest d (algorithm alg) of register reg to v; giving a
// register's algorithm twice is an error.
func addValue(v *provenance.ReferenceValue, reg, alg, d string) error {
	for i := range v.Measurements {
		m := &v.Measurements[i]
		if m.Register != reg {
			continue
		}
		if _, ok := m.Digest[alg]; ok {
			return fmt.Errorf("%s %s is given twice", reg, alg)
		}
		m.Digest[alg] = d
		return nil
	}
	v.Measurements = append(v.Measurements, provenance.Measurement{Register: reg, Digest: map[string]string{alg: d}})
	return nil
}
