package verify

import "fmt"

// TDXCollateral is Intel's collateral for checking a TDX quote's platform
// beyond its signature, each part as Intel's Provisioning Certification
// Service (PCS, API v4) or a PCCS serves it. Any part may be empty: then
// the check it feeds is not made and the verdict's limits say so.
type TDXCollateral struct {
	// TCBInfo is the body of GET /tdx/certification/v4/tcb?fmspc=F: the
	// JSON object {"tcbInfo": {...}, "signature": "..."}.
	TCBInfo []byte
	// TCBInfoIssuerChain is the PEM chain that signed TCBInfo (the TCB
	// Signing certificate, then Intel's root), as PCS sends it URL-encoded
	// in the TCB-Info-Issuer-Chain header, here decoded.
	TCBInfoIssuerChain []byte
	// QEIdentity is the body of GET /tdx/certification/v4/qe/identity: the
	// JSON object {"enclaveIdentity": {...}, "signature": "..."}.
	QEIdentity []byte
	// QEIdentityIssuerChain is the PEM chain that signed QEIdentity (the
	// SGX-Enclave-Identity-Issuer-Chain header, decoded).
	QEIdentityIssuerChain []byte
	// PCKCRL is the CRL of the PCK certificate's issuer (GET
	// /sgx/certification/v4/pckcrl?ca=platform or processor), DER or PEM.
	PCKCRL []byte
	// PCKCRLIssuerChain is the PEM chain that signed PCKCRL (the
	// SGX-PCK-CRL-Issuer-Chain header, decoded).
	PCKCRLIssuerChain []byte
	// RootCRL is the CRL of Intel's SGX root CA (the CRL distribution
	// point named in the root and intermediate certificates), DER or PEM.
	RootCRL []byte
	// Sources says where each part came from, as Hardware.Sources lists
	// them.
	Sources []string
}

// ErrCollateral: vendor collateral (TCB info, QE identity) that cannot be
// read. It wraps ErrHardwareSignature: the platform check it feeds cannot
// be made, which is a failure of that check, not of the evidence.
var ErrCollateral = fmt.Errorf("%w: unreadable vendor collateral", ErrHardwareSignature)
