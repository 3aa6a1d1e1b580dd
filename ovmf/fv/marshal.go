package fv

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// FFS2GUID is EFI_FIRMWARE_FILE_SYSTEM2_GUID, the file system of edk2's volumes.
var FFS2GUID = ovmf.MustParseGUID("8c8ce578-8a3d-4f1c-9935-896185c32dd3")

// MarshalSection returns a section of type t around data, with the common
// header (EFI_COMMON_SECTION_HEADER), or the extended one when it needs it.
func MarshalSection(t SectionType, data []byte) []byte {
	n := sectionHeader + len(data)
	if n >= sizeExtended {
		b := make([]byte, sectionHeader2, sectionHeader2+len(data))
		b[0], b[1], b[2], b[3] = 0xff, 0xff, 0xff, byte(t)
		binary.LittleEndian.PutUint32(b[4:], uint32(sectionHeader2+len(data)))
		return append(b, data...)
	}
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(t)}
	return append(b, data...)
}

// MarshalUISection returns a USER_INTERFACE section naming a file.
func MarshalUISection(name string) []byte {
	u := utf16.Encode([]rune(name))
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, u) // a bytes.Buffer does not fail
	buf.Write([]byte{0, 0})
	return MarshalSection(SectionUserInterface, buf.Bytes())
}

// MarshalGUIDSection returns a GUID_DEFINED section whose content needs no
// processing (EFI_GUIDED_SECTION_PROCESSING_REQUIRED clear), holding sections.
func MarshalGUIDSection(g ovmf.GUID, processingRequired bool, body []byte) []byte {
	hdr := make([]byte, guidSectionExtra)
	copy(hdr, g[:])
	binary.LittleEndian.PutUint16(hdr[16:], uint16(sectionHeader+guidSectionExtra))
	if processingRequired {
		binary.LittleEndian.PutUint16(hdr[18:], 1)
	}
	return MarshalSection(SectionGUIDDefined, append(hdr, body...))
}

// MarshalFile returns an FFS file (EFI_FFS_FILE_HEADER) of type t holding
// sections, each aligned to 4 bytes.
func MarshalFile(name ovmf.GUID, t FileType, sections ...[]byte) []byte {
	var body []byte
	for _, s := range sections {
		for len(body)%sectionAlign != 0 {
			body = append(body, 0)
		}
		body = append(body, s...)
	}
	n := fileHeaderSize + len(body)
	h := FileHeader{Name: name, Type: t, Size: [3]uint8{byte(n), byte(n >> 8), byte(n >> 16)}, State: 0xf8}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, h)
	buf.Write(body)
	return buf.Bytes()
}

// MarshalVolume returns a firmware volume of size bytes (0: as small as the
// files allow, rounded to 8) with one block-map entry, an extended header
// naming it when name is not zero, and files 8-byte aligned; the rest is
// erased (0xff).
func MarshalVolume(name ovmf.GUID, size int, files ...[]byte) []byte {
	hdrLen := volumeHeaderSize + 2*blockMapEntry
	var body []byte
	extOff := 0
	if name != (ovmf.GUID{}) {
		extOff = hdrLen
		ext := make([]byte, 20)
		copy(ext, name[:])
		binary.LittleEndian.PutUint32(ext[16:], 20)
		body = append(body, ext...)
	}
	for _, f := range files {
		for (hdrLen+len(body))%fvAlign != 0 {
			body = append(body, 0xff)
		}
		body = append(body, f...)
	}
	total := hdrLen + len(body)
	total = alignUp(total, fvAlign)
	if size > total {
		total = size
	}
	h := VolumeHeader{
		FileSystemGUID: FFS2GUID, Length: uint64(total), Signature: fvhSignature,
		Attributes: 0x0004feff, HeaderLength: uint16(hdrLen), ExtHeaderOffset: uint16(extOff), Revision: 2,
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, h)
	binary.Write(&buf, binary.LittleEndian, [4]uint32{uint32(total), 1, 0, 0})
	out := append(buf.Bytes(), body...)
	for len(out) < total {
		out = append(out, 0xff)
	}
	sum := uint16(0)
	for i := 0; i < hdrLen; i += 2 {
		sum += binary.LittleEndian.Uint16(out[i:])
	}
	binary.LittleEndian.PutUint16(out[50:], -sum)
	return out
}
