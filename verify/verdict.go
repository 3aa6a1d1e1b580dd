package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/measure-cc/measure/provenance"
)

// Verdict results, as the in-toto verification summary attestation names
// them.
const (
	Passed = "PASSED"
	Failed = "FAILED"
)

// Verdict is everything compare established about one report or quote:
// the machine-readable answer to "does the provider run what public source
// says it must?".
type Verdict struct {
	// Result is PASSED when the measurement matched, the policy held and
	// the hardware signature verified to a trusted root (or the caller
	// skipped that check by name); UNVERIFIED when all that was checked
	// held but the hardware signature was not verified to a trusted root;
	// else FAILED. Only PASSED means the evidence may be relied on.
	Result string `json:"result"`
	// Checks answer each question separately, in a fixed order: reference
	// values, measurement, hardware signature, TCB, policy.
	Checks []Level `json:"checks,omitempty"`
	// Failures says why, one line per failed check.
	Failures []string `json:"failures,omitempty"`
	Platform string   `json:"platform"`
	// Evidence identifies the report or quote: its name and the sha256 of
	// the signed bytes.
	Evidence NamedDigest `json:"evidence"`
	// References identifies the reference values: the envelope's name and
	// sha256, the firmware they are for, the keys that signed them.
	References References  `json:"reference_values"`
	Comparison *Comparison `json:"comparison,omitempty"`
	Hardware   Hardware    `json:"hardware_signature"`
	Policy     []Check     `json:"policy,omitempty"`
}

// NamedDigest names a file and its sha256.
type NamedDigest struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// References describes the verified reference values. Its JSON form is
// MarshalJSON's.
type References struct {
	NamedDigest
	Firmware       provenance.Firmware
	KeyIDs         []string
	Configurations int
}

// MarshalJSON writes r with snake_case keys: name, sha256, firmware
// (name, digest, snp_ovmf_hash), key_ids, configurations.
func (r References) MarshalJSON() ([]byte, error) {
	type firmware struct {
		Name        string            `json:"name"`
		Digest      map[string]string `json:"digest,omitempty"`
		SNPOVMFHash string            `json:"snp_ovmf_hash,omitempty"`
	}
	return json.Marshal(struct {
		NamedDigest
		Firmware       firmware `json:"firmware"`
		KeyIDs         []string `json:"key_ids,omitempty"`
		Configurations int      `json:"configurations"`
	}{r.NamedDigest, firmware{r.Firmware.Name, r.Firmware.Digest, r.Firmware.SNPOVMFHash}, r.KeyIDs, r.Configurations})
}

// NewNamedDigest hashes b.
func NewNamedDigest(name string, b []byte) NamedDigest {
	s := sha256.Sum256(b)
	return NamedDigest{Name: name, SHA256: hex.EncodeToString(s[:])}
}

// VSAPredicateType is the in-toto verification summary attestation (SLSA
// VSA v1) predicate type.
const VSAPredicateType = "https://slsa.dev/verification_summary/v1"

// Verified levels a PASSED verdict claims, in the VSA's ORG_PROPERTY form
// for properties that are not SLSA levels.
const (
	LevelMeasurement = "MEASURE_CC_LAUNCH_MEASUREMENT_MATCHES_REFERENCE"
	LevelHardware    = "MEASURE_CC_HARDWARE_SIGNATURE_VERIFIED"
	LevelPolicy      = "MEASURE_CC_REPORT_POLICY_MET"
	// LevelTCBCertified: the VCEK or VLEK certificate that signed the
	// SEV-SNP report vouches for its REPORTED_TCB (Hardware.CertifiedTCB),
	// so a TCB policy on REPORTED_TCB held against a certified value.
	LevelTCBCertified = "MEASURE_CC_TCB_CERTIFIED"
)

// VSA returns v as an unsigned in-toto Statement v1 with a verification
// summary predicate (https://slsa.dev/spec/v1.0/verification_summary): the
// subject is the evidence, the input attestation the reference values'
// envelope, the verified levels the properties established. verifierID
// names this tool, version its version; at, when set, is timeVerified.
func (v *Verdict) VSA(verifierID, version string, at *time.Time) ([]byte, error) {
	var levels []string
	if v.Result == Passed {
		levels = append(levels, LevelMeasurement, LevelPolicy)
		// A chain to a root nobody vouched for (accepted only because the
		// caller skipped the check) vouches for nothing.
		if v.Hardware.Verified && v.Hardware.TrustedRoot {
			levels = append(levels, LevelHardware)
			if v.Hardware.CertifiedTCB != nil {
				levels = append(levels, LevelTCBCertified)
			}
		}
	}
	type rd struct {
		Name   string            `json:"name,omitempty"`
		URI    string            `json:"uri,omitempty"`
		Digest map[string]string `json:"digest"`
	}
	pred := struct {
		Verifier struct {
			ID      string            `json:"id"`
			Version map[string]string `json:"version,omitempty"`
		} `json:"verifier"`
		TimeVerified       string   `json:"timeVerified,omitempty"`
		ResourceURI        string   `json:"resourceUri"`
		Policy             rd       `json:"policy"`
		InputAttestations  []rd     `json:"inputAttestations"`
		VerificationResult string   `json:"verificationResult"`
		VerifiedLevels     []string `json:"verifiedLevels"`
	}{
		ResourceURI:        v.Evidence.Name,
		Policy:             rd{URI: v.References.Name, Digest: map[string]string{"sha256": v.References.SHA256}},
		InputAttestations:  []rd{{URI: v.References.Name, Digest: map[string]string{"sha256": v.References.SHA256}}},
		VerificationResult: v.Result,
		VerifiedLevels:     levels,
	}
	if pred.VerifiedLevels == nil {
		pred.VerifiedLevels = []string{}
	}
	pred.Verifier.ID = verifierID
	pred.Verifier.Version = map[string]string{"measure": version}
	if at != nil {
		pred.TimeVerified = at.UTC().Format(time.RFC3339)
	}
	st := struct {
		Type          string `json:"_type"`
		Subject       []rd   `json:"subject"`
		PredicateType string `json:"predicateType"`
		Predicate     any    `json:"predicate"`
	}{
		Type:          provenance.StatementType,
		Subject:       []rd{{Name: v.Evidence.Name, Digest: map[string]string{"sha256": v.Evidence.SHA256}}},
		PredicateType: VSAPredicateType,
		Predicate:     pred,
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unverified is a Verdict's Result when everything that was checked held
// but nothing ties the evidence to hardware the caller trusts: no hardware
// signature was checked, or it chains to a root that is neither the
// vendor's nor one the caller named.
const Unverified = "UNVERIFIED"

// ErrHardwareUnverified reports evidence that matched and met the policy
// but whose hardware signature was not verified to a trusted root.
var ErrHardwareUnverified = errors.New("the hardware signature was not verified to a trusted root")

// ErrUnsignedReferences reports evidence that matched reference values
// nobody signed: the result is UNVERIFIED, never PASSED.
var ErrUnsignedReferences = errors.New("the reference values are not signed by a trusted key")

// HardwareTrust says which hardware-signature outcomes a caller accepts
// besides a chain to the vendor's root.
type HardwareTrust struct {
	// Skip accepts evidence whose hardware signature was not checked; the
	// caller says so explicitly (measure's --no-hardware-check).
	Skip bool
	// Roots are the hex SHA-256 of root certificates, other than the
	// vendor's, that the caller trusts (measure's --trust-root).
	Roots []string
}

// Trusted returns nil when h verified to the vendor's root or to one of
// t.Roots, or when t.Skip; else an error wrapping ErrHardwareUnverified
// that says which.
func (h Hardware) Trusted(t HardwareTrust) error {
	if t.Skip {
		return nil
	}
	return h.trustedRoot(t.Roots)
}

// trustedRoot returns nil when h verified to the vendor's root or to one
// of roots (hex SHA-256 of root certificates).
func (h Hardware) trustedRoot(roots []string) error {
	switch {
	case !h.Checked:
		return fmt.Errorf("%w: no certificates were given to check it", ErrHardwareUnverified)
	case !h.Verified:
		return fmt.Errorf("%w: it did not verify", ErrHardwareUnverified)
	case h.VendorRoot:
		return nil
	}
	for _, r := range roots {
		if strings.EqualFold(r, h.RootSHA256) {
			return nil
		}
	}
	return fmt.Errorf("%w: it chains to %s, which is not the vendor's root and was not named as trusted", ErrHardwareUnverified, h.Root)
}
