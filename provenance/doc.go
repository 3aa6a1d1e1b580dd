// Package provenance turns measurements and builds into statements a pipeline
// can trust: in-toto Statement v1 with either the project's reference-values
// predicate (what a firmware in a given configuration must measure to) or
// SLSA provenance v1 (what a build was made from), signed and verified as DSSE
// envelopes.
//
// It covers building, marshalling deterministically, parsing and validating
// those statements; generating and loading signing keys (Ed25519, ECDSA P-256
// and P-384), plain or encrypted in cosign's format; signing statements into
// DSSE envelopes or Sigstore bundles and verifying either against a set of
// public keys with a threshold. Verification failures are reported with
// sentinel errors (ErrMalformedEnvelope, ErrPayloadType, ErrBadSignature,
// ErrThreshold, ErrInvalidStatement, ErrSubjectMismatch) so that callers can
// tell them apart.
//
// It does not compute measurements (see measure/snp), does not read or write
// files (callers hand it bytes and readers, and passwords through a
// function), does not talk to transparency logs or key management services,
// and does not verify keyless (certificate) Sigstore bundles. The in-toto,
// DSSE and Sigstore (protobuf-specs) libraries are used here and nowhere
// else in the module.
package provenance
