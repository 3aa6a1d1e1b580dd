package provenance

import (
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
)

// PredicateType is the predicate type URI of ReferenceValues, version 1. The
// JSON Schema at provenance/schema/reference-values.v1.json in this
// repository describes it. A change that makes a v1 consumer misread a
// statement gets a new version.
const PredicateType = "https://measure-cc.github.io/reference-values/v1"

// Platforms are the values ReferenceValues.Platform takes.
var Platforms = []string{"sev", "sev-es", "sev-snp", "tdx"}

// Registers names, per platform, the report fields a Measurement can
// describe: the SEV and SEV-ES launch digest (the report's MEASURE is an
// HMAC over it), the SEV-SNP attestation report's MEASUREMENT, and the TDX
// quote's MRTD and RTMRs.
var Registers = map[string][]string{
	"sev":     {"LAUNCH_DIGEST"},
	"sev-es":  {"LAUNCH_DIGEST"},
	"sev-snp": {"MEASUREMENT"},
	"tdx":     {"MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"},
}

// VMMTypes are the values Configuration.VMMType takes.
var VMMTypes = []string{"qemu", "ec2", "gce"}

// ReferenceValues is the predicate: what a firmware (and, with measured
// direct boot, kernel, initrd and command line) must measure to on one
// platform, for each launch configuration. Every input that changes a
// measurement is recorded, so a verifier can tell which value applies.
type ReferenceValues struct {
	// Platform is sev, sev-es, sev-snp or tdx.
	Platform string `json:"platform"`
	// Firmware is the firmware image measured.
	Firmware Firmware `json:"firmware"`
	// Boot is set for measured direct boot.
	Boot *Boot `json:"boot,omitempty"`
	// Values holds one entry per launch configuration.
	Values []ReferenceValue `json:"referenceValues"`
	// Tool is what computed the values.
	Tool Tool `json:"tool"`
	// Timestamp is when the values were computed; unset unless asked for,
	// so that the same inputs give the same statement.
	Timestamp *time.Time `json:"timestamp,omitempty"`
}

// Firmware identifies the firmware image.
type Firmware struct {
	// Name is the file name, without directories.
	Name string `json:"name"`
	// Digest holds the file's sha256 and sha384.
	Digest map[string]string `json:"digest"`
	// SNPOVMFHash is the precomputed SEV-SNP digest of the firmware pages
	// the measurement started from (measure snp --snp-ovmf-hash), if any.
	SNPOVMFHash string `json:"snpOvmfHash,omitempty"`
}

// Boot records the inputs of measured direct boot (the SEV hashes table).
type Boot struct {
	Kernel File `json:"kernel"`
	// Initrd has no name when no initrd is given; its digest is then the
	// sha256 of no bytes, as the firmware measures it.
	Initrd  File    `json:"initrd"`
	Cmdline Cmdline `json:"cmdline"`
}

// File is a named input and its digests.
type File struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Cmdline is the kernel command line as given and the digest the firmware
// checks (of the NUL-terminated string).
type Cmdline struct {
	Value  string            `json:"value"`
	Digest map[string]string `json:"digest"`
}

// ReferenceValue is the expected measurement(s) of one launch configuration.
type ReferenceValue struct {
	Configuration Configuration `json:"configuration"`
	Measurements  []Measurement `json:"measurements"`
}

// Configuration is what varies between launches of the same image. Fields
// that do not apply to the platform are empty.
type Configuration struct {
	// VMMType is qemu, ec2 or gce (SEV-ES, SEV-SNP).
	VMMType string `json:"vmmType,omitempty"`
	// VCPUs is the vCPU count (SEV-ES, SEV-SNP).
	VCPUs int `json:"vcpus,omitempty"`
	// VCPUType is the QEMU vCPU model name, when given by name.
	VCPUType string `json:"vcpuType,omitempty"`
	// VCPUSig is the vCPU CPUID signature (Fn0000_0001 EAX), 0x-hex.
	VCPUSig string `json:"vcpuSig,omitempty"`
	// GuestFeatures is the VMSA SEV_FEATURES, 0x-hex (SEV-SNP).
	GuestFeatures string `json:"guestFeatures,omitempty"`
	// Profile is the launch profile: the VMM's initial vCPU state in one
	// period of hosts (docs/profiles.md), e.g. qemu-kvm-sev-init2 (SEV-ES,
	// SEV-SNP).
	Profile string `json:"profile,omitempty"`
	// PageAddOrder is how the VMM added the TDVF sections to the TD,
	// single-pass or two-pass: it changes MRTD (TDX).
	PageAddOrder string `json:"pageAddOrder,omitempty"`
	// QEMUVersion is the QEMU major.minor the values assume: it decides
	// the default page-add order and the events QEMU's firmware
	// configuration adds to RTMR0 (TDX).
	QEMUVersion string `json:"qemuVersion,omitempty"`
	// Memory is the guest RAM as QEMU's -m spells it (e.g. 2G): it is in
	// the TD HOB, measured into MRTD where the firmware extends it, and in
	// RTMR0's events (TDX).
	Memory string `json:"memory,omitempty"`
}

// Measurement is the expected value of one report field.
type Measurement struct {
	// Register is the report field: see Registers.
	Register string `json:"register"`
	// Digest maps the hash algorithm of the register (sha256 for SEV and
	// SEV-ES launch digests, sha384 for SEV-SNP and TDX) to its value in hex.
	Digest map[string]string `json:"digest"`
}

// Tool identifies the program that computed the values.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URI     string `json:"uri,omitempty"`
}

var (
	lowerHex = regexp.MustCompile(`^[0-9a-f]+$`)
	hexValue = regexp.MustCompile(`^0x[0-9a-f]+$`)
	// profileName is the form of a launch profile name.
	profileName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	qemuVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	memorySize  = regexp.MustCompile(`^[1-9][0-9]*[KMGT]?$`)
	// vcpuTypeName is the form of a QEMU vCPU model name (EPYC-Genoa,
	// EPYC-v4, Opteron_G5, qemu64).
	vcpuTypeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// fileName is the form of a file's name: at least one character, and
	// none that is a control character (C0, DEL, C1), a line or paragraph
	// separator, a bidirectional override or isolate, or a slash. The
	// schema's pattern is the same.
	fileName = regexp.MustCompile(`^[^\x00-\x1f\x7f-\x9f\x{2028}\x{2029}\x{202a}-\x{202e}\x{2066}-\x{2069}/]+$`)
	// oneLine is the form of free text shown to a person (the command
	// line, the tool's name and version): no character fileName refuses
	// but the slash.
	oneLine = regexp.MustCompile(`^[^\x00-\x1f\x7f-\x9f\x{2028}\x{2029}\x{202a}-\x{202e}\x{2066}-\x{2069}]*$`)
)

// digestSizes are the algorithms the predicate accepts, with their sizes.
var digestSizes = map[string]int{"sha256": 32, "sha384": 48, "sha512": 64}

func checkDigestSet(where string, d map[string]string, required ...string) error {
	if len(d) == 0 {
		return fmt.Errorf("%s: digest is empty, want %v", where, required)
	}
	for _, alg := range required {
		if _, ok := d[alg]; !ok {
			return fmt.Errorf("%s: digest has no %s", where, alg)
		}
	}
	for _, alg := range slices.Sorted(maps.Keys(d)) {
		v := d[alg]
		size, ok := digestSizes[alg]
		if !ok {
			return fmt.Errorf("%s: digest algorithm %q is unknown, want sha256, sha384 or sha512", where, alg)
		}
		if !lowerHex.MatchString(v) || len(v) != 2*size {
			return fmt.Errorf("%s: %s %q, want %d lower-case hex digits", where, alg, v, 2*size)
		}
	}
	return nil
}

// checkName checks the name of an input file.
func checkName(where, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is empty", where)
	}
	if !fileName.MatchString(name) {
		return fmt.Errorf("%s name %q has a control character, a line separator, a bidirectional override or a slash", where, name)
	}
	return nil
}

// checkText checks free text that is shown to a person.
func checkText(where, text string) error {
	if !oneLine.MatchString(text) {
		return fmt.Errorf("%s %q has a control character, a line separator or a bidirectional override", where, text)
	}
	return nil
}

// Validate checks rv as its JSON Schema does, and more: registers belong to
// the platform, and no two values share a configuration. Every string a
// verifier may show (names, configuration fields, the command line, the
// tool) is of a form that prints on one line without control characters.
func (rv *ReferenceValues) Validate() error {
	if err := rv.ValidateValues(); err != nil {
		return err
	}
	if err := checkName("reference values: firmware", rv.Firmware.Name); err != nil {
		return err
	}
	if err := checkDigestSet("reference values: firmware", rv.Firmware.Digest, "sha256", "sha384"); err != nil {
		return err
	}
	if b := rv.Boot; b != nil {
		if err := checkName("reference values: boot kernel", b.Kernel.Name); err != nil {
			return err
		}
		if err := checkDigestSet("reference values: boot kernel", b.Kernel.Digest, "sha256"); err != nil {
			return err
		}
		if b.Initrd.Name != "" {
			if err := checkName("reference values: boot initrd", b.Initrd.Name); err != nil {
				return err
			}
		}
		if err := checkDigestSet("reference values: boot initrd", b.Initrd.Digest, "sha256"); err != nil {
			return err
		}
		if err := checkText("reference values: boot cmdline", b.Cmdline.Value); err != nil {
			return err
		}
		if err := checkDigestSet("reference values: boot cmdline", b.Cmdline.Digest, "sha256"); err != nil {
			return err
		}
	}
	seen := map[Configuration]int{}
	for i, v := range rv.Values {
		if j, ok := seen[v.Configuration]; ok {
			return fmt.Errorf("reference values: referenceValues[%d]: configuration %+v repeats referenceValues[%d]", i, v.Configuration, j)
		}
		seen[v.Configuration] = i
	}
	if rv.Tool.Name == "" || rv.Tool.Version == "" {
		return fmt.Errorf("reference values: tool name %q and version %q, want both set", rv.Tool.Name, rv.Tool.Version)
	}
	for _, t := range []struct{ what, v string }{{"tool name", rv.Tool.Name}, {"tool version", rv.Tool.Version}, {"tool uri", rv.Tool.URI}} {
		if err := checkText("reference values: "+t.what, t.v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateValues checks what every form of reference values carries, as
// Validate checks it: the platform, the firmware's name and digests where
// they are given, and each value's configuration, registers and digests.
// It is the check of reference values read back from an export (an RVPS
// message or JSON lines) that carries no tool, boot or firmware digests,
// and may repeat a configuration (an RVPS message's combinations have no
// fields). Validate checks all of it and the rest.
func (rv *ReferenceValues) ValidateValues() error {
	if !slices.Contains(Platforms, rv.Platform) {
		return fmt.Errorf("reference values: platform %q, want one of %v", rv.Platform, Platforms)
	}
	if rv.Firmware.Name != "" {
		if err := checkName("reference values: firmware", rv.Firmware.Name); err != nil {
			return err
		}
	}
	if len(rv.Firmware.Digest) > 0 {
		if err := checkDigestSet("reference values: firmware", rv.Firmware.Digest); err != nil {
			return err
		}
	}
	if s := rv.Firmware.SNPOVMFHash; s != "" {
		if rv.Platform != "sev-snp" {
			return fmt.Errorf("reference values: snpOvmfHash is set for platform %q, want only for sev-snp", rv.Platform)
		}
		if b, err := hex.DecodeString(s); err != nil || len(b) != 48 || !lowerHex.MatchString(s) {
			return fmt.Errorf("reference values: snpOvmfHash %q, want 96 lower-case hex digits", s)
		}
	}
	if len(rv.Values) == 0 {
		return fmt.Errorf("reference values: referenceValues is empty, want at least one")
	}
	for i, v := range rv.Values {
		where := fmt.Sprintf("reference values: referenceValues[%d]", i)
		if err := v.Configuration.validate(where); err != nil {
			return err
		}
		if len(v.Measurements) == 0 {
			return fmt.Errorf("%s: measurements is empty, want at least one", where)
		}
		regs := map[string]bool{}
		for _, m := range v.Measurements {
			if !slices.Contains(Registers[rv.Platform], m.Register) {
				return fmt.Errorf("%s: register %q, want one of %v for %s", where, m.Register, Registers[rv.Platform], rv.Platform)
			}
			if regs[m.Register] {
				return fmt.Errorf("%s: register %q appears twice", where, m.Register)
			}
			regs[m.Register] = true
			if err := checkDigestSet(where+" "+m.Register, m.Digest); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c Configuration) validate(where string) error {
	if c.VMMType != "" && !slices.Contains(VMMTypes, c.VMMType) {
		return fmt.Errorf("%s: vmmType %q, want one of %v", where, c.VMMType, VMMTypes)
	}
	if c.VCPUs < 0 {
		return fmt.Errorf("%s: vcpus %d, want a positive count (or none)", where, c.VCPUs)
	}
	if c.PageAddOrder != "" && c.PageAddOrder != "single-pass" && c.PageAddOrder != "two-pass" {
		return fmt.Errorf("%s: pageAddOrder %q, want single-pass or two-pass", where, c.PageAddOrder)
	}
	if c.QEMUVersion != "" && !qemuVersion.MatchString(c.QEMUVersion) {
		return fmt.Errorf("%s: qemuVersion %q, want MAJOR.MINOR", where, c.QEMUVersion)
	}
	if c.Memory != "" && !memorySize.MatchString(c.Memory) {
		return fmt.Errorf("%s: memory %q, want a size as QEMU's -m takes it, e.g. 2G", where, c.Memory)
	}
	if c.VCPUType != "" && !vcpuTypeName.MatchString(c.VCPUType) {
		return fmt.Errorf("%s: vcpuType %q, want a QEMU vCPU model name: letters, digits, dots, underscores and dashes", where, c.VCPUType)
	}
	if c.Profile != "" && !profileName.MatchString(c.Profile) {
		return fmt.Errorf("%s: profile %q, want lower-case letters, digits and dashes", where, c.Profile)
	}
	for name, v := range map[string]string{"vcpuSig": c.VCPUSig, "guestFeatures": c.GuestFeatures} {
		if v != "" && !hexValue.MatchString(v) {
			return fmt.Errorf("%s: %s %q, want 0x and lower-case hex digits", where, name, v)
		}
	}
	return nil
}

// NewReferenceValuesStatement returns an in-toto Statement v1 with rv as its
// predicate and subjects as its subjects (the firmware first, then kernel
// and initrd for measured direct boot). rv must validate, and its firmware
// digests must equal a subject's.
func NewReferenceValuesStatement(subjects []Subject, rv ReferenceValues) (*intoto.Statement, error) {
	if err := rv.Validate(); err != nil {
		return nil, err
	}
	return newStatement(subjects, PredicateType, rv)
}

func newStatement(ss []Subject, predicateType string, predicate any) (*intoto.Statement, error) {
	sub, err := subjects(ss)
	if err != nil {
		return nil, err
	}
	p, err := toStruct(predicate)
	if err != nil {
		return nil, fmt.Errorf("predicate %s: %w", predicateType, err)
	}
	st := &intoto.Statement{
		Type:          StatementType,
		Subject:       sub,
		PredicateType: predicateType,
		Predicate:     p,
	}
	if err := ValidateStatement(st); err != nil {
		return nil, err
	}
	return st, nil
}

// ReferenceValuesFromStatement decodes and validates the reference-values
// predicate of st. Unknown fields are errors; the firmware's digests must
// equal a subject's.
func ReferenceValuesFromStatement(st *intoto.Statement) (*ReferenceValues, error) {
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("predicate type %q, want %q", st.GetPredicateType(), PredicateType)
	}
	if st.GetPredicate() == nil {
		return nil, fmt.Errorf("reference values: predicate is missing")
	}
	rv := &ReferenceValues{}
	if err := fromStruct(st.GetPredicate(), rv); err != nil {
		return nil, fmt.Errorf("reference values: %w", err)
	}
	if err := rv.Validate(); err != nil {
		return nil, err
	}
	for _, rd := range st.GetSubject() {
		if digestsAgree(rd.GetDigest(), rv.Firmware.Digest) {
			return rv, nil
		}
	}
	return nil, fmt.Errorf("reference values: firmware %q: sha256 %s equals no subject's digest", rv.Firmware.Name, rv.Firmware.Digest["sha256"])
}
