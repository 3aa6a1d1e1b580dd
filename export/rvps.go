package export

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// The RVPS message, as Trustee's rvps crate reads it (rvps/src/lib.rs,
// struct Message; trustee commit 78962cd4, docs/interop.md): a JSON object
// with a version (which must be MESSAGE_VERSION, "0.1.0"; absent means
// that), a type naming the extractor, and a payload that the "sample"
// extractor (rvps/src/extractors/sample/mod.rs) decodes as standard base64
// of a JSON object from reference-value name to value.
const (
	rvpsVersion = "0.1.0"
	rvpsType    = "sample"
)

// rvpsMessage is the RVPS message.
type rvpsMessage struct {
	Version string `json:"version"`
	Type    string `json:"type"`
	Payload string `json:"payload"`
}

// DefaultRVPSNames maps a register to the reference-value name that
// Trustee's default attestation policy (attestation-service/src/ear_token/
// ear_default_policy_cpu.rego) looks up for it, compared with the
// verifier's claim of the same register in lower-case hex
// (deps/verifier/src/snp/mod.rs "measurement", deps/verifier/src/tdx/
// claims.rs "mr_td", "rtmr_0".."rtmr_3"). The policy reads
// snp_launch_measurement, mr_td, rtmr_1 and rtmr_2; rtmr_0 and rtmr_3 are
// written under the claims' names for a policy that adds them.
var DefaultRVPSNames = map[string]string{
	"MEASUREMENT": "snp_launch_measurement",
	"MRTD":        "mr_td",
	"RTMR0":       "rtmr_0",
	"RTMR1":       "rtmr_1",
	"RTMR2":       "rtmr_2",
	"RTMR3":       "rtmr_3",
}

// rvpsAlgorithm is the algorithm of every register Trustee checks: the
// SEV-SNP MEASUREMENT and the TDX MRTD and RTMRs are SHA-384.
const rvpsAlgorithm = "sha384"

// MaxConfigurations bounds the configurations a reader builds: the lines
// of JSONL, the CoMIDs of a CoRIM, the combinations of an RVPS message.
const MaxConfigurations = 4096

// MaxRVPSSize bounds the RVPS message ReadRVPS reads. The largest message
// it accepts lists MaxConfigurations values of 99 bytes ("<96 hex>,") for
// one register and one for each other: about 410 KB of payload, 550 KB in
// base64; the bound leaves room for white space.
const MaxRVPSSize = 1 << 20

// WriteRVPS returns the RVPS message that registers rv's register values
// with Trustee: for each register, the list of its values over every
// configuration, under DefaultRVPSNames' name or rename's. Trustee compares
// each register with its list separately, so the message loses which
// values go together (docs/interop.md). SEV and SEV-ES are ErrUnsupported:
// Trustee verifies neither.
func WriteRVPS(rv *provenance.ReferenceValues, rename map[string]string) ([]byte, error) {
	if rv.Platform != "sev-snp" && rv.Platform != "tdx" {
		return nil, fmt.Errorf("%w: Trustee verifies no %s guests, only sev-snp and tdx", ErrUnsupported, rv.Platform)
	}
	names, err := rvpsNames(rv.Platform, rename)
	if err != nil {
		return nil, err
	}
	payload := map[string][]string{}
	for _, reg := range provenance.Registers[rv.Platform] {
		present := false
		for _, v := range rv.Values {
			for _, m := range v.Measurements {
				present = present || m.Register == reg
			}
		}
		if !present {
			continue
		}
		vs := values(rv, reg, rvpsAlgorithm)
		if len(vs) == 0 {
			return nil, fmt.Errorf("%w: register %s has no %s value, which is what Trustee compares", ErrUnsupported, reg, rvpsAlgorithm)
		}
		payload[names[reg]] = vs
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return writeJSONValue(rvpsMessage{Version: rvpsVersion, Type: rvpsType, Payload: base64.StdEncoding.EncodeToString(p)})
}

// rvpsNames returns the name of each register of platform: the default,
// or rename's, which must name registers of the platform and give
// distinct, non-empty names.
func rvpsNames(platform string, rename map[string]string) (map[string]string, error) {
	names := map[string]string{}
	for _, reg := range provenance.Registers[platform] {
		names[reg] = DefaultRVPSNames[reg]
	}
	for _, reg := range slices.Sorted(maps.Keys(rename)) {
		if !slices.Contains(provenance.Registers[platform], reg) {
			return nil, fmt.Errorf("rvps name for register %q: want one of %v for %s", reg, provenance.Registers[platform], platform)
		}
		if strings.TrimSpace(rename[reg]) == "" {
			return nil, fmt.Errorf("rvps name for register %s is empty", reg)
		}
		names[reg] = rename[reg]
	}
	seen := map[string]string{}
	for _, reg := range provenance.Registers[platform] {
		if other, ok := seen[names[reg]]; ok {
			return nil, fmt.Errorf("rvps name %q is given to both %s and %s", names[reg], other, reg)
		}
		seen[names[reg]] = reg
	}
	return names, nil
}

// ReadRVPS reads an RVPS message of the sample extractor whose names are
// DefaultRVPSNames' (for one platform), each with a list of lower-case hex
// SHA-384 values. As Trustee's policy accepts any combination of listed
// values, the result holds every combination as a configuration without
// fields (at most MaxConfigurations, so no list is longer). Other fields of
// the message are ignored, as Trustee ignores them. A message larger than
// MaxRVPSSize is refused before it is parsed.
func ReadRVPS(b []byte) (*provenance.ReferenceValues, error) {
	if len(b) > MaxRVPSSize {
		return nil, fmt.Errorf("rvps message: %d bytes, want at most %d", len(b), MaxRVPSSize)
	}
	var m struct {
		Version *string `json:"version"`
		Type    *string `json:"type"`
		Payload *string `json:"payload"`
	}
	if err := strictJSON(b, &m); err != nil {
		return nil, fmt.Errorf("rvps message: %w", err)
	}
	switch {
	case m.Version != nil && *m.Version != rvpsVersion:
		return nil, fmt.Errorf("rvps message: version %q, want %q", shorten(*m.Version), rvpsVersion)
	case m.Type == nil:
		return nil, errors.New("rvps message: type is missing, want \"sample\"")
	case *m.Type != rvpsType:
		return nil, fmt.Errorf("rvps message: type %q, want %q (the extractor measure writes for)", shorten(*m.Type), rvpsType)
	case m.Payload == nil:
		return nil, errors.New("rvps message: payload is missing")
	case strings.ContainsAny(*m.Payload, "\r\n"):
		return nil, errors.New("rvps message: payload has a line break, which standard base64 does not allow")
	}
	p, err := base64.StdEncoding.DecodeString(*m.Payload)
	if err != nil {
		return nil, fmt.Errorf("rvps message: payload: %w", err)
	}
	var named map[string]json.RawMessage
	if err := strictJSON(p, &named); err != nil {
		return nil, fmt.Errorf("rvps payload: %w", err)
	}
	byName := map[string]string{}
	for reg, name := range DefaultRVPSNames {
		byName[name] = reg
	}
	platform := ""
	lists := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(named)) {
		reg, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("rvps payload: name %q is none measure reads, want %v", shorten(name), slices.Sorted(maps.Keys(byName)))
		}
		pf := "tdx"
		if reg == "MEASUREMENT" {
			pf = "sev-snp"
		}
		if platform != "" && pf != platform {
			return nil, fmt.Errorf("rvps payload: %q is a %s value, the others are %s", name, pf, platform)
		}
		platform = pf
		var list []string
		if err := json.Unmarshal(named[name], &list); err != nil || len(list) == 0 {
			return nil, fmt.Errorf("rvps payload: %q is not a non-empty list of strings", name)
		}
		if len(list) > MaxConfigurations {
			return nil, fmt.Errorf("rvps payload: %q lists %d values, want at most %d (the combinations measure reads)", name, len(list), MaxConfigurations)
		}
		seen := make(map[string]bool, len(list))
		for _, v := range list {
			if seen[v] {
				return nil, fmt.Errorf("rvps payload: %q lists %s twice", name, shorten(v))
			}
			seen[v] = true
			if err := checkRegister(platform, reg, rvpsAlgorithm, v); err != nil {
				return nil, fmt.Errorf("rvps payload: %q: %w", name, err)
			}
		}
		lists[reg] = list
	}
	if platform == "" {
		return nil, errors.New("rvps payload: no reference value")
	}
	rv := &provenance.ReferenceValues{Platform: platform}
	var regs []string
	n := 1
	for _, reg := range provenance.Registers[platform] {
		if l, ok := lists[reg]; ok {
			regs = append(regs, reg)
			n *= len(l)
			if n > MaxConfigurations {
				return nil, fmt.Errorf("rvps payload: more than %d combinations of values", MaxConfigurations)
			}
		}
	}
	// Every combination, the last register varying fastest.
	idx := make([]int, len(regs))
	for range n {
		var ms []provenance.Measurement
		for j, reg := range regs {
			ms = append(ms, provenance.Measurement{Register: reg, Digest: map[string]string{rvpsAlgorithm: lists[reg][idx[j]]}})
		}
		rv.Values = append(rv.Values, provenance.ReferenceValue{Measurements: ms})
		for j := len(regs) - 1; j >= 0; j-- {
			if idx[j]++; idx[j] < len(lists[regs[j]]) {
				break
			}
			idx[j] = 0
		}
	}
	return rv, nil
}

// strictJSON decodes exactly one JSON value from b into v: only white
// space may follow it.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return errors.New("data after the JSON value")
	}
	return nil
}
