package guest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
)

// Blob is a named file's content.
type Blob struct {
	Name string
	Data []byte
}

// Boot is what a measured direct boot launches from.
type Boot struct {
	Firmware, Kernel, Initrd Blob
	Cmdline                  string
}

// Digests returns the sha256 and sha384 of b, the digest set of a subject.
func (b Blob) Digests() map[string]string {
	h256 := sha256.Sum256(b.Data)
	h384 := sha512.Sum384(b.Data)
	return map[string]string{"sha256": hex.EncodeToString(h256[:]), "sha384": hex.EncodeToString(h384[:])}
}

// SNPReferenceValues computes the SEV-SNP launch digest of b for each
// launch, as `measure snp --ovmf --kernel --initrd --append` does, and
// records every input.
func SNPReferenceValues(b Boot, launches []Launch, tool provenance.Tool) (*provenance.ReferenceValues, error) {
	img, err := ovmf.Parse(b.Firmware.Data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", b.Firmware.Name, err)
	}
	kh, err := snp.NewKernelHashes(bytes.NewReader(b.Kernel.Data), bytes.NewReader(b.Initrd.Data), b.Cmdline)
	if err != nil {
		return nil, err
	}
	rv := &provenance.ReferenceValues{
		Platform: "sev-snp",
		Firmware: provenance.Firmware{Name: b.Firmware.Name, Digest: b.Firmware.Digests()},
		Boot: &provenance.Boot{
			Kernel:  provenance.File{Name: b.Kernel.Name, Digest: map[string]string{"sha256": hex.EncodeToString(kh.Kernel[:])}},
			Initrd:  provenance.File{Name: b.Initrd.Name, Digest: map[string]string{"sha256": hex.EncodeToString(kh.Initrd[:])}},
			Cmdline: provenance.Cmdline{Value: b.Cmdline, Digest: map[string]string{"sha256": hex.EncodeToString(kh.Cmdline[:])}},
		},
		Tool: tool,
	}
	m := snp.NewMeasurer(img, kh, nil)
	for _, l := range launches {
		d, err := m.SNP(l.Config)
		if err != nil {
			return nil, fmt.Errorf("firmware %q: %w", b.Firmware.Name, err)
		}
		c := provenance.Configuration{
			VMMType:       l.Config.VMM.String(),
			VCPUs:         l.Config.VCPUs,
			VCPUType:      l.VCPUType,
			GuestFeatures: fmt.Sprintf("%#x", l.Config.GuestFeatures),
		}
		if l.VCPUType != "" {
			c.VCPUSig = fmt.Sprintf("%#x", l.Config.VCPUSig)
		}
		rv.Values = append(rv.Values, provenance.ReferenceValue{
			Configuration: c,
			Measurements:  []provenance.Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": d.String()}}},
		})
	}
	return rv, rv.Validate()
}

// TDXReferenceValues computes the TDX MRTD of the firmware, or returns nil
// when it has no TDVF metadata. MRTD covers the firmware only; the kernel,
// initrd and command line go to RTMRs, which it does not compute.
func TDXReferenceValues(fw Blob, order tdx.PageAddOrder, tool provenance.Tool) (*provenance.ReferenceValues, error) {
	img, err := ovmf.Parse(fw.Data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", fw.Name, err)
	}
	md, err := img.TDVFMetadata()
	if err != nil {
		return nil, nil // no TDVF metadata: not a TDX image
	}
	d, err := tdx.MRTD(fw.Data, md, order, nil)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: TDX MRTD: %w", fw.Name, err)
	}
	rv := &provenance.ReferenceValues{
		Platform: "tdx",
		Firmware: provenance.Firmware{Name: fw.Name, Digest: fw.Digests()},
		Values: []provenance.ReferenceValue{{
			Measurements: []provenance.Measurement{{Register: "MRTD", Digest: map[string]string{"sha384": hex.EncodeToString(d[:])}}},
		}},
		Tool: tool,
	}
	return rv, rv.Validate()
}

// Statement returns the reference-values statement of rv whose subjects
// are every artifact of the guest, each with its sha256 and sha384.
func Statement(rv *provenance.ReferenceValues, artifacts []Blob) ([]byte, error) {
	subjects := make([]provenance.Subject, len(artifacts))
	for i, a := range artifacts {
		subjects[i] = provenance.Subject{Name: a.Name, Digest: a.Digests()}
	}
	st, err := provenance.NewReferenceValuesStatement(subjects, *rv)
	if err != nil {
		return nil, err
	}
	return provenance.Marshal(st)
}
