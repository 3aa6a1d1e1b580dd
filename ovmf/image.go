// Package ovmf parses the parts of an OVMF (edk2) firmware image that decide
// its launch measurement under AMD SEV, SEV-ES, SEV-SNP and Intel TDX: the
// GUIDed footer table at the end of the image, the SEV-ES reset block, the SEV
// hashes table descriptor, the SEV metadata and the presence of TDX metadata.
//
// It reads bytes and returns typed structures; it does not measure (see
// measure/snp) and does not parse firmware volumes. It uses only the standard
// library. Every parser bounds-checks before it slices: hostile input gives an
// error, never a panic, and allocates no more than the input's size.
package ovmf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PageSize is the granule of every launch update: 4 KiB.
const PageSize = pageSize

// MaxImageSize is the largest image Parse accepts. QEMU maps firmware just
// below 4 GiB; real OVMF builds are 1 to 8 MiB.
const MaxImageSize = 64 << 20

// ErrNotPageMultiple reports an image whose size is not a multiple of 4 KiB,
// which neither QEMU's pflash nor the SEV launch commands accept.
var ErrNotPageMultiple = errors.New("firmware size is not a multiple of 4 KiB")

// SEVHashTableDescriptor is the footer table entry that tells where OVMF
// expects QEMU to put the SEV hashes table for measured direct boot
// (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm, QEMU SevHashTableDescriptor).
type SEVHashTableDescriptor struct {
	Base uint32 // guest physical address of the table
	Size uint32 // bytes reserved for it
}

// Image is a parsed firmware image. Its fields are read-only after Parse.
type Image struct {
	data    []byte
	entries []TableEntry

	resetEIP    uint32
	hasResetEIP bool
	hashTable   *SEVHashTableDescriptor
	sev         *SEVMetadata
}

// Parse parses a whole firmware image as QEMU would map it below 4 GiB. An
// image without a footer table parses (plain SEV can still launch it); a
// footer table or SEV metadata that is present but malformed is an error.
// Parse keeps data without copying it: the caller must not modify it.
func Parse(data []byte) (*Image, error) {
	if len(data) == 0 {
		return nil, errors.New("firmware is empty")
	}
	if len(data) > MaxImageSize {
		return nil, fmt.Errorf("firmware is %d bytes, more than the %d accepted", len(data), MaxImageSize)
	}
	if len(data)%PageSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes (%d past the last full page)", ErrNotPageMultiple, len(data), len(data)%PageSize)
	}
	img := &Image{data: data}
	entries, err := ParseFooterTable(data)
	if errors.Is(err, ErrNoFooterTable) {
		return img, nil
	}
	if err != nil {
		return nil, err
	}
	img.entries = entries
	for _, e := range entries {
		switch e.GUID {
		case SEVESResetBlockGUID:
			if len(e.Data) < 4 {
				return nil, fmt.Errorf("SEV-ES reset block at %#x: %d bytes, want at least 4", e.Offset, len(e.Data))
			}
			img.resetEIP = binary.LittleEndian.Uint32(e.Data)
			img.hasResetEIP = true
		case SEVHashTableGUID:
			if len(e.Data) < 8 {
				return nil, fmt.Errorf("SEV hash table descriptor at %#x: %d bytes, want at least 8", e.Offset, len(e.Data))
			}
			img.hashTable = &SEVHashTableDescriptor{
				Base: binary.LittleEndian.Uint32(e.Data),
				Size: binary.LittleEndian.Uint32(e.Data[4:]),
			}
		case SEVMetadataGUID:
			md, err := parseSEVMetadata(data, e)
			if err != nil {
				return nil, err
			}
			img.sev = md
		}
	}
	return img, nil
}

// Data returns the image bytes.
func (img *Image) Data() []byte { return img.data }

// Size returns the image size in bytes.
func (img *Image) Size() int { return len(img.data) }

// GPA returns the guest physical address QEMU maps the image at: it ends at 4 GiB.
func (img *Image) GPA() uint64 { return fourGiB - uint64(len(img.data)) }

// Entries returns the footer table entries, last in the image first; nil
// when the image has no footer table.
func (img *Image) Entries() []TableEntry { return img.entries }

// Entry returns the footer table entry with GUID g.
func (img *Image) Entry(g GUID) (TableEntry, bool) {
	for _, e := range img.entries {
		if e.GUID == g {
			return e, true
		}
	}
	return TableEntry{}, false
}

// SEVESResetEIP returns the AP reset address from the SEV-ES reset block, the
// address at which application processors start under SEV-ES and SEV-SNP.
func (img *Image) SEVESResetEIP() (uint32, bool) { return img.resetEIP, img.hasResetEIP }

// SEVHashTable returns the SEV hashes table descriptor, or nil when the image
// declares none.
func (img *Image) SEVHashTable() *SEVHashTableDescriptor { return img.hashTable }

// SEVMetadata returns the SEV metadata, or nil when the image has none.
func (img *Image) SEVMetadata() *SEVMetadata { return img.sev }

// HasTDXMetadata reports whether the footer table points at TDX (TDVF) metadata.
func (img *Image) HasTDXMetadata() bool {
	_, ok := img.Entry(TDXMetadataGUID)
	return ok
}
