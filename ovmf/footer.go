package ovmf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Layout of the OVMF GUIDed footer table, from edk2
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm and QEMU hw/i386/pc_sysfw_ovmf.c
// (pc_system_parse_ovmf_flash). The table sits just below the last
// BytesAfterFooterTable bytes of the image and is read backwards: every entry
// is its data followed by a uint16 length (data + header) and a GUID; the
// last entry is the footer itself, whose length covers the whole table.
const (
	// BytesAfterFooterTable is how far the footer entry ends before the end of
	// the image (the reset vector and its padding).
	BytesAfterFooterTable = 32
	// EntryHeaderSize is the size of an entry's trailer: uint16 length + GUID.
	EntryHeaderSize = 2 + 16
)

// Well-known footer table GUIDs (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm).
var (
	FooterTableGUID     = MustParseGUID("96b582de-1fb2-45f7-baea-a366c55a082d")
	SEVESResetBlockGUID = MustParseGUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
	SEVHashTableGUID    = MustParseGUID("7255371f-3a3b-4b04-927b-1da6efa8d454")
	SEVSecretGUID       = MustParseGUID("4c2eb361-7d9b-4cc3-8081-127c90d3d294")
	SEVMetadataGUID     = MustParseGUID("dc886566-984a-4798-a75e-5585a7bf67cc")
	TDXMetadataGUID     = MustParseGUID("e47a6535-984a-4798-865e-4685a7bf8ec2")
	SVSMInfoGUID        = MustParseGUID("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd")
)

var guidNames = map[GUID]string{
	FooterTableGUID:     "footer-table",
	SEVESResetBlockGUID: "sev-es-reset-block",
	SEVHashTableGUID:    "sev-hash-table",
	SEVSecretGUID:       "sev-secret-block",
	SEVMetadataGUID:     "sev-metadata",
	TDXMetadataGUID:     "tdx-metadata",
	SVSMInfoGUID:        "svsm-info",
}

// GUIDName names a well-known footer table GUID, or returns "" for others.
func GUIDName(g GUID) string { return guidNames[g] }

// ErrNoFooterTable reports an image without the OVMF GUIDed footer table.
var ErrNoFooterTable = errors.New("no OVMF footer table")

// TableEntry is one entry of the footer table.
type TableEntry struct {
	GUID GUID
	// Offset is the offset of Data in the image.
	Offset int64
	Data   []byte
}

// ParseFooterTable reads the footer table at the end of image. It returns
// ErrNoFooterTable when the footer GUID is absent, and the entries in the order
// they are found (from the end of the image backwards). A GUID that appears
// twice is an error: QEMU and other tools disagree on which one counts.
func ParseFooterTable(image []byte) ([]TableEntry, error) {
	size := int64(len(image))
	footerStart := size - BytesAfterFooterTable - EntryHeaderSize
	if footerStart < 0 {
		return nil, fmt.Errorf("%w: image is %d bytes, shorter than the %d-byte footer", ErrNoFooterTable, size, BytesAfterFooterTable+EntryHeaderSize)
	}
	var footerGUID GUID
	copy(footerGUID[:], image[footerStart+2:])
	if footerGUID != FooterTableGUID {
		return nil, fmt.Errorf("%w: footer GUID at %#x is %s, want %s", ErrNoFooterTable, footerStart+2, footerGUID, FooterTableGUID)
	}
	footerLen := int64(binary.LittleEndian.Uint16(image[footerStart:]))
	if footerLen < EntryHeaderSize || footerLen-EntryHeaderSize > footerStart {
		return nil, fmt.Errorf("footer table at %#x: length %d, want %d to %d", footerStart, footerLen, EntryHeaderSize, footerStart+EntryHeaderSize)
	}
	tableStart := footerStart - (footerLen - EntryHeaderSize)
	var entries []TableEntry
	seen := map[GUID]int64{}
	for end := footerStart; end > tableStart; {
		if end-tableStart < EntryHeaderSize {
			return nil, fmt.Errorf("footer table entry ending at %#x: %d bytes left, want at least %d", end, end-tableStart, EntryHeaderSize)
		}
		hdr := end - EntryHeaderSize
		n := int64(binary.LittleEndian.Uint16(image[hdr:]))
		if n < EntryHeaderSize || n > end-tableStart {
			return nil, fmt.Errorf("footer table entry at %#x: length %d, want %d to %d", hdr, n, EntryHeaderSize, end-tableStart)
		}
		var g GUID
		copy(g[:], image[hdr+2:end])
		if prev, ok := seen[g]; ok {
			return nil, fmt.Errorf("footer table: GUID %s appears at %#x and at %#x", g, prev, hdr+2)
		}
		seen[g] = hdr + 2
		start := end - n
		entries = append(entries, TableEntry{GUID: g, Offset: start, Data: image[start:hdr:hdr]})
		end = start
	}
	return entries, nil
}

// MarshalFooterTable is the inverse of ParseFooterTable: it returns the bytes
// of a footer table holding entries (in the order ParseFooterTable returns
// them, i.e. last in the image first), ending with the footer entry. The
// result belongs BytesAfterFooterTable bytes before the end of an image.
func MarshalFooterTable(entries []TableEntry) ([]byte, error) {
	var body []byte
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		n := len(e.Data) + EntryHeaderSize
		if n > 0xffff {
			return nil, fmt.Errorf("footer table entry %s: %d bytes, more than a uint16 length holds", e.GUID, n)
		}
		body = append(body, e.Data...)
		body = binary.LittleEndian.AppendUint16(body, uint16(n))
		body = append(body, e.GUID[:]...)
	}
	total := len(body) + EntryHeaderSize
	if total > 0xffff {
		return nil, fmt.Errorf("footer table: %d bytes, more than a uint16 length holds", total)
	}
	body = binary.LittleEndian.AppendUint16(body, uint16(total))
	return append(body, FooterTableGUID[:]...), nil
}
