package oci

import "errors"

// Media types and artifact types, documented in docs/oci.md. They live under
// the project's vendor tree, except the DSSE envelope's, which is the one
// in-toto and Sigstore tooling already use.
const (
	// ArtifactType is the artifactType of a firmware manifest.
	ArtifactType = "application/vnd.measure-cc.firmware.v1"
	// FirmwareMediaType is the media type of the firmware layer: the image
	// bytes exactly as QEMU maps them (OVMF.fd, or a CODE part).
	FirmwareMediaType = "application/vnd.measure-cc.firmware.v1+octet-stream"
	// AttestationArtifactType is the artifactType of a manifest that attaches
	// one DSSE envelope to a firmware manifest (its subject).
	AttestationArtifactType = "application/vnd.measure-cc.attestation.v1"
	// EnvelopeMediaType is the media type of the layer that holds a DSSE
	// envelope (JSON, as provenance.Sign writes it).
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"
)

// Annotation keys. The firmware manifest carries the Annotation* values that
// Annotations computes; attestation manifests carry AnnotationPredicateType.
const (
	// AnnotationPrefix starts every annotation key this package owns.
	AnnotationPrefix = "io.github.measure-cc."
	// AnnotationSHA384 is the firmware's SHA-384 (the layer digest is its
	// SHA-256).
	AnnotationSHA384 = AnnotationPrefix + "firmware.sha384"
	// AnnotationSNPOVMFHash is the SEV-SNP launch digest after the firmware
	// pages alone (measure snp-ovmf-hash), present when the image has SEV
	// metadata.
	AnnotationSNPOVMFHash = AnnotationPrefix + "snp.ovmf-hash"
	// AnnotationSNPMeasurement is the SEV-SNP MEASUREMENT for the
	// configuration in AnnotationSNPConfiguration.
	AnnotationSNPMeasurement = AnnotationPrefix + "snp.measurement"
	// AnnotationSNPConfiguration is that configuration, as measure snp flags.
	AnnotationSNPConfiguration = AnnotationPrefix + "snp.configuration"
	// AnnotationTDXMRTD is the TDX MRTD for the configuration in
	// AnnotationTDXConfiguration, present when the image has TDX metadata.
	AnnotationTDXMRTD = AnnotationPrefix + "tdx.mrtd"
	// AnnotationTDXConfiguration is that configuration, as measure tdx flags.
	AnnotationTDXConfiguration = AnnotationPrefix + "tdx.configuration"
	// AnnotationTDXUnavailable replaces AnnotationTDXMRTD when the image has
	// TDX metadata but cannot launch alone (the CODE part of a split
	// image): measure tdx's error.
	AnnotationTDXUnavailable = AnnotationPrefix + "tdx.unavailable"
	// AnnotationPredicateType, on an attestation manifest, is the
	// predicateType of the statement in its envelope (unverified: a hint for
	// listing, never trusted by Pull).
	AnnotationPredicateType = AnnotationPrefix + "predicate-type"
	// AnnotationTitle is the OCI title annotation; on the firmware layer it
	// is the file name.
	AnnotationTitle = "org.opencontainers.image.title"
)

// Errors that callers branch on. Failures of envelope verification wrap the
// provenance package's errors (provenance.ErrBadSignature and the others)
// instead.
var (
	// ErrNotDigest: Pull was given a reference by tag; it fetches by digest
	// only, so that what is verified is what was asked for.
	ErrNotDigest = errors.New("reference is not by digest")
	// ErrUnsigned: no DSSE envelope is attached to the firmware.
	ErrUnsigned = errors.New("firmware has no signed attestation attached")
	// ErrMismatch: registry content is not what it claims to be: a blob or
	// manifest does not match its digest or size, a manifest has the wrong
	// type or shape, a referrer names another subject, or an annotation
	// differs from the value recomputed from the firmware.
	ErrMismatch = errors.New("registry content does not match")
)
