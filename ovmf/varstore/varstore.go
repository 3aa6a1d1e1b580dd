// Package varstore reads and writes the UEFI variable store of an OVMF
// image: the firmware volume OVMF keeps its non-volatile variables in (the
// CFV of a TDVF image, OVMF_VARS.fd of a split image), with the
// authenticated or the plain variable format of edk2.
//
// It reads the live variables (what the firmware sees at boot); it does not
// reclaim, verify authenticated writes or model variable services. Standard
// library only.
package varstore

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// Layout of the volume (PI spec volume 3, EFI_FIRMWARE_VOLUME_HEADER; edk2
// MdeModulePkg/Include/Guid/VariableFormat.h, VARIABLE_STORE_HEADER,
// VARIABLE_HEADER and AUTHENTICATED_VARIABLE_HEADER).
const (
	fvGUIDOffset         = 0x10 // FileSystemGuid
	fvLengthOffset       = 0x20 // uint64
	fvSignatureOffset    = 0x28 // "_FVH"
	fvAttributesOffset   = 0x2c // uint32
	fvHeaderLengthOffset = 0x30 // uint16
	fvChecksumOffset     = 0x32 // uint16
	fvRevisionOffset     = 0x37
	fvBlockMapOffset     = 0x38 // {NumBlocks, Length} uint32 pairs, zero terminated
	fvSignature          = "_FVH"
	fvRevision           = 2
	// fvAttributes are OVMF's EFI_FVB2 attributes of the variable volume
	// (OvmfPkg VarStore.fdf.inc).
	fvAttributes = 0x4feff
	// fvHeaderLength is a volume header with one block-map entry and its
	// terminator.
	fvHeaderLength = fvBlockMapOffset + 2*8

	storeHeaderSize   = 28 // VARIABLE_STORE_HEADER
	storeSizeOffset   = 16 // uint32
	storeFormatOffset = 20
	storeStateOffset  = 21
	storeFormatted    = 0x5a // VARIABLE_STORE_FORMATTED
	storeHealthy      = 0xfe // VARIABLE_STORE_HEALTHY

	startID          = 0x55aa
	stateAdded       = 0x3f // VAR_ADDED
	stateInDeletion  = 0xfe // VAR_IN_DELETED_TRANSITION (cleared bit)
	headerStateOff   = 2
	headerAttrOffset = 4
	headerSize       = 32 // VARIABLE_HEADER
	authHeaderSize   = 60 // AUTHENTICATED_VARIABLE_HEADER
	nameSizeOffset   = 8  // VARIABLE_HEADER.NameSize
	authNameSizeOff  = 36 // AUTHENTICATED_VARIABLE_HEADER.NameSize
	align            = 4  // HEADER_ALIGNMENT
	erased           = 0xff
)

// GUIDs of the store formats, the volume and common vendors (edk2 MdePkg,
// MdeModulePkg, SecurityPkg).
var (
	// AuthenticatedFormatGUID is gEfiAuthenticatedVariableGuid.
	AuthenticatedFormatGUID = ovmf.MustParseGUID("aaf32c78-947b-439a-a180-2e144ec37792")
	// FormatGUID is gEfiVariableGuid, the store without authentication.
	FormatGUID = ovmf.MustParseGUID("ddcf3616-3275-4164-98b6-fe85707ffe7d")
	// SystemNvDataFvGUID is gEfiSystemNvDataFvGuid, the volume's FileSystemGuid.
	SystemNvDataFvGUID = ovmf.MustParseGUID("fff12b8d-7696-4c8b-a985-2747075b4f50")
	// GlobalVariableGUID is EFI_GLOBAL_VARIABLE (SecureBoot, PK, KEK, Boot####).
	GlobalVariableGUID = ovmf.MustParseGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	// ImageSecurityDatabaseGUID is EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx, dbt).
	ImageSecurityDatabaseGUID = ovmf.MustParseGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	// SecureBootEnableGUID is gEfiSecureBootEnableDisableGuid, the vendor of
	// "SecureBootEnable" (SecurityPkg.dec).
	SecureBootEnableGUID = ovmf.MustParseGUID("f0a30bc7-af08-4556-99c4-001009c93a44")
)

// Variable is one live variable of a store.
type Variable struct {
	Vendor     ovmf.GUID
	Name       string
	Attributes uint32
	Data       []byte
}

// Parse reads the live variables of the firmware volume that holds OVMF's
// variable store. It stops at the first slot without a variable header, as
// edk2 does. The variables' Data alias fv.
func Parse(fv []byte) ([]Variable, error) {
	if len(fv) < fvHeaderLengthOffset+2 || string(fv[fvSignatureOffset:fvSignatureOffset+4]) != fvSignature {
		return nil, fmt.Errorf("variable store: no firmware volume header (%q at %#x)", fvSignature, fvSignatureOffset)
	}
	hl := int(binary.LittleEndian.Uint16(fv[fvHeaderLengthOffset:]))
	if hl+storeHeaderSize > len(fv) {
		return nil, fmt.Errorf("variable store: header length %#x past the %#x-byte volume", hl, len(fv))
	}
	store := fv[hl:]
	g := ovmf.GUID(store[:16])
	var hsize, nameOff int
	switch g {
	case AuthenticatedFormatGUID:
		hsize, nameOff = authHeaderSize, authNameSizeOff
	case FormatGUID:
		hsize, nameOff = headerSize, nameSizeOffset
	default:
		return nil, fmt.Errorf("variable store at %#x: format GUID %s, want %s or %s", hl, g, AuthenticatedFormatGUID, FormatGUID)
	}
	size := int64(binary.LittleEndian.Uint32(store[storeSizeOffset:]))
	if size < storeHeaderSize || size > int64(len(store)) {
		return nil, fmt.Errorf("variable store at %#x: size %#x, want %#x to %#x", hl, size, storeHeaderSize, len(store))
	}
	store = store[:size]
	var vars []Variable
	for off := storeHeaderSize; off+hsize <= len(store); {
		h := store[off:]
		if binary.LittleEndian.Uint16(h) != startID {
			break
		}
		state := h[headerStateOff]
		nameSize := binary.LittleEndian.Uint32(h[nameOff:])
		dataSize := binary.LittleEndian.Uint32(h[nameOff+4:])
		vendor := ovmf.GUID(h[nameOff+8 : nameOff+24])
		end := int64(off) + int64(hsize) + int64(nameSize) + int64(dataSize)
		if end > int64(len(store)) || nameSize%2 != 0 {
			return nil, fmt.Errorf("variable at %#x: name %d and data %d bytes run past the store", hl+off, nameSize, dataSize)
		}
		if state == stateAdded || state == stateAdded&stateInDeletion {
			name := h[hsize : hsize+int(nameSize)]
			u := make([]uint16, 0, nameSize/2)
			for i := 0; i+1 < len(name); i += 2 {
				c := binary.LittleEndian.Uint16(name[i:])
				if c == 0 {
					break
				}
				u = append(u, c)
			}
			data := h[hsize+int(nameSize) : hsize+int(nameSize)+int(dataSize)]
			vars = append(vars, Variable{
				Vendor: vendor, Name: string(utf16.Decode(u)),
				Attributes: binary.LittleEndian.Uint32(h[headerAttrOffset:]), Data: data,
			})
		}
		off = int((end + align - 1) &^ (align - 1))
	}
	return vars, nil
}

// Lookup returns the data of the live variable vendor:name, or nil, false.
// A later live copy (a variable in transition) wins, as in edk2.
func Lookup(vars []Variable, vendor ovmf.GUID, name string) ([]byte, bool) {
	var found []byte
	ok := false
	for _, v := range vars {
		if v.Vendor == vendor && v.Name == name {
			found, ok = v.Data, true
		}
	}
	return found, ok
}

// Marshal is the inverse of Parse: size bytes of a firmware volume (a
// multiple of 4 KiB) holding an authenticated variable store with vars, all
// added, and erased bytes after them, as OVMF formats OVMF_VARS.fd. The
// authenticated headers' monotonic count, time stamp and key index are zero.
func Marshal(vars []Variable, size int) ([]byte, error) {
	if size <= fvHeaderLength+storeHeaderSize || size%ovmf.PageSize != 0 {
		return nil, fmt.Errorf("variable store of %d bytes: want a multiple of %d larger than its headers", size, ovmf.PageSize)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = erased
	}
	clear(b[:fvHeaderLength])
	copy(b[fvGUIDOffset:], SystemNvDataFvGUID[:])
	binary.LittleEndian.PutUint64(b[fvLengthOffset:], uint64(size))
	copy(b[fvSignatureOffset:], fvSignature)
	binary.LittleEndian.PutUint32(b[fvAttributesOffset:], fvAttributes)
	binary.LittleEndian.PutUint16(b[fvHeaderLengthOffset:], fvHeaderLength)
	b[fvRevisionOffset] = fvRevision
	binary.LittleEndian.PutUint32(b[fvBlockMapOffset:], uint32(size/ovmf.PageSize))
	binary.LittleEndian.PutUint32(b[fvBlockMapOffset+4:], ovmf.PageSize)
	var sum uint16
	for i := 0; i < fvHeaderLength; i += 2 {
		sum += binary.LittleEndian.Uint16(b[i:])
	}
	binary.LittleEndian.PutUint16(b[fvChecksumOffset:], -sum)

	store := b[fvHeaderLength:]
	copy(store, AuthenticatedFormatGUID[:])
	binary.LittleEndian.PutUint32(store[storeSizeOffset:], uint32(len(store)))
	store[storeFormatOffset], store[storeStateOffset] = storeFormatted, storeHealthy
	clear(store[storeStateOffset+1 : storeHeaderSize])
	off := storeHeaderSize
	for _, v := range vars {
		name := utf16.Encode([]rune(v.Name + "\x00"))
		n := authHeaderSize + 2*len(name) + len(v.Data)
		if off+n > len(store) {
			return nil, fmt.Errorf("variable %s:%s of %d bytes does not fit the %d-byte store", v.Vendor, v.Name, n, len(store))
		}
		h := store[off : off+n]
		clear(h[:authHeaderSize])
		binary.LittleEndian.PutUint16(h, startID)
		h[headerStateOff] = stateAdded
		binary.LittleEndian.PutUint32(h[headerAttrOffset:], v.Attributes)
		binary.LittleEndian.PutUint32(h[authNameSizeOff:], uint32(2*len(name)))
		binary.LittleEndian.PutUint32(h[authNameSizeOff+4:], uint32(len(v.Data)))
		copy(h[authNameSizeOff+8:], v.Vendor[:])
		for i, c := range name {
			binary.LittleEndian.PutUint16(h[authHeaderSize+2*i:], c)
		}
		copy(h[authHeaderSize+2*len(name):], v.Data)
		off = (off + n + align - 1) &^ (align - 1)
	}
	return b, nil
}
