// Package fv parses the UEFI PI firmware file system of an edk2 image:
// firmware volumes (EFI_FIRMWARE_VOLUME_HEADER), the FFS files inside them
// (EFI_FFS_FILE_HEADER, EFI_FFS_FILE_HEADER2) and their sections
// (EFI_COMMON_SECTION_HEADER, EFI_COMMON_SECTION_HEADER2), following the
// PI specification, volume 3, chapters 2 and 3, and edk2's
// MdePkg/Include/Pi/PiFirmwareVolume.h and PiFirmwareFile.h.
//
// Encapsulated volumes (FIRMWARE_VOLUME_IMAGE sections) are parsed in
// turn. GUID-defined sections that are compressed (LZMA in OVMF) are opened
// only when the caller supplies a Decompressor: this package uses the
// standard library alone. Diff compares two images module by module.
//
// Every parser checks bounds before it slices; hostile input gives an error,
// never a panic, and nesting is bounded.
package fv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// Layout sizes and offsets.
const (
	volumeHeaderSize = 56 // EFI_FIRMWARE_VOLUME_HEADER without its block map
	blockMapEntry    = 8  // EFI_FV_BLOCK_MAP_ENTRY
	sigOffset        = 40 // Signature within the volume header
	fileHeaderSize   = 24 // EFI_FFS_FILE_HEADER
	filePad          = FileType(0xf0)
	fileHeader2Size  = 32 // EFI_FFS_FILE_HEADER2
	sectionHeader    = 4  // EFI_COMMON_SECTION_HEADER
	sectionHeader2   = 8  // EFI_COMMON_SECTION_HEADER2
	guidSectionExtra = 20 // EFI_GUID_DEFINED_SECTION after the common header: GUID, DataOffset, Attributes
	fvAlign          = 8  // FFS files are 8-byte aligned in a volume
	sectionAlign     = 4  // sections are 4-byte aligned in a file
	ffsAttribLarge   = 0x01
	maxDepth         = 8
	fvhSignature     = 0x4856465f // "_FVH"
	sizeExtended     = 0xffffff
)

// VolumeHeader is EFI_FIRMWARE_VOLUME_HEADER without its block map
// (PI spec vol. 3, 3.2.1).
type VolumeHeader struct {
	ZeroVector      [16]byte
	FileSystemGUID  ovmf.GUID
	Length          uint64
	Signature       uint32
	Attributes      uint32
	HeaderLength    uint16
	Checksum        uint16
	ExtHeaderOffset uint16
	Reserved        uint8
	Revision        uint8
}

// FileHeader is EFI_FFS_FILE_HEADER (PI spec vol. 3, 2.2.3).
type FileHeader struct {
	Name           ovmf.GUID
	IntegrityCheck uint16
	Type           FileType
	Attributes     uint8
	Size           [3]uint8
	State          uint8
}

// FileType is EFI_FV_FILETYPE.
type FileType uint8

var fileTypeNames = map[FileType]string{
	0x01: "RAW", 0x02: "FREEFORM", 0x03: "SECURITY_CORE", 0x04: "PEI_CORE", 0x05: "DXE_CORE",
	0x06: "PEIM", 0x07: "DRIVER", 0x08: "COMBINED_PEIM_DRIVER", 0x09: "APPLICATION", 0x0a: "MM",
	0x0b: "FIRMWARE_VOLUME_IMAGE", 0x0c: "COMBINED_MM_DXE", 0x0d: "MM_CORE", 0x0e: "MM_STANDALONE",
	0x0f: "MM_CORE_STANDALONE", 0xf0: "FFS_PAD",
}

// String returns the PI name without its EFI_FV_FILETYPE_ prefix.
func (t FileType) String() string {
	if n, ok := fileTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", uint8(t))
}

// SectionType is EFI_SECTION_TYPE.
type SectionType uint8

// Section types this package looks into.
const (
	SectionCompression   SectionType = 0x01
	SectionGUIDDefined   SectionType = 0x02
	SectionPE32          SectionType = 0x10
	SectionTE            SectionType = 0x12
	SectionUserInterface SectionType = 0x15
	SectionFVImage       SectionType = 0x17
	SectionRaw           SectionType = 0x19
)

var sectionTypeNames = map[SectionType]string{
	0x01: "COMPRESSION", 0x02: "GUID_DEFINED", 0x03: "DISPOSABLE", 0x10: "PE32", 0x11: "PIC",
	0x12: "TE", 0x13: "DXE_DEPEX", 0x14: "VERSION", 0x15: "USER_INTERFACE", 0x16: "COMPATIBILITY16",
	0x17: "FIRMWARE_VOLUME_IMAGE", 0x18: "FREEFORM_SUBTYPE_GUID", 0x19: "RAW", 0x1b: "PEI_DEPEX",
	0x1c: "MM_DEPEX",
}

// String returns the PI name without its EFI_SECTION_ prefix.
func (t SectionType) String() string {
	if n, ok := sectionTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", uint8(t))
}

// Volume is a parsed firmware volume.
type Volume struct {
	// Offset is where the volume starts in the buffer it was found in.
	Offset int
	Header VolumeHeader
	// Name is the FvName of the extended header, zero when there is none.
	Name  ovmf.GUID
	Files []File
	// Data is the whole volume.
	Data []byte
	// NotFFS is set for a volume whose file system is not FFS2 or FFS3 (an
	// NVRAM variable store): its files are not parsed.
	NotFFS bool
	// Body is the volume after its headers.
	Body []byte
}

// FFS3GUID is EFI_FIRMWARE_FILE_SYSTEM3_GUID (files may exceed 16 MiB).
var FFS3GUID = ovmf.MustParseGUID("5473c07a-3dcb-4dca-bd6f-1e9689e7349a")

// File is an FFS file.
type File struct {
	// Offset is the file's offset within its volume.
	Offset int
	Header FileHeader
	// Data is the file's content after its header.
	Data     []byte
	Sections []Section
	// UI is the name from its USER_INTERFACE section, if any.
	UI string
}

// Section is a section of a file, with what it encapsulates.
type Section struct {
	Offset int
	Type   SectionType
	// GUID is the section definition GUID of a GUID_DEFINED section.
	GUID ovmf.GUID
	// Data is the section's content after its headers.
	Data []byte
	// Sections holds encapsulated sections (GUID_DEFINED, COMPRESSION).
	Sections []Section
	// Volumes holds the volumes of a FIRMWARE_VOLUME_IMAGE section.
	Volumes []Volume
	// Opaque is set when an encapsulation could not be opened (no
	// decompressor for its GUID).
	Opaque bool
}

// Decompressor opens a GUID-defined section; ok false leaves it opaque.
type Decompressor func(guid ovmf.GUID, data []byte) (out []byte, ok bool, err error)

// Options tune parsing.
type Options struct {
	// Decompress opens GUID-defined sections that are not in the clear.
	Decompress Decompressor
	// MaxOutput bounds the total bytes decompression may produce; 0 is 256 MiB.
	MaxOutput int
}

// ErrNoVolume reports a buffer without any firmware volume.
var ErrNoVolume = errors.New("no firmware volume found")

type parser struct {
	opts   Options
	budget int
}

// Parse finds the firmware volumes of an image: it scans data at 4 KiB
// steps (and at 16-byte steps inside sections) for the "_FVH" signature.
func Parse(data []byte, o Options) ([]Volume, error) {
	p := &parser{opts: o, budget: o.MaxOutput}
	if p.budget == 0 {
		p.budget = 256 << 20
	}
	vols, err := p.volumes(data, 0x1000, 0)
	if err != nil {
		return nil, err
	}
	if len(vols) == 0 {
		return nil, ErrNoVolume
	}
	return vols, nil
}

func (p *parser) volumes(data []byte, step, depth int) ([]Volume, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("firmware volumes nested more than %d deep", maxDepth)
	}
	var vols []Volume
	for off := 0; off+volumeHeaderSize <= len(data); {
		if binary.LittleEndian.Uint32(data[off+sigOffset:]) != fvhSignature {
			off += step
			continue
		}
		v, err := p.volume(data[off:], depth)
		if err != nil {
			return nil, fmt.Errorf("firmware volume at %#x: %w", off, err)
		}
		v.Offset = off
		vols = append(vols, *v)
		n := int(v.Header.Length)
		n = (n + step - 1) / step * step
		off += n
	}
	return vols, nil
}

func (p *parser) volume(data []byte, depth int) (*Volume, error) {
	var h VolumeHeader
	if err := binary.Read(bytes.NewReader(data[:volumeHeaderSize]), binary.LittleEndian, &h); err != nil {
		return nil, err
	}
	if h.Length < volumeHeaderSize || h.Length > uint64(len(data)) {
		return nil, fmt.Errorf("length %#x, want %#x to %#x", h.Length, volumeHeaderSize, len(data))
	}
	if int(h.HeaderLength) < volumeHeaderSize+blockMapEntry || uint64(h.HeaderLength) > h.Length {
		return nil, fmt.Errorf("header length %#x, want %#x to %#x", h.HeaderLength, volumeHeaderSize+blockMapEntry, h.Length)
	}
	v := &Volume{Header: h, Data: data[:h.Length]}
	start := int(h.HeaderLength)
	if h.ExtHeaderOffset != 0 {
		eo := int(h.ExtHeaderOffset)
		if eo+20 > len(v.Data) {
			return nil, fmt.Errorf("extended header at %#x past the end %#x", eo, len(v.Data))
		}
		copy(v.Name[:], v.Data[eo:eo+16])
		es := int(binary.LittleEndian.Uint32(v.Data[eo+16:]))
		if es < 20 || eo+es > len(v.Data) {
			return nil, fmt.Errorf("extended header size %#x at %#x, want 20 to %#x", es, eo, len(v.Data)-eo)
		}
		start = eo + es
	}
	v.Body = v.Data[start:]
	if h.FileSystemGUID != FFS2GUID && h.FileSystemGUID != FFS3GUID {
		v.NotFFS = true
		return v, nil
	}
	files, err := p.files(v.Data, start, depth)
	if err != nil {
		return nil, err
	}
	v.Files = files
	return v, nil
}

func (p *parser) files(vol []byte, off, depth int) ([]File, error) {
	var files []File
	for {
		off = alignUp(off, fvAlign)
		if off+fileHeaderSize > len(vol) {
			return files, nil
		}
		var fh FileHeader
		if err := binary.Read(bytes.NewReader(vol[off:off+fileHeaderSize]), binary.LittleEndian, &fh); err != nil {
			return nil, err
		}
		if isErased(vol[off : off+fileHeaderSize]) {
			return files, nil // free space
		}
		size := int(fh.Size[0]) | int(fh.Size[1])<<8 | int(fh.Size[2])<<16
		hdr := fileHeaderSize
		if fh.Attributes&ffsAttribLarge != 0 {
			if off+fileHeader2Size > len(vol) {
				return nil, fmt.Errorf("file %s at %#x: large header past the end", fh.Name, off)
			}
			ext := binary.LittleEndian.Uint64(vol[off+fileHeaderSize:])
			if ext > uint64(len(vol)) {
				return nil, fmt.Errorf("file %s at %#x: size %#x past the end %#x", fh.Name, off, ext, len(vol))
			}
			size, hdr = int(ext), fileHeader2Size
		}
		if size < hdr || off+size > len(vol) {
			return nil, fmt.Errorf("file %s at %#x: size %#x, want %#x to %#x", fh.Name, off, size, hdr, len(vol)-off)
		}
		f := File{Offset: off, Header: fh, Data: vol[off+hdr : off+size]}
		if hasSections(fh.Type) {
			secs, err := p.sections(f.Data, depth)
			if err != nil {
				return nil, fmt.Errorf("file %s at %#x: %w", fh.Name, off, err)
			}
			f.Sections = secs
			f.UI = findUI(secs)
		}
		files = append(files, f)
		off += size
	}
}

func hasSections(t FileType) bool {
	return t != 0x01 && t != 0xf0 // RAW and PAD files hold no sections
}

func isErased(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

func (p *parser) sections(data []byte, depth int) ([]Section, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("sections nested more than %d deep", maxDepth)
	}
	var secs []Section
	for off := 0; ; {
		off = alignUp(off, sectionAlign)
		if off+sectionHeader > len(data) {
			return secs, nil
		}
		size := int(data[off]) | int(data[off+1])<<8 | int(data[off+2])<<16
		typ := SectionType(data[off+3])
		hdr := sectionHeader
		if size == sizeExtended {
			if off+sectionHeader2 > len(data) {
				return nil, fmt.Errorf("section at %#x: extended header past the end", off)
			}
			size, hdr = int(binary.LittleEndian.Uint32(data[off+4:])), sectionHeader2
		}
		if size < hdr || size > len(data)-off {
			return nil, fmt.Errorf("section %s at %#x: size %#x, want %#x to %#x", typ, off, size, hdr, len(data)-off)
		}
		s := Section{Offset: off, Type: typ, Data: data[off+hdr : off+size]}
		if err := p.open(&s, data[off:off+size], hdr, depth); err != nil {
			return nil, fmt.Errorf("section %s at %#x: %w", typ, off, err)
		}
		secs = append(secs, s)
		off += size
	}
}

// open fills the encapsulated content of s, whose bytes with header are raw.
func (p *parser) open(s *Section, raw []byte, hdr, depth int) error {
	switch s.Type {
	case SectionFVImage:
		vols, err := p.volumes(s.Data, 16, depth+1)
		if err != nil {
			return err
		}
		s.Volumes = vols
	case SectionGUIDDefined:
		if len(s.Data) < guidSectionExtra-4 {
			return fmt.Errorf("GUID-defined header: %d bytes, want %d", len(s.Data), guidSectionExtra-4)
		}
		copy(s.GUID[:], s.Data[:16])
		dataOff := int(binary.LittleEndian.Uint16(s.Data[16:]))
		attrs := binary.LittleEndian.Uint16(s.Data[18:])
		if dataOff < hdr+guidSectionExtra-4 || dataOff > len(raw) {
			return fmt.Errorf("GUID-defined data offset %#x, want %#x to %#x", dataOff, hdr+guidSectionExtra-4, len(raw))
		}
		body := raw[dataOff:]
		const processingRequired = 0x01
		if attrs&processingRequired == 0 {
			secs, err := p.sections(body, depth+1)
			if err != nil {
				return err
			}
			s.Sections = secs
			return nil
		}
		if p.opts.Decompress == nil {
			s.Opaque = true
			return nil
		}
		out, ok, err := p.opts.Decompress(s.GUID, body)
		if err != nil {
			return fmt.Errorf("GUID-defined %s: %w", s.GUID, err)
		}
		if !ok {
			s.Opaque = true
			return nil
		}
		if p.budget -= len(out); p.budget < 0 {
			return errors.New("decompressed output exceeds the limit")
		}
		secs, err := p.sections(out, depth+1)
		if err != nil {
			return err
		}
		s.Sections = secs
	case SectionCompression:
		// EFI_COMPRESSION_SECTION: UncompressedLength, CompressionType.
		if len(s.Data) >= 5 && s.Data[4] == 0 { // EFI_NOT_COMPRESSED
			secs, err := p.sections(s.Data[5:], depth+1)
			if err != nil {
				return err
			}
			s.Sections = secs
		} else {
			s.Opaque = true
		}
	}
	return nil
}

func findUI(secs []Section) string {
	for _, s := range secs {
		if s.Type == SectionUserInterface {
			return decodeUCS2(s.Data)
		}
		if n := findUI(s.Sections); n != "" {
			return n
		}
	}
	return ""
}

func decodeUCS2(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
