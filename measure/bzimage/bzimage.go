// Package bzimage reads and writes the setup header of a Linux x86 bzImage
// (the boot protocol of Documentation/arch/x86/boot.rst): the header itself,
// the kernel version string it points at, and the loader fields QEMU writes
// into it before it hands the kernel to the firmware. The TDX measurements
// (RTMR1 hashes the kernel as the firmware sees it) and the tests that build
// synthetic kernels share it.
//
// It does not decompress or run the kernel. Standard library only.
package bzimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// SetupHeader is struct setup_header of the Linux x86 boot protocol
// (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header";
// arch/x86/include/uapi/asm/bootparam.h). It sits at SetupHeaderOffset in a
// bzImage.
type SetupHeader struct {
	SetupSects          uint8
	RootFlags           uint16
	SysSize             uint32
	RAMSize             uint16
	VidMode             uint16
	RootDev             uint16
	BootFlag            uint16
	Jump                uint16
	Header              [4]byte // "HdrS"
	Version             uint16  // boot protocol version
	RealmodeSwtch       uint32
	StartSysSeg         uint16
	KernelVersion       uint16 // offset of the version string, minus 0x200
	TypeOfLoader        uint8
	LoadFlags           uint8
	SetupMoveSize       uint16
	Code32Start         uint32
	RamdiskImage        uint32
	RamdiskSize         uint32
	BootsectKludge      uint32
	HeapEndPtr          uint16
	ExtLoaderVer        uint8
	ExtLoaderType       uint8
	CmdLinePtr          uint32
	InitrdAddrMax       uint32
	KernelAlignment     uint32
	RelocatableKernel   uint8
	MinAlignment        uint8
	XLoadFlags          uint16
	CmdlineSize         uint32
	HardwareSubarch     uint32
	HardwareSubarchData uint64
	PayloadOffset       uint32
	PayloadLength       uint32
	SetupData           uint64
	PrefAddress         uint64
	InitSize            uint32
	HandoverOffset      uint32
	KernelInfoOffset    uint32
}

// Boot protocol constants (Documentation/arch/x86/boot.rst).
const (
	// SetupHeaderOffset is where SetupHeader starts in a bzImage.
	SetupHeaderOffset = 0x1f1
	// SetupHeaderSize is binary.Size(SetupHeader{}).
	SetupHeaderSize = 0x26c - SetupHeaderOffset

	// VersionBase is what SetupHeader.KernelVersion is relative to.
	VersionBase = 0x200
	// Magic is SetupHeader.Header.
	Magic = "HdrS"
	// SectorSize is the unit of SetupHeader.SetupSects.
	SectorSize = 512

	// LoadFlags and XLoadFlags bits.
	LoadedHigh            = 0x01   // LOADED_HIGH
	CanUseHeap            = 0x80   // CAN_USE_HEAP
	XLFKernel64           = 1 << 0 // XLF_KERNEL_64
	XLFCanBeLoadedAbove4G = 1 << 1 // XLF_CAN_BE_LOADED_ABOVE_4G

	oldCmdlineMagicOffset  = 0x20   // cmd_line_magic, protocol < 2.02
	oldCmdlineOffsetOffset = 0x22   // cmd_line_offset, protocol < 2.02
	oldCmdlineMagic        = 0xa33f //
	qemuLoaderType         = 0xb0   // "B reserved for QEMU", revision 0
	defaultInitrdAddrMax   = 0x37ffffff
	qemuACPIDataSize       = 0x20000 + 0x8000 // hw/i386/pc.c, pcmc->acpi_data_size
	highRealAddr           = 0x10000
	highCmdlineAddr        = 0x20000
	lowRealAddr            = 0x90000
	lowCmdlineTop          = 0x9a000
	defaultSetupSects      = 4
	protocolInitrd         = 0x200
	protocolHeap           = 0x201
	protocolCmdlinePtr     = 0x202
	protocolInitrdAddrMax  = 0x203
	protocolXLoadFlags     = 0x20c
)

// ParseSetupHeader reads the setup header of a bzImage.
func ParseSetupHeader(kernel []byte) (*SetupHeader, error) {
	if len(kernel) < SetupHeaderOffset+SetupHeaderSize {
		return nil, fmt.Errorf("kernel: %d bytes, too short for a Linux setup header (%d)", len(kernel), SetupHeaderOffset+SetupHeaderSize)
	}
	var h SetupHeader
	if _, err := binary.Decode(kernel[SetupHeaderOffset:], binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("kernel setup header at %#x: %w", SetupHeaderOffset, err)
	}
	if string(h.Header[:]) != Magic {
		return nil, fmt.Errorf("kernel setup header at %#x: magic %q, want %q: not a Linux bzImage", SetupHeaderOffset+0x11, h.Header[:], Magic)
	}
	return &h, nil
}

// Marshal is the inverse of ParseSetupHeader.
func (h *SetupHeader) Marshal() []byte {
	b, _ := binary.Append(make([]byte, 0, SetupHeaderSize), binary.LittleEndian, h)
	return b
}

// SetupSize is the size of the real-mode setup code QEMU passes separately.
func (h *SetupHeader) SetupSize() int {
	n := int(h.SetupSects)
	if n == 0 {
		n = defaultSetupSects
	}
	return (n + 1) * SectorSize
}

// VersionString returns the version string the header points at, e.g.
// "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...", or ""
// when it has none.
func VersionString(kernel []byte, h *SetupHeader) string {
	if h.KernelVersion == 0 || h.Version < protocolInitrd {
		return ""
	}
	off := VersionBase + int(h.KernelVersion)
	end := min(len(kernel), h.SetupSize(), off+256)
	if off >= end {
		return ""
	}
	s := kernel[off:end]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// Release is a kernel's major and minor version.
type Release struct{ Major, Minor int }

// AtLeast reports whether r is major.minor or later.
func (r Release) AtLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}

func (r Release) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// ParseRelease reads "6.1" from a version string "6.1.0-56-cloud-amd64 ...".
func ParseRelease(version string) (Release, error) {
	f := strings.FieldsFunc(version, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 || !strings.HasPrefix(version, f[0]+".") {
		return Release{}, fmt.Errorf("kernel version %q: want it to start with major.minor", version)
	}
	maj, err1 := strconv.Atoi(f[0])
	minr, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return Release{}, fmt.Errorf("kernel version %q: want it to start with major.minor", version)
	}
	return Release{Major: maj, Minor: minr}, nil
}

// LoaderPatch is what QEMU (hw/i386/x86-common.c, x86_load_linux) writes
// into the setup header before it hands the kernel to the firmware, up to
// QEMU 10.1; from 10.2 it leaves confidential guests' kernels unpatched.
type LoaderPatch struct {
	// Below4G is the RAM below 4 GiB (x86ms->below_4g_mem_size).
	Below4G uint64
	// Cmdline is the -append string.
	Cmdline string
	// HasInitrd and InitrdSize describe -initrd.
	HasInitrd  bool
	InitrdSize uint64
}

// Patch returns a copy of kernel with the setup header patched as
// QEMU does: loader type, CAN_USE_HEAP and heap end, command line pointer,
// vga= mode, and the initrd address and size.
func Patch(kernel []byte, p LoaderPatch) ([]byte, error) {
	h, err := ParseSetupHeader(kernel)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(kernel)
	protocol := h.Version
	cmdlineSize := uint32(len(p.Cmdline)+16) &^ 15
	var realAddr, cmdlineAddr uint32
	switch {
	case protocol < protocolInitrd || h.LoadFlags&LoadedHigh == 0:
		realAddr, cmdlineAddr = lowRealAddr, lowCmdlineTop-cmdlineSize
	case protocol < protocolCmdlinePtr:
		realAddr, cmdlineAddr = lowRealAddr, lowCmdlineTop-cmdlineSize
	default:
		realAddr, cmdlineAddr = highRealAddr, highCmdlineAddr
	}
	var initrdMax uint32
	switch {
	case protocol >= protocolXLoadFlags && h.XLoadFlags&XLFCanBeLoadedAbove4G != 0:
		initrdMax = 0xffffffff
	case protocol >= protocolInitrdAddrMax:
		initrdMax = h.InitrdAddrMax
	default:
		initrdMax = defaultInitrdAddrMax
	}
	if p.Below4G < qemuACPIDataSize+1 {
		return nil, fmt.Errorf("%d bytes of RAM below 4 GiB: too little to boot", p.Below4G)
	}
	if limit := p.Below4G - qemuACPIDataSize; uint64(initrdMax) >= limit {
		initrdMax = uint32(limit - 1)
	}
	if protocol >= protocolCmdlinePtr {
		h.CmdLinePtr = cmdlineAddr
	} else {
		binary.LittleEndian.PutUint16(out[oldCmdlineMagicOffset:], oldCmdlineMagic)
		binary.LittleEndian.PutUint16(out[oldCmdlineOffsetOffset:], uint16(cmdlineAddr-realAddr))
	}
	if mode, ok, err := vgaMode(p.Cmdline); err != nil {
		return nil, err
	} else if ok {
		h.VidMode = mode
	}
	if protocol >= protocolInitrd {
		h.TypeOfLoader = qemuLoaderType
	}
	if protocol >= protocolHeap {
		h.LoadFlags |= CanUseHeap
		h.HeapEndPtr = uint16(cmdlineAddr - realAddr - 0x200)
	}
	if p.HasInitrd {
		if protocol < protocolInitrd {
			return nil, fmt.Errorf("kernel boot protocol %#x is too old to load an initrd", protocol)
		}
		if p.InitrdSize >= uint64(initrdMax) {
			return nil, fmt.Errorf("initrd of %d bytes is too large: QEMU loads at most %d below %#x", p.InitrdSize, initrdMax, initrdMax)
		}
		h.RamdiskImage = uint32(uint64(initrdMax)-p.InitrdSize) &^ 4095
		h.RamdiskSize = uint32(p.InitrdSize)
	}
	copy(out[SetupHeaderOffset:], h.Marshal())
	return out, nil
}

// vgaMode parses QEMU's handling of "vga=" in the command line.
func vgaMode(cmdline string) (uint16, bool, error) {
	i := strings.Index(cmdline, "vga=")
	if i < 0 {
		return 0, false, nil
	}
	v := cmdline[i+4:]
	switch {
	case strings.HasPrefix(v, "normal"):
		return 0xffff, true, nil
	case strings.HasPrefix(v, "ext"):
		return 0xfffe, true, nil
	case strings.HasPrefix(v, "ask"):
		return 0xfffd, true, nil
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, false, fmt.Errorf("command line: invalid vga= value %q (QEMU refuses it)", v)
	}
	return uint16(n), true, nil
}
