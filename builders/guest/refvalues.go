package guest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/provenance/refvalues"
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
	initrd, err := measure.HashBlob(bytes.NewReader(b.Initrd.Data))
	if err != nil {
		return nil, err
	}
	boot := &measure.Boot{Kernel: b.Kernel.Data, Initrd: initrd, Cmdline: b.Cmdline}
	ls := make([]measure.Launch, len(launches))
	for i, l := range launches {
		ls[i] = l
	}
	results, err := measure.Compute(img, boot, ls, measure.Options{})
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", b.Firmware.Name, err)
	}
	fw := provenance.Firmware{Name: b.Firmware.Name, Digest: b.Firmware.Digests()}
	return refvalues.New(fw, refvalues.Boot(b.Kernel.Name, b.Initrd.Name, b.Cmdline, boot.KernelHashes()), results, tool)
}

// TDXReferenceValues computes the TDX MRTD of the firmware launched by
// measure tdx's default QEMU with the given page-add order, or returns nil
// when the firmware has no TDVF metadata. MRTD covers the firmware only; the
// kernel, initrd and command line go to RTMRs, which it does not compute.
func TDXReferenceValues(fw Blob, order measure.PageAddOrder, tool provenance.Tool) (*provenance.ReferenceValues, error) {
	img, err := ovmf.Parse(fw.Data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", fw.Name, err)
	}
	if _, err := img.TDVFMetadata(); err != nil {
		return nil, nil // no TDVF metadata: not a TDX image
	}
	l := measure.DefaultTDX()
	l.PageAddOrder = order
	results, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{})
	if err != nil {
		return nil, fmt.Errorf("firmware %q: TDX MRTD: %w", fw.Name, err)
	}
	return refvalues.New(provenance.Firmware{Name: fw.Name, Digest: fw.Digests()}, nil, results, tool)
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
