// Package oci distributes firmware and its signed statements through OCI
// registries. Push stores a firmware image as an OCI artifact (artifact type
// ArtifactType, one layer of FirmwareMediaType) whose manifest carries a
// summary of its launch measurements as annotations, and attaches each DSSE
// envelope (reference values, SLSA provenance) as a referrer: an artifact of
// type AttestationArtifactType whose subject is the firmware manifest
// (OCI image-spec 1.1). On registries without the referrers API the
// referrers tag schema (a tag named sha256-<digest> holding an index) is used
// instead, as go-containerregistry does.
//
// Pull fetches the firmware by digest and refuses it unless every attached
// envelope verifies with the given keys, at least one is attached, every
// blob matches its digest and the annotations equal the values recomputed
// from the pulled bytes.
//
// go-containerregistry does all registry work. The package does not sign
// (see provenance), compute measurements beyond the summary (see measure/snp,
// measure/tdx) or write files.
package oci
