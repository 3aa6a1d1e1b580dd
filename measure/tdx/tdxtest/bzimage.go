// Package tdxtest builds synthetic inputs for the tests of package tdx: a
// small x86 bzImage that is also a valid PE32+ EFI application, the inverse
// of what bzimage.ParseSetupHeader, bzimage.VersionString and
// authenticode.SHA384 read. It does not build anything that boots.
package tdxtest

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"

	"github.com/measure-cc/measure/measure/bzimage"
)

// Layout of the image BzImage returns. The PE headers follow the MS-DOS stub
// as in arch/x86/boot/header.S; the setup header sits at its fixed offset
// (Documentation/arch/x86/boot.rst), straddling the end of the PE headers;
// the ".setup" section holds the rest of the real-mode setup and the
// version string, ".text" the (filler) protected-mode payload.
const (
	// SetupHeaderOffset is where struct setup_header starts.
	SetupHeaderOffset = bzimage.SetupHeaderOffset
	// VersionOffset is where the kernel version string starts.
	VersionOffset = 0x300
	// MaxVersionLen is the longest version string BzImage accepts: the
	// string and its NUL fill the setup code up to its end.
	MaxVersionLen = setupEnd - VersionOffset - 1

	dosLfanewOffset  = 0x3c // e_lfanew: file offset of "PE\0\0"
	peHeaderOffset   = 0x40
	peSignature      = "PE\x00\x00"
	setupSects       = 1                                     // setup_sects: setup is (1+1) sectors
	setupEnd         = (setupSects + 1) * bzimage.SectorSize // 0x400
	sizeOfHeaders    = 0x200
	fileAlignment    = 0x200
	sectionAlignment = 0x1000
	payloadSize      = 0x200
	imageSize        = setupEnd + payloadSize
	numDataDirs      = 16
	bootFlag         = 0xaa55
	checkSum         = 0x5eed5eed

	// setup_header fields (bootparam.h) BzImage sets.
	protocolVersion   = 0x020f // boot protocol 2.15
	code32Start       = 0x100000
	initrdAddrMax     = 0x7fffffff
	kernelAlignment   = 0x200000
	cmdlineSize       = 0x7ff
	prefAddress       = 0x1000000
	initSize          = 0x10000
	relocatableKernel = 1
)

// BzImage returns a 1.5 KiB bzImage: a setup header with magic "HdrS",
// boot protocol 2.15, setup_sects 1, LOADED_HIGH and a kernel_version
// pointer to version (NUL-terminated, at VersionOffset), inside a PE32+
// image (x86-64 EFI application) with sections ".setup" and ".text", a
// non-zero CheckSum and no certificate table. The bytes depend on version
// only. It panics when version is longer than MaxVersionLen or holds a NUL.
func BzImage(version string) []byte {
	if len(version) > MaxVersionLen || bytes.IndexByte([]byte(version), 0) >= 0 {
		panic(fmt.Sprintf("tdxtest: kernel version %q: want at most %d bytes and no NUL", version, MaxVersionLen))
	}
	img := make([]byte, imageSize)
	copy(img, "MZ")
	binary.LittleEndian.PutUint32(img[dosLfanewOffset:], peHeaderOffset)

	sections := []pe.SectionHeader32{
		section(".setup", sizeOfHeaders, setupEnd-sizeOfHeaders, pe.IMAGE_SCN_CNT_CODE|pe.IMAGE_SCN_MEM_READ|pe.IMAGE_SCN_MEM_EXECUTE),
		section(".text", setupEnd, payloadSize, pe.IMAGE_SCN_CNT_CODE|pe.IMAGE_SCN_MEM_READ|pe.IMAGE_SCN_MEM_EXECUTE),
	}
	opt := pe.OptionalHeader64{
		Magic:               0x20b, // PE32+
		SizeOfCode:          imageSize - sizeOfHeaders,
		AddressOfEntryPoint: sections[1].VirtualAddress,
		BaseOfCode:          sections[0].VirtualAddress,
		SectionAlignment:    sectionAlignment,
		FileAlignment:       fileAlignment,
		SizeOfImage:         sections[1].VirtualAddress + sectionAlignment,
		SizeOfHeaders:       sizeOfHeaders,
		CheckSum:            checkSum,
		Subsystem:           pe.IMAGE_SUBSYSTEM_EFI_APPLICATION,
		DllCharacteristics:  pe.IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
		NumberOfRvaAndSizes: numDataDirs,
	}
	fh := pe.FileHeader{
		Machine:              pe.IMAGE_FILE_MACHINE_AMD64,
		NumberOfSections:     uint16(len(sections)),
		SizeOfOptionalHeader: uint16(binary.Size(opt)),
		Characteristics:      pe.IMAGE_FILE_EXECUTABLE_IMAGE | pe.IMAGE_FILE_LINE_NUMS_STRIPPED | pe.IMAGE_FILE_DEBUG_STRIPPED,
	}
	var hdrs bytes.Buffer
	hdrs.WriteString(peSignature)
	for _, v := range []any{fh, opt, sections} {
		if err := binary.Write(&hdrs, binary.LittleEndian, v); err != nil {
			panic(err) // fixed-size values: cannot happen
		}
	}
	if peHeaderOffset+hdrs.Len() > SetupHeaderOffset {
		panic("tdxtest: PE headers overlap the setup header")
	}
	copy(img[peHeaderOffset:], hdrs.Bytes())

	h := bzimage.SetupHeader{
		SetupSects:        setupSects,
		SysSize:           payloadSize / 16,
		BootFlag:          bootFlag,
		Version:           protocolVersion,
		KernelVersion:     VersionOffset - bzimage.VersionBase,
		LoadFlags:         bzimage.LoadedHigh,
		Code32Start:       code32Start,
		InitrdAddrMax:     initrdAddrMax,
		KernelAlignment:   kernelAlignment,
		RelocatableKernel: relocatableKernel,
		XLoadFlags:        bzimage.XLFKernel64 | bzimage.XLFCanBeLoadedAbove4G,
		CmdlineSize:       cmdlineSize,
		PrefAddress:       prefAddress,
		InitSize:          initSize,
	}
	copy(h.Header[:], bzimage.Magic)
	copy(img[SetupHeaderOffset:], h.Marshal())
	copy(img[VersionOffset:], version)

	for i := range payloadSize { // deterministic filler
		img[setupEnd+i] = byte(i*7 + 1)
	}
	return img
}

func section(name string, offset, size, characteristics uint32) pe.SectionHeader32 {
	s := pe.SectionHeader32{
		VirtualSize:      size,
		VirtualAddress:   offset / fileAlignment * sectionAlignment,
		SizeOfRawData:    size,
		PointerToRawData: offset,
		Characteristics:  characteristics,
	}
	copy(s.Name[:], name)
	return s
}
