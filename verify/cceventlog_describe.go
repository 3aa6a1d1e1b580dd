package verify

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// Describe decodes what the event's data says, in one line: the UEFI
// variable and its value or boot option, the EFI action string, the image
// and its device path, the tagged event of the Linux EFI stub (command line,
// initrd), a boot loader's EV_IPL string, the firmware blob or handoff
// table. The data is the log's, unverified: for most types the digest
// covers other bytes (DataCovered says which types it covers). Every
// string taken from it is quoted or escaped: a description is one line
// without control characters.
func (e *CCEvent) Describe() string {
	d := e.Data
	switch e.Type {
	case EvSeparator:
		if bytes.Equal(d, []byte{0, 0, 0, 0}) {
			return "separator"
		}
		return "separator " + hex.EncodeToString(clip(d, 16))
	case EvEFIAction, EvAction, EvPlatformConfigFlags, EvIPL, EvCompactHash, EvPostCode, EvOmitBootDeviceEvents:
		return quoteData(d)
	case EvEFIVariableDriverConfig, EvEFIVariableBoot, EvEFIVariableBoot2, EvEFIVariableAuthority:
		return describeVariable(d)
	case EvEFIBootServicesApp, EvEFIBootServicesDriver, EvEFIRuntimeServicesDriver:
		return describeImageLoad(d)
	case EvEventTag:
		return describeTaggedEvent(d)
	case EvEFIPlatformFirmwareBlob2:
		return describeBlob2(d)
	case EvEFIPlatformFirmwareBlob:
		if len(d) == 16 {
			return fmt.Sprintf("firmware blob at %#x, %#x bytes", binary.LittleEndian.Uint64(d), binary.LittleEndian.Uint64(d[8:]))
		}
	case EvEFIHandoffTables2:
		return describeHandoffTables(d, true)
	case EvEFIHandoffTables:
		return describeHandoffTables(d, false)
	case EvSCRTMVersion:
		return quoteUTF16(d)
	case EvEFIGPTEvent, EvEFIGPTEvent2:
		return describeGPT(d)
	case EvNoAction:
		if s := cString(d); len(s) >= 4 && asciiText(s) {
			return fmt.Sprintf("%q (%d bytes)", clipString(s), len(d))
		}
	}
	if asciiText(string(bytes.TrimRight(d, "\x00"))) && len(d) > 0 {
		return quoteData(d)
	}
	return fmt.Sprintf("%d bytes", len(d))
}

// DataCovered says whether the event's digest must be SHA-384 of bytes its
// data holds, and if so whether it is: EV_SEPARATOR, EV_EFI_ACTION and
// EV_ACTION hash their data; EV_EFI_VARIABLE_DRIVER_CONFIG the whole
// UEFI_VARIABLE_DATA; EV_EFI_VARIABLE_BOOT, _BOOT2 and _AUTHORITY either
// the whole structure or its VariableData (edk2's MeasureVariable hashes
// the latter for all but DRIVER_CONFIG, shim the former); EV_EFI_GPT_EVENT
// the EFI_GPT_DATA it logs. For other types (images, firmware volumes,
// tagged events, ACPI data, EV_IPL) the data describes what was hashed and
// checked is false.
func (e *CCEvent) DataCovered() (checked, ok bool) {
	switch e.Type {
	case EvSeparator, EvEFIAction, EvAction, EvEFIVariableDriverConfig, EvEFIGPTEvent:
		return true, sha512.Sum384(e.Data) == e.Digest
	case EvEFIVariableBoot, EvEFIVariableBoot2, EvEFIVariableAuthority:
		if sha512.Sum384(e.Data) == e.Digest {
			return true, true
		}
		v, ok := parseVariableData(e.Data)
		return true, ok && sha512.Sum384(v.data) == e.Digest
	}
	return false, false
}

// Limits of the descriptions: a quoted string, device path nodes.
const (
	maxDescribedString = 200
	maxDevicePathNodes = 32
)

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// printable reports whether s is printable ASCII (no control character,
// not even a tab or a line break): text that may be shown as it is.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// asciiText reports whether s is printable ASCII with tabs and line
// breaks: text worth showing quoted (%q escapes them).
func asciiText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// quoteData quotes ASCII data without its trailing NULs, clipped; other
// data is described by its size.
func quoteData(d []byte) string {
	s := string(bytes.TrimRight(d, "\x00"))
	if !asciiText(s) {
		return fmt.Sprintf("%d bytes", len(d))
	}
	if len(s) > maxDescribedString {
		return fmt.Sprintf("%q... (%d bytes)", s[:maxDescribedString], len(d))
	}
	return fmt.Sprintf("%q", s)
}

// showString shows a string from the log: as it is when it is printable
// ASCII, quoted (strconv.Quote) otherwise; clipped.
func showString(s string) string {
	more := ""
	if len(s) > maxDescribedString {
		s, more = s[:maxDescribedString], "..."
	}
	if !printable(s) {
		s = strconv.Quote(s)
	}
	return s + more
}

// decodeUTF16 decodes little-endian UTF-16 up to a NUL or the end.
func decodeUTF16(b []byte) string {
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

func quoteUTF16(b []byte) string {
	return fmt.Sprintf("%q", clipString(decodeUTF16(b)))
}

// clipString cuts s to maxDescribedString bytes, marking the cut.
func clipString(s string) string {
	if len(s) > maxDescribedString {
		return s[:maxDescribedString] + "..."
	}
	return s
}

// guidAt reads the mixed-endian EFI_GUID at b[0:16] as ovmf.GUID keeps it.
func guidAt(b []byte) ovmf.GUID {
	var g ovmf.GUID
	copy(g[:], b)
	return g
}

// variableData is UEFI_VARIABLE_DATA (TCG PC Client PFP, section 10.2.6):
// VariableName (the vendor GUID), UnicodeNameLength and VariableDataLength,
// then the name (UTF-16, no NUL) and the data.
type variableData struct {
	vendor ovmf.GUID
	name   string
	data   []byte
}

// variableDataHeaderSize is UEFI_VARIABLE_DATA without its tail.
const variableDataHeaderSize = 16 + 8 + 8

func parseVariableData(b []byte) (variableData, bool) {
	if len(b) < variableDataHeaderSize {
		return variableData{}, false
	}
	nameLen, dataLen := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
	rest := uint64(len(b) - variableDataHeaderSize)
	if nameLen > rest/2 || dataLen > rest-2*nameLen {
		return variableData{}, false
	}
	nameEnd := variableDataHeaderSize + 2*nameLen
	return variableData{
		vendor: guidAt(b),
		name:   decodeUTF16(b[variableDataHeaderSize:nameEnd]),
		data:   b[nameEnd : nameEnd+dataLen],
	}, true
}

// describeVariable names the variable and summarises its value: a boot
// option's description and device path, BootOrder's list, a one-byte
// value, or the size.
func describeVariable(d []byte) string {
	v, ok := parseVariableData(d)
	if !ok {
		return fmt.Sprintf("UEFI_VARIABLE_DATA that does not parse (%d bytes)", len(d))
	}
	name := showString(v.name)
	switch {
	case v.name == "BootOrder" && len(v.data)%2 == 0:
		var opts []string
		for i := 0; i+1 < len(v.data) && i < 2*maxDevicePathNodes; i += 2 {
			opts = append(opts, fmt.Sprintf("%04X", binary.LittleEndian.Uint16(v.data[i:])))
		}
		return fmt.Sprintf("%s: %s", name, strings.Join(opts, ","))
	case isBootOptionName(v.name):
		return fmt.Sprintf("%s: %s", name, describeLoadOption(v.data))
	case len(v.data) == 1:
		return fmt.Sprintf("%s = %d (vendor %s)", name, v.data[0], v.vendor)
	case len(v.data) == 0:
		return fmt.Sprintf("%s (empty, vendor %s)", name, v.vendor)
	}
	return fmt.Sprintf("%s (%d bytes, vendor %s)", name, len(v.data), v.vendor)
}

// isBootOptionName matches Boot####, Driver####, SysPrep#### (hex digits).
func isBootOptionName(n string) bool {
	for _, p := range []string{"Boot", "Driver", "SysPrep"} {
		if rest, ok := strings.CutPrefix(n, p); ok && len(rest) == 4 {
			if _, err := hex.DecodeString(rest); err == nil {
				return true
			}
		}
	}
	return false
}

// describeLoadOption decodes EFI_LOAD_OPTION (UEFI 2.10 section 3.1.3):
// Attributes, FilePathListLength, Description (UTF-16, NUL-terminated),
// FilePathList, OptionalData.
func describeLoadOption(b []byte) string {
	if len(b) < 6 {
		return fmt.Sprintf("EFI_LOAD_OPTION of %d bytes", len(b))
	}
	attrs, fpLen := binary.LittleEndian.Uint32(b), int(binary.LittleEndian.Uint16(b[4:]))
	rest := b[6:]
	end := -1
	for i := 0; i+1 < len(rest); i += 2 {
		if rest[i] == 0 && rest[i+1] == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return "EFI_LOAD_OPTION without a NUL-terminated description"
	}
	desc := decodeUTF16(rest[:end])
	fp := rest[end+2:]
	if fpLen > len(fp) {
		return fmt.Sprintf("%q, file path list of %d bytes beyond the option", clipString(desc), fpLen)
	}
	s := fmt.Sprintf("%q %s", clipString(desc), DevicePathString(fp[:fpLen]))
	const loadOptionActive = 0x1
	if attrs&loadOptionActive == 0 {
		s += " (inactive)"
	}
	return s
}

// Device path node types and subtypes (UEFI 2.10 section 10.3).
const (
	dpHardware        = 0x01
	dpACPI            = 0x02
	dpMessaging       = 0x03
	dpMedia           = 0x04
	dpBBS             = 0x05
	dpEnd             = 0x7f
	dpSubPCI          = 0x01
	dpSubACPI         = 0x01
	dpSubHardDrive    = 0x01
	dpSubFilePath     = 0x04
	dpSubFvFile       = 0x06
	dpSubFv           = 0x07
	dpSubSCSI         = 0x02
	dpSubMAC          = 0x0b
	dpSubSATA         = 0x12
	dpSubNVMe         = 0x17
	dpSubURI          = 0x18
	dpSubHWVendor     = 0x04
	dpSubMsgVendor    = 0x0a
	dpSubMediaVendor  = 0x03
	dpSubEndEntire    = 0xff
	dpNodeHeaderSize  = 4
	pnpPCIRootHID     = 0x0a0341d0 // EISA_PNP_ID(0x0a03)
	pnpPCIeRootHID    = 0x0a0841d0 // EISA_PNP_ID(0x0a08)
	hardDriveNodeSize = 42
)

// DevicePathString summarises an EFI device path in the UEFI text form
// for the nodes OVMF and boot loaders use (PciRoot, Pci, Scsi, Sata, NVMe,
// MAC, Uri, HD, a file path, Fv, FvFile), Path(type,subtype) for others;
// at most 32 nodes.
func DevicePathString(b []byte) string {
	var parts []string
	for n := 0; len(b) >= dpNodeHeaderSize; n++ {
		if n == maxDevicePathNodes {
			parts = append(parts, "...")
			break
		}
		typ, sub, size := b[0], b[1], int(binary.LittleEndian.Uint16(b[2:]))
		if size < dpNodeHeaderSize || size > len(b) {
			parts = append(parts, fmt.Sprintf("<node of %d bytes in %d>", size, len(b)))
			break
		}
		body := b[dpNodeHeaderSize:size]
		b = b[size:]
		if typ == dpEnd {
			if sub == dpSubEndEntire {
				break
			}
			parts = append(parts, "|") // end of one instance
			continue
		}
		parts = append(parts, devicePathNode(typ, sub, body))
	}
	if len(parts) == 0 {
		return "(empty device path)"
	}
	return strings.Join(parts, "/")
}

func devicePathNode(typ, sub byte, body []byte) string {
	switch {
	case typ == dpHardware && sub == dpSubPCI && len(body) >= 2:
		return fmt.Sprintf("Pci(%#x,%#x)", body[1], body[0])
	case typ == dpACPI && sub == dpSubACPI && len(body) >= 8:
		hid, uid := binary.LittleEndian.Uint32(body), binary.LittleEndian.Uint32(body[4:])
		switch hid {
		case pnpPCIRootHID:
			return fmt.Sprintf("PciRoot(%#x)", uid)
		case pnpPCIeRootHID:
			return fmt.Sprintf("PcieRoot(%#x)", uid)
		}
		return fmt.Sprintf("Acpi(%#x,%#x)", hid, uid)
	case typ == dpMessaging && sub == dpSubSCSI && len(body) >= 4:
		return fmt.Sprintf("Scsi(%#x,%#x)", binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint16(body[2:]))
	case typ == dpMessaging && sub == dpSubSATA && len(body) >= 6:
		return fmt.Sprintf("Sata(%#x,%#x,%#x)", binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint16(body[2:]), binary.LittleEndian.Uint16(body[4:]))
	case typ == dpMessaging && sub == dpSubNVMe && len(body) >= 4:
		return fmt.Sprintf("NVMe(%#x)", binary.LittleEndian.Uint32(body))
	case typ == dpMessaging && sub == dpSubMAC && len(body) >= 6:
		return fmt.Sprintf("MAC(%x)", body[:6])
	case typ == dpMessaging && sub == dpSubURI:
		return fmt.Sprintf("Uri(%s)", quoteData(body))
	case typ == dpHardware && sub == dpSubHWVendor && len(body) >= 16:
		return fmt.Sprintf("VenHw(%s)", guidAt(body))
	case typ == dpMessaging && sub == dpSubMsgVendor && len(body) >= 16:
		return fmt.Sprintf("VenMsg(%s)", guidAt(body))
	case typ == dpMedia && sub == dpSubMediaVendor && len(body) >= 16:
		return fmt.Sprintf("VenMedia(%s)", guidAt(body))
	case typ == dpMedia && sub == dpSubHardDrive && len(body) >= hardDriveNodeSize-dpNodeHeaderSize:
		const sigTypeGUID = 2
		part := binary.LittleEndian.Uint32(body)
		if body[37] == sigTypeGUID {
			return fmt.Sprintf("HD(%d,GPT,%s)", part, guidAt(body[20:36]))
		}
		return fmt.Sprintf("HD(%d)", part)
	case typ == dpMedia && sub == dpSubFilePath:
		return showString(decodeUTF16(body))
	case typ == dpMedia && (sub == dpSubFv || sub == dpSubFvFile) && len(body) >= 16:
		g := guidAt(body)
		name := g.String()
		if n := ovmf.GUIDName(g); n != "" {
			name += " " + n
		}
		if sub == dpSubFv {
			return fmt.Sprintf("Fv(%s)", name)
		}
		return fmt.Sprintf("FvFile(%s)", name)
	case typ == dpBBS:
		return "BBS"
	}
	return fmt.Sprintf("Path(%d,%d)", typ, sub)
}

// describeImageLoad decodes UEFI_IMAGE_LOAD_EVENT (TCG PC Client PFP,
// section 10.2.3): ImageLocationInMemory, ImageLengthInMemory,
// ImageLinkTimeAddress, LengthOfDevicePath, DevicePath.
func describeImageLoad(d []byte) string {
	const hdr = 32
	if len(d) < hdr {
		return fmt.Sprintf("UEFI_IMAGE_LOAD_EVENT of %d bytes", len(d))
	}
	addr, size := binary.LittleEndian.Uint64(d), binary.LittleEndian.Uint64(d[8:])
	dpLen := binary.LittleEndian.Uint64(d[24:])
	dp := d[hdr:]
	if dpLen < uint64(len(dp)) {
		dp = dp[:dpLen]
	}
	return fmt.Sprintf("image at %#x, %#x bytes, %s", addr, size, DevicePathString(dp))
}

// describeTaggedEvent decodes TCG_PCClientTaggedEvent (TCG PC Client PFP,
// section 10.4.2.1): taggedEventID, taggedEventDataSize, taggedEventData.
// The Linux EFI stub logs its command line ("LOADED_IMAGE::LoadOptions")
// and initrd ("Linux initrd") this way; the digest covers the command line
// or initrd, not this data.
func describeTaggedEvent(d []byte) string {
	if len(d) < 8 {
		return fmt.Sprintf("tagged event of %d bytes", len(d))
	}
	id, n := binary.LittleEndian.Uint32(d), uint64(binary.LittleEndian.Uint32(d[4:]))
	body := d[8:]
	if n < uint64(len(body)) {
		body = body[:n]
	}
	return fmt.Sprintf("tag %#x %s", id, quoteData(body))
}

// describeBlob2 decodes UEFI_PLATFORM_FIRMWARE_BLOB2 (TCG PC Client PFP,
// section 10.2.4): BlobDescriptionSize, BlobDescription, BlobBase,
// BlobLength. OVMF's SEC logs its CFV so, "Fv(XXXXXXXX-...)".
func describeBlob2(d []byte) string {
	if len(d) < 1 || len(d) < 1+int(d[0])+16 {
		return fmt.Sprintf("UEFI_PLATFORM_FIRMWARE_BLOB2 of %d bytes", len(d))
	}
	n := int(d[0])
	desc := cString(d[1 : 1+n])
	base, size := binary.LittleEndian.Uint64(d[1+n:]), binary.LittleEndian.Uint64(d[1+n+8:])
	return fmt.Sprintf("%s at %#x, %#x bytes", quoteData([]byte(desc)), base, size)
}

// describeHandoffTables decodes UEFI_HANDOFF_TABLE_POINTERS (and with
// described, UEFI_HANDOFF_TABLE_POINTERS2 whose description comes first:
// OVMF's SEC logs the TD HOB as "TdxTable"): NumberOfTables, then
// EFI_CONFIGURATION_TABLE entries (VendorGuid, VendorTable).
func describeHandoffTables(d []byte, described bool) string {
	desc := ""
	if described {
		if len(d) < 1 || len(d) < 1+int(d[0]) {
			return fmt.Sprintf("UEFI_HANDOFF_TABLE_POINTERS2 of %d bytes", len(d))
		}
		desc = quoteData([]byte(cString(d[1:1+int(d[0])]))) + ": "
		d = d[1+int(d[0]):]
	}
	if len(d) < 8 {
		return desc + "no table count"
	}
	n := binary.LittleEndian.Uint64(d)
	const entry = 16 + 8
	var tables []string
	for i := uint64(0); i < n && i < 8 && 8+(i+1)*entry <= uint64(len(d)); i++ {
		off := 8 + i*entry
		tables = append(tables, fmt.Sprintf("%s at %#x", guidAt(d[off:]), binary.LittleEndian.Uint64(d[off+16:])))
	}
	return fmt.Sprintf("%s%d table(s) %s", desc, n, strings.Join(tables, ", "))
}

// describeGPT counts the partitions of EFI_GPT_DATA (the GPT header, then
// NumberOfPartitions and the entries).
func describeGPT(d []byte) string {
	const gptHeaderSize = 92
	if len(d) < gptHeaderSize+8 || string(d[:8]) != "EFI PART" {
		return fmt.Sprintf("GPT data of %d bytes", len(d))
	}
	return fmt.Sprintf("GPT disk %s, %d partitions", guidAt(d[56:]), binary.LittleEndian.Uint64(d[gptHeaderSize:]))
}
