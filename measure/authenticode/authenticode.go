// Package authenticode computes the Authenticode digest of a PE/COFF image
// (Windows Authenticode Portable Executable Signature Format, "Calculating
// the PE Image Hash") as edk2 computes it when it measures an EFI
// application: what RTMR1 of a TDX guest (and a TPM's PCR 4) records for the
// kernel's EFI stub.
//
// It does not verify signatures. Standard library only.
package authenticode

import (
	"bytes"
	"crypto/sha512"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"slices"
)

// PE/COFF layout used by the Authenticode digest (Microsoft PE Format,
// "Optional Header Windows-Specific Fields" and "Optional Header Data
// Directories"; Windows Authenticode Portable Executable Signature Format).
const (
	peSignatureOffsetField = 0x3c // uint32 in the MS-DOS stub: offset of "PE\0\0"
	peSignatureSize        = 4
	coffHeaderSize         = 20
	optCheckSumOffset      = 64  // from the optional header, PE32 and PE32+
	optDataDirPE32         = 96  // first data directory, PE32
	optDataDirPE32Plus     = 112 // first data directory, PE32+
	dataDirEntrySize       = 8
	dataDirSecurity        = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
)

// SHA384 returns the Authenticode SHA-384 digest of a PE/COFF image as
// edk2 computes it when it measures an EFI application
// (SecurityPkg DxeTpm2MeasureBootLib, OvmfPkg/Tcg/TdTcg2Dxe MeasureBootPeCoff.c):
// the headers without the checksum and the certificate-table entry, the
// sections in file order, then any bytes after them except the certificate
// table.
func SHA384(image []byte) ([sha512.Size384]byte, error) {
	f, err := pe.NewFile(bytes.NewReader(image))
	if err != nil {
		return [sha512.Size384]byte{}, fmt.Errorf("PE image: %w", err)
	}
	defer f.Close()
	if len(image) < peSignatureOffsetField+4 {
		return [sha512.Size384]byte{}, fmt.Errorf("PE image: %d bytes, too short for an MS-DOS header", len(image))
	}
	opt := int64(binary.LittleEndian.Uint32(image[peSignatureOffsetField:])) + peSignatureSize + coffHeaderSize
	var sizeOfHeaders, numDirs uint32
	var certDir pe.DataDirectory
	var dataDir int64
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		sizeOfHeaders, numDirs, dataDir = oh.SizeOfHeaders, oh.NumberOfRvaAndSizes, opt+optDataDirPE32
		if numDirs > dataDirSecurity {
			certDir = oh.DataDirectory[dataDirSecurity]
		}
	case *pe.OptionalHeader64:
		sizeOfHeaders, numDirs, dataDir = oh.SizeOfHeaders, oh.NumberOfRvaAndSizes, opt+optDataDirPE32Plus
		if numDirs > dataDirSecurity {
			certDir = oh.DataDirectory[dataDirSecurity]
		}
	default:
		return [sha512.Size384]byte{}, fmt.Errorf("PE image: no optional header")
	}
	size := int64(len(image))
	checksum := opt + optCheckSumOffset
	certEntry := dataDir + dataDirSecurity*dataDirEntrySize
	if int64(sizeOfHeaders) > size || checksum+4 > int64(sizeOfHeaders) {
		return [sha512.Size384]byte{}, fmt.Errorf("PE image: SizeOfHeaders %#x, want %#x to %#x", sizeOfHeaders, checksum+4, size)
	}
	h := sha512.New384()
	h.Write(image[:checksum])
	if numDirs <= dataDirSecurity {
		h.Write(image[checksum+4 : sizeOfHeaders])
	} else {
		if certEntry+dataDirEntrySize > int64(sizeOfHeaders) {
			return [sha512.Size384]byte{}, fmt.Errorf("PE image: certificate table entry at %#x lies past SizeOfHeaders %#x", certEntry, sizeOfHeaders)
		}
		h.Write(image[checksum+4 : certEntry])
		h.Write(image[certEntry+dataDirEntrySize : sizeOfHeaders])
	}
	sections := slices.Clone(f.Sections)
	slices.SortStableFunc(sections, func(a, b *pe.Section) int {
		return int(int64(a.Offset) - int64(b.Offset))
	})
	hashed := int64(sizeOfHeaders)
	for _, s := range sections {
		if s.Size == 0 {
			continue
		}
		end := int64(s.Offset) + int64(s.Size)
		if end > size {
			return [sha512.Size384]byte{}, fmt.Errorf("PE image: section %q at %#x+%#x ends past the %#x-byte file", s.Name, s.Offset, s.Size, size)
		}
		h.Write(image[s.Offset:end])
		hashed += int64(s.Size)
	}
	if size > hashed {
		certSize := int64(certDir.Size)
		if size < hashed+certSize {
			return [sha512.Size384]byte{}, fmt.Errorf("PE image: %#x bytes hashed and a %#x-byte certificate table exceed the %#x-byte file", hashed, certSize, size)
		}
		h.Write(image[hashed : size-certSize])
	}
	var d [sha512.Size384]byte
	h.Sum(d[:0])
	return d, nil
}
