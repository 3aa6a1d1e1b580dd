package tdx

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// Variable store layout (PI spec volume 3, EFI_FIRMWARE_VOLUME_HEADER; edk2
// MdeModulePkg/Include/Guid/VariableFormat.h, VARIABLE_STORE_HEADER,
// VARIABLE_HEADER and AUTHENTICATED_VARIABLE_HEADER).
const (
	fvSignatureOffset    = 0x28 // "_FVH"
	fvHeaderLengthOffset = 0x30 // uint16
	fvSignature          = "_FVH"
	varStoreHeaderSize   = 28
	varStartID           = 0x55aa
	varAdded             = 0x3f
	varInDeletedTrans    = 0xfe
	varHeaderSize        = 32 // VARIABLE_HEADER
	authVarHeaderSize    = 60 // AUTHENTICATED_VARIABLE_HEADER
	varAlign             = 4
)

// Variable store and vendor GUIDs (edk2 MdePkg, MdeModulePkg).
var (
	authVariableStoreGUID = ovmf.MustParseGUID("aaf32c78-947b-439a-a180-2e144ec37792")
	variableStoreGUID     = ovmf.MustParseGUID("ddcf3616-3275-4164-98b6-fe85707ffe7d")
	// GlobalVariableGUID is EFI_GLOBAL_VARIABLE (SecureBoot, PK, KEK, Boot####).
	GlobalVariableGUID = ovmf.MustParseGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	// ImageSecurityDatabaseGUID is EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx, dbt).
	ImageSecurityDatabaseGUID = ovmf.MustParseGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
)

// Variable is one live variable of a store.
type Variable struct {
	Vendor ovmf.GUID
	Name   string
	Data   []byte
}

// ParseVariableStore reads the live variables of the firmware volume that
// holds OVMF's variable store (the CFV). It stops at the first slot without
// a variable header, as edk2 does.
func ParseVariableStore(fv []byte) ([]Variable, error) {
	if len(fv) < fvHeaderLengthOffset+2 || string(fv[fvSignatureOffset:fvSignatureOffset+4]) != fvSignature {
		return nil, fmt.Errorf("variable store: no firmware volume header (%q at %#x)", fvSignature, fvSignatureOffset)
	}
	hl := int(binary.LittleEndian.Uint16(fv[fvHeaderLengthOffset:]))
	if hl+varStoreHeaderSize > len(fv) {
		return nil, fmt.Errorf("variable store: header length %#x past the %#x-byte volume", hl, len(fv))
	}
	store := fv[hl:]
	g := ovmf.GUID(store[:16])
	var hsize int
	switch g {
	case authVariableStoreGUID:
		hsize = authVarHeaderSize
	case variableStoreGUID:
		hsize = varHeaderSize
	default:
		return nil, fmt.Errorf("variable store at %#x: format GUID %s, want %s or %s", hl, g, authVariableStoreGUID, variableStoreGUID)
	}
	size := int64(binary.LittleEndian.Uint32(store[16:]))
	if size < varStoreHeaderSize || size > int64(len(store)) {
		return nil, fmt.Errorf("variable store at %#x: size %#x, want %#x to %#x", hl, size, varStoreHeaderSize, len(store))
	}
	store = store[:size]
	var vars []Variable
	for off := varStoreHeaderSize; off+hsize <= len(store); {
		h := store[off:]
		if binary.LittleEndian.Uint16(h) != varStartID {
			break
		}
		state := h[2]
		var nameSize, dataSize uint32
		var vendor ovmf.GUID
		if hsize == authVarHeaderSize {
			nameSize = binary.LittleEndian.Uint32(h[36:])
			dataSize = binary.LittleEndian.Uint32(h[40:])
			copy(vendor[:], h[44:60])
		} else {
			nameSize = binary.LittleEndian.Uint32(h[8:])
			dataSize = binary.LittleEndian.Uint32(h[12:])
			copy(vendor[:], h[16:32])
		}
		end := int64(off) + int64(hsize) + int64(nameSize) + int64(dataSize)
		if end > int64(len(store)) || nameSize%2 != 0 {
			return nil, fmt.Errorf("variable at %#x: name %d and data %d bytes run past the store", hl+off, nameSize, dataSize)
		}
		if state == varAdded || state == varAdded&varInDeletedTrans {
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
			vars = append(vars, Variable{Vendor: vendor, Name: string(utf16.Decode(u)), Data: data})
		}
		off = int((end + varAlign - 1) &^ (varAlign - 1))
	}
	return vars, nil
}

// lookup returns the data of a live variable, or nil, false.
func lookup(vars []Variable, vendor ovmf.GUID, name string) ([]byte, bool) {
	var found []byte
	ok := false
	for _, v := range vars {
		// A later live copy (a variable in transition) wins, as in edk2.
		if v.Vendor == vendor && v.Name == name {
			found, ok = v.Data, true
		}
	}
	return found, ok
}
