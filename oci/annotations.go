package oci

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// The launch configurations the annotations summarise. The signed
// reference-values statement attached as a referrer carries every
// configuration; the annotations let a registry browser or a quick check see
// one value without fetching anything.
const (
	// SNPConfiguration is the SEV-SNP launch behind AnnotationSNPMeasurement,
	// README's worked example: QEMU, 4 EPYC-v4 vCPUs, SNPActive.
	SNPConfiguration = "--vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1"
	snpVCPUs         = 4
	snpVCPUType      = "EPYC-v4"
	snpGuestFeatures = 0x1
	// tdxMemory is measure tdx's default --memory; MRTD depends on it only
	// if the TD HOB section is extended into MRTD.
	tdxMemory = 128 << 20
)

// TDXConfiguration is the TDX launch behind AnnotationTDXMRTD: measure tdx's
// defaults.
var TDXConfiguration = fmt.Sprintf("--qemu-version %s --page-add-order %s --memory 128M",
	tdx.DefaultQEMUVersion, tdx.DefaultQEMUVersion.DefaultPageAddOrder())

// Annotations returns the annotations of a firmware manifest, computed from
// the image bytes alone: its SHA-384; with SEV metadata the SEV-SNP
// firmware digest (the snp-ovmf-hash seed) and the MEASUREMENT of
// SNPConfiguration; with TDX metadata the MRTD of TDXConfiguration.
func Annotations(firmware []byte) (map[string]string, error) {
	img, err := ovmf.Parse(firmware)
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(firmware)
	ann := map[string]string{AnnotationSHA384: hex.EncodeToString(h[:])}
	if img.SEVMetadata() != nil {
		ann[AnnotationSNPOVMFHash] = snp.FirmwareDigest(img).String()
		cpu, err := snp.LookupCPUType(snpVCPUType)
		if err != nil {
			return nil, err
		}
		cfg := snp.Config{VCPUs: snpVCPUs, VCPUSig: cpu.Signature(), VMM: snp.VMMQEMU, GuestFeatures: snpGuestFeatures}
		d, err := snp.NewMeasurer(img, nil, nil).SNP(cfg)
		if err != nil {
			return nil, fmt.Errorf("SEV-SNP measurement for %s: %w", SNPConfiguration, err)
		}
		ann[AnnotationSNPMeasurement] = d.String()
		ann[AnnotationSNPConfiguration] = SNPConfiguration
	}
	if img.HasTDXMetadata() {
		q := tdx.DefaultQEMUVersion
		res, err := tdx.Measure(img, tdx.Config{PageAddOrder: q.DefaultPageAddOrder(), QEMU: q, Memory: tdxMemory})
		ann[AnnotationTDXConfiguration] = TDXConfiguration
		if err != nil {
			// The CODE part of a split image declares sections in the
			// VARS part: TDX cannot launch it alone. Say so, do not fail.
			ann[AnnotationTDXUnavailable] = err.Error()
		} else {
			ann[AnnotationTDXMRTD] = res.MRTD.String()
		}
	}
	return ann, nil
}

// checkAnnotations compares a manifest's annotations under AnnotationPrefix
// with the recomputed ones: both must hold the same keys and values.
func checkAnnotations(got, want map[string]string) error {
	keys := map[string]bool{}
	for k := range got {
		if strings.HasPrefix(k, AnnotationPrefix) {
			keys[k] = true
		}
	}
	for k := range want {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			return fmt.Errorf("%w: annotation %s is missing, want %q", ErrMismatch, k, w)
		case !wok:
			return fmt.Errorf("%w: annotation %s is %q, want none for this firmware", ErrMismatch, k, g)
		case g != w:
			return fmt.Errorf("%w: annotation %s is %q, want %q (recomputed from the firmware)", ErrMismatch, k, g, w)
		}
	}
	return nil
}
