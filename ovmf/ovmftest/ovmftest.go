// Package ovmftest builds synthetic firmware images for tests and fuzz seeds:
// the inverse of package ovmf. Images have a deterministic body, a footer
// table with the entries asked for, and SEV metadata placed below the table.
package ovmftest

import (
	"encoding/binary"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
)

// Image describes a synthetic firmware image.
type Image struct {
	// Size is the image size in bytes; 0 means 64 KiB.
	Size int
	// ResetEIP, when non-nil, adds an SEV-ES reset block.
	ResetEIP *uint32
	// HashTable, when non-nil, adds an SEV hashes table descriptor.
	HashTable *ovmf.SEVHashTableDescriptor
	// SEV, when non-nil, adds SEV metadata with these sections.
	SEV []ovmf.SEVMetadataSection
	// Extra entries are added to the footer table before the others.
	Extra []ovmf.TableEntry
	// NoFooter leaves the footer table out.
	NoFooter bool
}

// Uint32 returns a pointer to v, for Image.ResetEIP.
func Uint32(v uint32) *uint32 { return &v }

// AmdSev returns an image laid out like an edk2 AmdSevX64 build: SNP
// pre-validated memory, secrets, CPUID, SVSM calling area and kernel-hashes
// sections, a reset block and a hashes table descriptor.
func AmdSev() Image {
	return Image{
		Size:      256 << 10,
		ResetEIP:  Uint32(0x80b004),
		HashTable: &ovmf.SEVHashTableDescriptor{Base: 0x810c00, Size: 0x400},
		SEV: []ovmf.SEVMetadataSection{
			{GPA: 0x800000, Size: 0x9000, Type: ovmf.SectionSNPSecMem},
			{GPA: 0x80a000, Size: 0x3000, Type: ovmf.SectionSNPSecMem},
			{GPA: 0x80d000, Size: 0x1000, Type: ovmf.SectionSNPSecrets},
			{GPA: 0x80e000, Size: 0x1000, Type: ovmf.SectionCPUID},
			{GPA: 0x80f000, Size: 0x1000, Type: ovmf.SectionSVSMCAA},
			{GPA: 0x810000, Size: 0x1000, Type: ovmf.SectionSNPKernelHashes},
			{GPA: 0x811000, Size: 0xf000, Type: ovmf.SectionSNPSecMem},
		},
	}
}

// Build returns the image bytes.
func (o Image) Build() ([]byte, error) {
	size := o.Size
	if size == 0 {
		size = 64 << 10
	}
	img := make([]byte, size)
	for i := range img {
		img[i] = byte(i*131 + i>>12) // differs per page, deterministic
	}
	if o.NoFooter {
		return img, nil
	}
	var entries []ovmf.TableEntry
	entries = append(entries, o.Extra...)
	var md []byte
	mdEntry := -1
	if o.SEV != nil {
		md = (&ovmf.SEVMetadata{Sections: o.SEV}).Marshal()
		mdEntry = len(entries)
		entries = append(entries, ovmf.TableEntry{GUID: ovmf.SEVMetadataGUID, Data: make([]byte, 4)})
	}
	if o.HashTable != nil {
		d := binary.LittleEndian.AppendUint32(nil, o.HashTable.Base)
		d = binary.LittleEndian.AppendUint32(d, o.HashTable.Size)
		entries = append(entries, ovmf.TableEntry{GUID: ovmf.SEVHashTableGUID, Data: d})
	}
	if o.ResetEIP != nil {
		entries = append(entries, ovmf.TableEntry{GUID: ovmf.SEVESResetBlockGUID, Data: binary.LittleEndian.AppendUint32(nil, *o.ResetEIP)})
	}
	table, err := ovmf.MarshalFooterTable(entries)
	if err != nil {
		return nil, err
	}
	tableStart := size - ovmf.BytesAfterFooterTable - len(table)
	mdStart := (tableStart - len(md)) &^ 15
	if mdStart < 0 {
		return nil, fmt.Errorf("ovmftest: %d-byte image too small for a %d-byte table and %d bytes of metadata", size, len(table), len(md))
	}
	if mdEntry >= 0 {
		copy(img[mdStart:], md)
		// The metadata pointer is its distance from the end of the image;
		// the table's size does not change when it is filled in.
		entries[mdEntry].Data = binary.LittleEndian.AppendUint32(nil, uint32(size-mdStart))
		if table, err = ovmf.MarshalFooterTable(entries); err != nil {
			return nil, err
		}
	}
	copy(img[tableStart:], table)
	return img, nil
}

// MustBuild is Build for tests; it panics on error.
func (o Image) MustBuild() []byte {
	b, err := o.Build()
	if err != nil {
		panic(err)
	}
	return b
}
