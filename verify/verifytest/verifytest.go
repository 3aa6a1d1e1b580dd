// Package verifytest makes synthetic SEV-SNP attestation reports for tests:
// reports carrying a chosen measurement and policy, signed by go-sev-guest's
// test-only AMD key chain (ARK, ASK, VCEK), so that the whole path from bytes
// to verdict runs without hardware. It is for tests only: the keys are
// public.
package verifytest

import (
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
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
// (Milan) with certificates valid from Created.
func NewSigner() (*Signer, error) {
	s, err := sevtest.DefaultTestOnlyCertChain(sevtest.GetProductName(), Created)
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

// Report describes a synthetic report; zero fields take the defaults.
type Report struct {
	Measurement [48]byte
	ReportData  [64]byte
	// Policy is the guest POLICY (PolicyNoDebug when 0).
	Policy uint64
	VMPL   uint32
	// TCB is the TCB_VERSION for CURRENT, REPORTED, COMMITTED and LAUNCH.
	TCB uint64
}

// Sign returns the 1184-byte version 2 report, signed by the test VCEK.
func (s *Signer) Sign(r Report) ([]byte, error) {
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{
		ReportData: r.ReportData[:],
		SignerInfo: abi.SignerInfo{SigningKey: abi.VcekReportSigner},
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
