// Package verify checks what a provider's hardware signed against what public
// source says it must be: it parses SEV-SNP attestation reports (raw, hex,
// base64 or extended with their certificate table) and TDX quotes (v4),
// compares their launch measurements with signed reference values, checks the
// other fields a tenant cares about (guest policy, TCB, VMPL, report data)
// against a policy, verifies the hardware signature offline from certificates
// the caller supplies, and, for SEV-SNP, searches the launch configurations of
// a firmware for the one that explains a measurement.
//
// It does not fetch anything: certificates, collateral and reference values
// come in as bytes, and it never contacts AMD's KDS or Intel's PCS. It does
// not check certificate revocation or, for TDX, the TCB status collateral.
// It does not read files or the clock; the caller passes the time at which
// certificates must be valid. go-sev-guest and go-tdx-guest are used here and
// nowhere else in the module.
package verify
