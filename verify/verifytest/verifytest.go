// Package verifytest makes synthetic SEV-SNP attestation reports for tests:
// reports carrying a chosen measurement and policy, signed by go-sev-guest's
// test-only AMD key chain (ARK, ASK, VCEK; ASVK, VLEK), whose endorsement
// key certificates carry a chosen TCB and HWID, so that the whole path from
// bytes to verdict runs without hardware. It is for tests only: the keys
// are public.
package verifytest

import (
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
)

// Created is when the test chain's certificates start to be valid; they
// stay valid for years after.
var Created = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// PolicyNoDebug is a guest POLICY with SMT allowed and debugging
// disallowed: QEMU's default 0x30000 (bit 17 reserved-one, bit 16 SMT).
const PolicyNoDebug = 0x30000

// PolicyDebugBit is POLICY.DEBUG.
const PolicyDebugBit = 1 << 19

// Signer signs synthetic SEV-SNP reports with the test chain.
type Signer struct {
	s *sevtest.AmdSigner
}

// NewSigner makes the test chain of go-sev-guest's default product
// (Milan) with certificates valid from Created, its VCEK and VLEK issued
// for TCB 0 and its VCEK for a HWID of zeros.
func NewSigner() (*Signer, error) { return NewSignerFor(Chain{}) }

// Chain is what the test chain's endorsement key certificates vouch for,
// in the AMD KDS extensions (AMD KDS specification 57230, "VCEK
// Certificate Extensions").
type Chain struct {
	// TCB is the TCB_VERSION of the VCEK's and the VLEK's SPL extensions
	// (1.3.6.1.4.1.3704.1.3.x).
	TCB uint64
	// HWID is the VCEK's HWID extension (1.3.6.1.4.1.3704.1.4).
	HWID [abi.ChipIDSize]byte
}

// NewSignerFor makes the test chain of go-sev-guest's default product
// (Milan) with certificates valid from Created, whose VCEK and VLEK
// certificates vouch for c.
func NewSignerFor(c Chain) (*Signer, error) {
	product := sevtest.GetProductName()
	tcb := kds.DecomposeTCBVersion(kds.TCBVersion(c.TCB))
	const cspID = "go-sev-guest"
	b := &sevtest.AmdSignerBuilder{
		Keys:             sevtest.DefaultAmdKeys(),
		ProductName:      product,
		CSPID:            cspID,
		ArkCreationTime:  Created,
		AskCreationTime:  Created,
		AsvkCreationTime: Created,
		VcekCreationTime: Created,
		VlekCreationTime: Created,
		VcekCustom:       sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb, c.HWID[:], "", product)},
		VlekCustom:       sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb, nil, cspID, product)},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		return nil, fmt.Errorf("test certificate chain: %v", err)
	}
	return &Signer{s: s}, nil
}

// VCEK, ASK and ARK return the test chain's certificates as DER.
func (s *Signer) VCEK() []byte { return s.s.Vcek.Raw }

// ASK returns the test ASK certificate, DER.
func (s *Signer) ASK() []byte { return s.s.Ask.Raw }

// ARK returns the test ARK certificate, DER.
func (s *Signer) ARK() []byte { return s.s.Ark.Raw }

// VLEK returns the test VLEK certificate, DER.
func (s *Signer) VLEK() []byte { return s.s.Vlek.Raw }

// ASVK returns the test ASVK certificate (the VLEK's issuer), DER.
func (s *Signer) ASVK() []byte { return s.s.Asvk.Raw }

// Report describes a synthetic report; zero fields take the defaults.
type Report struct {
	Measurement [48]byte
	ReportData  [64]byte
	// Policy is the guest POLICY (PolicyNoDebug when 0).
	Policy uint64
	VMPL   uint32
	// TCB is the TCB_VERSION for CURRENT, REPORTED, COMMITTED and LAUNCH.
	TCB uint64
	// ChipID is CHIP_ID; zeros, as a host masking it reports, when unset.
	ChipID [abi.ChipIDSize]byte
	// VLEK signs with the VLEK instead of the VCEK.
	VLEK bool
	// IDKeyDigest and AuthorKeyDigest are ID_KEY_DIGEST and
	// AUTHOR_KEY_DIGEST; a nonzero AuthorKeyDigest sets
	// SIGNER_INFO.AUTHOR_KEY_EN.
	IDKeyDigest, AuthorKeyDigest [48]byte
}

// Sign returns the 1184-byte version 2 report, signed by the test VCEK
// (or VLEK).
func (s *Signer) Sign(r Report) ([]byte, error) {
	key := abi.VcekReportSigner
	if r.VLEK {
		key = abi.VlekReportSigner
	}
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{
		ReportData: r.ReportData[:],
		SignerInfo: abi.SignerInfo{SigningKey: key, AuthorKeyEn: r.AuthorKeyDigest != [48]byte{}},
	})
	p, err := abi.ReportToProto(raw[:abi.ReportSize])
	if err != nil {
		return nil, err
	}
	p.Policy = r.Policy
	if p.Policy == 0 {
		p.Policy = PolicyNoDebug
	}
	p.Measurement = r.Measurement[:]
	p.Vmpl = r.VMPL
	p.IdKeyDigest, p.AuthorKeyDigest = r.IDKeyDigest[:], r.AuthorKeyDigest[:]
	p.ChipId = r.ChipID[:]
	p.CurrentTcb, p.ReportedTcb, p.CommittedTcb, p.LaunchTcb = r.TCB, r.TCB, r.TCB, r.TCB
	return s.sign(p)
}

func (s *Signer) sign(p *spb.Report) ([]byte, error) {
	b, err := abi.ReportToAbiBytes(p)
	if err != nil {
		return nil, err
	}
	R, S, err := s.s.Sign(abi.SignedComponent(b))
	if err != nil {
		return nil, err
	}
	if err := abi.SetSignature(R, S, b); err != nil {
		return nil, err
	}
	return b, nil
}

// CertTable returns the certificate table of an extended report (the
// report's bytes followed by it) holding the test chain.
func (s *Signer) CertTable() ([]byte, error) { return s.s.CertTableBytes() }
