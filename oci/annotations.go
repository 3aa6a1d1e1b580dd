package oci

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/measure-cc/measure/measure"
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
)

// TDXConfiguration is the TDX launch behind AnnotationTDXMRTD: measure tdx's
// defaults (measure.DefaultTDX).
var TDXConfiguration = func() string {
	l := measure.DefaultTDX()
	return fmt.Sprintf("--qemu-version %s --page-add-order %s --memory %s", l.QEMU, l.PageAddOrder, measure.FormatMemorySize(l.Memory))
}()

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
	m := measure.NewMeasurer(img, nil, measure.Options{})
	if img.SEVMetadata() != nil {
		ann[AnnotationSNPOVMFHash] = measure.SNPFirmwareDigest(img).String()
		cpu, err := measure.LookupCPU(snpVCPUType)
		if err != nil {
			return nil, err
		}
		r, err := m.Measure(measure.SNP{VMM: measure.VMMQEMU, VCPUs: snpVCPUs, CPU: cpu, GuestFeatures: snpGuestFeatures})
		if err != nil {
			return nil, fmt.Errorf("SEV-SNP measurement for %s: %w", SNPConfiguration, err)
		}
		v, _ := r.Value(measure.Measurement)
		ann[AnnotationSNPMeasurement] = v.String()
		ann[AnnotationSNPConfiguration] = SNPConfiguration
	}
	if img.HasTDXMetadata() {
		ann[AnnotationTDXConfiguration] = TDXConfiguration
		r, err := m.Measure(measure.DefaultTDX())
		if err != nil {
			// The CODE part of a split image declares sections in the
			// VARS part: TDX cannot launch it alone. Say so, do not fail.
			ann[AnnotationTDXUnavailable] = err.Error()
		} else {
			v, _ := r.Value(measure.MRTD)
			ann[AnnotationTDXMRTD] = v.String()
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
