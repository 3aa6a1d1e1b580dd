package ovmftest

import (
	"encoding/binary"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/varstore"
)

// TDVF describes a synthetic TDX firmware image: the inverse of
// ovmf.ParseTDVF, for tests and fuzz seeds.
type TDVF struct {
	// Size of the image in bytes; a multiple of 4 KiB.
	Size int
	// Sections of the TDX metadata. nil means TDVFSections(Size).
	Sections []ovmf.TDVFSection
	// Seed varies the filler bytes of the image.
	Seed byte
	// VarStore writes an empty authenticated variable store (as in a fresh
	// OVMF_VARS.fd) over the CFV section's data.
	VarStore bool
}

// EmptyVariableStore returns size bytes (a multiple of 4 KiB) of a firmware
// volume holding an empty authenticated variable store, as in a fresh
// OVMF_VARS.fd: varstore.Marshal without variables.
func EmptyVariableStore(size int) []byte {
	b, err := varstore.Marshal(nil, size)
	if err != nil {
		panic(err)
	}
	return b
}

// TDVFSections returns a layout like OVMF's (edk2 IntelTdxMetadata.asm, Debian
// trixie OVMF.fd) for an image of size bytes mapped to end at 4 GiB: a CFV
// over the first eighth of the image, a BFV over the rest, and the TempMem and
// TD_HOB sections at 8 MiB.
func TDVFSections(size int) []ovmf.TDVFSection {
	cfv := uint32(size / 8 &^ (ovmf.PageSize - 1))
	base := uint64(1<<32 - size)
	return []ovmf.TDVFSection{
		{DataOffset: cfv, RawDataSize: uint32(size) - cfv, MemoryAddress: base + uint64(cfv), MemoryDataSize: uint64(size) - uint64(cfv), Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		{DataOffset: 0, RawDataSize: cfv, MemoryAddress: base, MemoryDataSize: uint64(cfv), Type: ovmf.TDVFSectionCFV},
		{MemoryAddress: 0x811000, MemoryDataSize: 0xf000, Type: ovmf.TDVFSectionTempMem},
		{MemoryAddress: 0x80b000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem},
		{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTDHOB},
		{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: ovmf.TDVFSectionTempMem},
	}
}

// TDVFImage builds the image: filler bytes, then the TDVF metadata GUID and
// descriptor, then a footer table whose TDX entry points at it, then 32 bytes
// of reset vector padding.
func TDVFImage(t TDVF) ([]byte, error) {
	if t.Size <= 0 || t.Size%ovmf.PageSize != 0 {
		return nil, fmt.Errorf("ovmftest: image size %d is not a positive multiple of 4 KiB", t.Size)
	}
	secs := t.Sections
	if secs == nil {
		secs = TDVFSections(t.Size)
	}
	md := (&ovmf.TDVFMetadata{Sections: secs}).Marshal()
	// The footer table's size does not depend on the pointer's value.
	footer, err := ovmf.MarshalFooterTable([]ovmf.TableEntry{{GUID: ovmf.TDXMetadataGUID, Data: make([]byte, 4)}})
	if err != nil {
		return nil, err
	}
	footerStart := t.Size - ovmf.BytesAfterFooterTable - len(footer)
	mdStart := footerStart - len(md)
	if mdStart-16 < 0 {
		return nil, fmt.Errorf("ovmftest: %d bytes of metadata and footer do not fit in %d bytes", len(md)+len(footer), t.Size)
	}
	img := make([]byte, t.Size)
	x := uint32(t.Seed) + 1
	for i := range img {
		x = x*1664525 + 1013904223 // a fixed LCG: deterministic filler
		img[i] = byte(x >> 24)
	}
	if t.VarStore {
		for _, sec := range secs {
			if sec.Type == ovmf.TDVFSectionCFV && int(sec.DataOffset)+int(sec.RawDataSize) <= len(img) {
				copy(img[sec.DataOffset:], EmptyVariableStore(int(sec.RawDataSize)))
			}
		}
	}
	copy(img[mdStart-16:], ovmf.TDVFMetadataGUID[:])
	copy(img[mdStart:], md)
	ptr := make([]byte, 4)
	binary.LittleEndian.PutUint32(ptr, uint32(t.Size-mdStart))
	footer, err = ovmf.MarshalFooterTable([]ovmf.TableEntry{{GUID: ovmf.TDXMetadataGUID, Data: ptr}})
	if err != nil {
		return nil, err
	}
	copy(img[footerStart:], footer)
	return img, nil
}

// MustTDVFImage is TDVFImage for tests; it panics on error.
func MustTDVFImage(t TDVF) []byte {
	b, err := TDVFImage(t)
	if err != nil {
		panic(err)
	}
	return b
}
