// Package verify checks what a provider's hardware signed against what public
// source says it must be: it parses SEV-SNP attestation reports (raw, hex,
// base64 or extended with their certificate table), TDX quotes (versions 4 and 5, TD report 1.0 and 1.5) and
// Azure HCL reports (an SEV-SNP report or TD report with the runtime data,
// the vTPM's key among it, that its REPORT_DATA binds), compares their
// launch measurements with signed reference values, checks the other
// fields a tenant cares about (guest policy, TCB, VMPL, report data) against
// a policy, verifies the hardware signature and its chain to the vendor's
// root (revocation lists included, and for TDX the TCB status from Intel's
// TCB info and QE identity) from certificates and collateral the caller
// supplies, and, for SEV-SNP, searches the launch configurations of
// a firmware for the one that explains a measurement.
//
// It does not fetch anything: certificates, collateral and reference values
// come in as bytes, and it never contacts AMD's KDS or Intel's PCS
// (internal/collateral does, for the CLI's --fetch; what it brings is
// verified here like any other bytes). It opens no file and reads no clock:
// a directory of certificates and collateral (CertsDir, which knows the
// file names measure's --certs documents) is read through an fs.FS the
// caller gives, and the caller passes the time at which certificates must
// be valid. go-sev-guest and go-tdx-guest are used here and
// nowhere else in the module; where they cannot read real evidence (TDX
// version 5 quotes and quotes without their PCK chain, Turin's VCEK
// extensions), this package's own code does, cross-checked against them on
// the evidence both read.
package verify
