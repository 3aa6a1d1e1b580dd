package ovmftest

import (
	"encoding/binary"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
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

// EmptyVariableStore returns size bytes of a firmware volume holding an empty
// authenticated variable store (PI spec EFI_FIRMWARE_VOLUME_HEADER; edk2
// VariableFormat.h VARIABLE_STORE_HEADER), erased bytes 0xff after it.
func EmptyVariableStore(size int) []byte {
	const headerLength = 0x48 // FV header with one block-map entry and its terminator
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xff
	}
	clear(b[:headerLength])
	nvData := ovmf.MustParseGUID("fff12b8d-7696-4c8b-a985-2747075b4f50") // gEfiSystemNvDataFvGuid
	copy(b[16:], nvData[:])
	binary.LittleEndian.PutUint64(b[0x20:], uint64(size))
	copy(b[0x28:], "_FVH")
	binary.LittleEndian.PutUint32(b[0x2c:], 0x4feff)
	binary.LittleEndian.PutUint16(b[0x30:], headerLength)
	b[0x37] = 2 // revision
	binary.LittleEndian.PutUint32(b[0x38:], uint32(size/ovmf.PageSize))
	binary.LittleEndian.PutUint32(b[0x3c:], ovmf.PageSize)
	var sum uint16
	for i := 0; i < headerLength; i += 2 {
		sum += binary.LittleEndian.Uint16(b[i:])
	}
	binary.LittleEndian.PutUint16(b[0x32:], -sum)
	store := b[headerLength:]
	auth := ovmf.MustParseGUID("aaf32c78-947b-439a-a180-2e144ec37792") // gEfiAuthenticatedVariableGuid
	copy(store, auth[:])
	binary.LittleEndian.PutUint32(store[16:], uint32(size-headerLength))
	store[20], store[21] = 0x5a, 0xfe // VARIABLE_STORE_FORMATTED, VARIABLE_STORE_HEALTHY
	clear(store[22:28])
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
