// Package export writes reference values (the predicate of package
// provenance) in the forms other verifiers read, and reads back the forms
// that carry them:
//
//   - rvps: the message Trustee's Reference Value Provider Service takes
//     with its "sample" extractor, under the names Trustee's attestation
//     policy looks up (snp_launch_measurement, mr_td, rtmr_0...);
//   - corim: a CoRIM (draft-ietf-rats-corim) signed as COSE_Sign1 with the
//     keys measure manages, one CoMID of reference values per launch
//     configuration;
//   - sev-guest-check (and sev-guest-check-json): the check.Config that
//     go-sev-guest's check tool reads, holding the SEV-SNP MEASUREMENT and
//     the policy given;
//   - jsonl: one JSON object per line and register value, for scripts.
//
// docs/interop.md says what each consumer does with them and which version
// of it they were checked against. The package does not talk to any
// consumer, and it does not verify evidence: it converts reference values,
// and it loads them only from a statement whose signature was verified, or
// from one its caller explicitly accepts unsigned.
package export
