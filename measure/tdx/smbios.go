package tdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SMBIOS structure types QEMU builds for q35 and OVMF adds (DMTF DSP0134).
const (
	smbiosTypeBIOS        = 0
	smbiosTypeSystem      = 1
	smbiosTypeBaseboard   = 2
	smbiosTypeChassis     = 3
	smbiosTypeProcessor   = 4
	smbiosTypeMemArray    = 16
	smbiosTypeMemDevice   = 17
	smbiosTypeMemMapped   = 19
	smbiosTypeBootInfo    = 32
	smbiosTypeEndOfTable  = 127
	smbiosTypeOEMFirst    = 128
	smbiosHeaderSize      = 4
	smbiosEndOfTableSize  = smbiosHeaderSize + 2
	smbiosMaxTableSize    = 1 << 24 // bound for parsing; QEMU's tables are a few KiB
	smbiosStringSetEndLen = 2
)

// Handles QEMU gives its structures (hw/smbios/smbios.c, T*_BASE).
const (
	qemuHandleType1   = 0x0100
	qemuHandleType3   = 0x0300
	qemuHandleType4   = 0x0400
	qemuHandleType16  = 0x1000
	qemuHandleType17  = 0x1100
	qemuHandleType19  = 0x1300
	qemuHandleType32  = 0x2000
	qemuHandleType127 = 0x7f00
	// ovmfEndOfTableHandle is the handle SmbiosDxe gives the end-of-table
	// structure it appends (GetMaxSmbiosHandle for SMBIOS 2.1 and later).
	ovmfEndOfTableHandle = 0xfeff
)

// Lengths of the formatted areas QEMU writes (struct smbios_type_N in
// include/hw/firmware/smbios.h, QEMU 10.0 to 10.2) and OVMF's type 0
// (sizeof SMBIOS_TABLE_TYPE0, MdePkg SmBios.h).
const (
	smbiosType0Len   = 0x1a
	smbiosType1Len   = 0x1b
	smbiosType3Len   = 0x16
	smbiosType4LenV2 = 0x2a // SMBIOS_TYPE_4_LEN_V28, SMBIOS 2.x entry point
	smbiosType4LenV3 = 0x30 // SMBIOS_TYPE_4_LEN_V30, SMBIOS 3.x entry point
	smbiosType16Len  = 0x17
	smbiosType17Len  = 0x28
	smbiosType19Len  = 0x1f
	smbiosType32Len  = 0x0b
)

// ErrMalformedSMBIOS reports an SMBIOS structure table that cannot be
// parsed.
var ErrMalformedSMBIOS = errors.New("malformed SMBIOS structure table")

// SMBIOSStructure is one SMBIOS structure: its formatted area (starting
// with the 4-byte header: type, length, handle) and its string set.
type SMBIOSStructure struct {
	// Formatted is the formatted area, header included; its length is the
	// header's Length field.
	Formatted []byte
	// StringSet is what follows the formatted area up to the double NUL
	// that ends the structure, without that double NUL: the strings,
	// NUL-separated; empty when the structure has none.
	StringSet []byte
}

// Type is the structure's type.
func (s SMBIOSStructure) Type() uint8 { return s.Formatted[0] }

// Handle is the structure's handle.
func (s SMBIOSStructure) Handle() uint16 { return binary.LittleEndian.Uint16(s.Formatted[2:]) }

// Strings returns the string set, string 1 first.
func (s SMBIOSStructure) Strings() []string {
	if len(s.StringSet) == 0 {
		return nil
	}
	return strings.Split(string(s.StringSet), "\x00")
}

// Size is the structure's size in a table.
func (s SMBIOSStructure) Size() int {
	return len(s.Formatted) + len(s.StringSet) + smbiosStringSetEndLen
}

// ParseSMBIOSStructures parses a structure table as OVMF walks one
// (SmbiosPlatformDxe's SmbiosTableLength): each structure is its formatted
// area, then bytes up to the first double NUL. Parsing stops after the
// first end-of-table structure (type 127), which is included; bytes after
// it are ignored. A table without one is truncated.
func ParseSMBIOSStructures(b []byte) ([]SMBIOSStructure, error) {
	if len(b) > smbiosMaxTableSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedSMBIOS, len(b), smbiosMaxTableSize)
	}
	var out []SMBIOSStructure
	for off := 0; ; {
		if len(b)-off < smbiosHeaderSize {
			return nil, fmt.Errorf("%w: structure at offset %#x: %d bytes left, want a 4-byte header (no end-of-table structure)", ErrMalformedSMBIOS, off, len(b)-off)
		}
		n := int(b[off+1])
		if n < smbiosHeaderSize {
			return nil, fmt.Errorf("%w: structure at offset %#x (type %d): length %d, want at least 4", ErrMalformedSMBIOS, off, b[off], n)
		}
		if len(b)-off < n {
			return nil, fmt.Errorf("%w: structure at offset %#x (type %d): length %d, only %d bytes left", ErrMalformedSMBIOS, off, b[off], n, len(b)-off)
		}
		end := bytes.Index(b[off+n:], []byte{0, 0})
		if end < 0 {
			return nil, fmt.Errorf("%w: structure at offset %#x (type %d): string set has no double NUL", ErrMalformedSMBIOS, off, b[off])
		}
		s := SMBIOSStructure{Formatted: b[off : off+n : off+n], StringSet: b[off+n : off+n+end : off+n+end]}
		out = append(out, s)
		off += s.Size()
		if s.Type() == smbiosTypeEndOfTable {
			return out, nil
		}
	}
}

// MarshalSMBIOSStructures is the inverse of ParseSMBIOSStructures: each
// structure's formatted area, string set and double NUL.
func MarshalSMBIOSStructures(ss []SMBIOSStructure) []byte {
	var b []byte
	for _, s := range ss {
		b = append(b, s.Formatted...)
		b = append(b, s.StringSet...)
		b = append(b, 0, 0)
	}
	return b
}

// newSMBIOSStructure builds a structure with a zeroed formatted area of
// length n and the given strings (empty ones skipped, as QEMU's
// SMBIOS_TABLE_SET_STR does); set fills the formatted area, whose string
// fields refer to the strings by their 1-based index.
func newSMBIOSStructure(typ uint8, n int, handle uint16, strs []string, set func(f []byte)) SMBIOSStructure {
	f := make([]byte, n)
	f[0], f[1] = typ, byte(n)
	binary.LittleEndian.PutUint16(f[2:], handle)
	set(f)
	var ss []byte
	for _, s := range strs {
		if s == "" {
			continue
		}
		if len(ss) > 0 {
			ss = append(ss, 0)
		}
		ss = append(ss, s...)
	}
	return SMBIOSStructure{Formatted: f, StringSet: ss}
}

// QEMUSMBIOS is what QEMU's SMBIOS tables for a q35 guest depend on
// (hw/i386/fw_cfg.c fw_cfg_build_smbios, hw/smbios/smbios.c), without any
// -smbios option and without -uuid (whose value OVMF's measurement filters
// out anyway).
type QEMUSMBIOS struct {
	// Machine is the q35 machine type version (pc-q35-X.Y).
	Machine QEMUVersion
	// Memory is the guest RAM (-m).
	Memory uint64
	// SMP is the vCPU topology (-smp).
	SMP SMP
	// ProcessorID is the type 4 Processor ID: CPUID leaf 1 EAX in the low
	// 32 bits, EDX in the high ones, of the vCPU model (-cpu).
	ProcessorID uint64
}

// MinSMBIOSMachine is the oldest q35 machine type whose SMBIOS tables are
// modelled.
var MinSMBIOSMachine = QEMUVersion{7, 0}

// smbiosEntryPoint is the entry point QEMU picks (pc_q35.c
// default_smbios_ep_type; smbios.c smbios_get_tables): SMBIOS 2.8 ("32")
// up to pc-q35-8.0, SMBIOS 3.0 ("64") for pc-q35-8.1 and 8.2, and from 9.0
// "auto": 2.8 unless a type 4 core or thread count exceeds 255 (or the
// tables 64 KiB), then 3.0.
func (q QEMUSMBIOS) entryPoint64() bool {
	switch {
	case !q.Machine.AtLeast(8, 1):
		return false
	case !q.Machine.AtLeast(9, 0):
		return true
	}
	cores, threads := q.SMP.perSocket()
	return cores > 255 || threads > 255
}

// memoryDeviceSize is mc->smbios_memory_device_size, the size of each
// type 17 "DIMM" QEMU reports: 16 GiB up to pc-q35-9.0, 2047 TiB from 9.1
// to 10.1, 2 TiB from 10.2 (hw/core/machine.c, pc_q35.c in QEMU 10.2.2).
func (q QEMUSMBIOS) memoryDeviceSize() uint64 {
	switch {
	case !q.Machine.AtLeast(9, 1):
		return 16 << 30
	case !q.Machine.AtLeast(10, 2):
		return 2047 << 40
	}
	return 2 << 40
}

// MachineName is the q35 machine type's name, the SMBIOS type 1, 3 and 4
// version string.
func (q QEMUSMBIOS) MachineName() string {
	return fmt.Sprintf("pc-q35-%d.%d", q.Machine.Major, q.Machine.Minor)
}

// q35Description is the q35 machine class's description (pc_q35.c m->desc),
// the SMBIOS type 1 product name.
const q35Description = "Standard PC (Q35 + ICH9, 2009)"

// Tables returns QEMU's etc/smbios/smbios-tables for the configuration:
// types 1, 3, 4 (one per socket), 16, 17 (one per memory device), 19 (one
// per E820 RAM range), 32 and 127, in that order.
func (q QEMUSMBIOS) Tables() ([]byte, error) {
	if !q.Machine.AtLeast(MinSMBIOSMachine.Major, MinSMBIOSMachine.Minor) {
		return nil, fmt.Errorf("machine type %s: SMBIOS tables are modelled from pc-q35-%s on", q.MachineName(), MinSMBIOSMachine)
	}
	if q.Memory == 0 {
		return nil, errors.New("SMBIOS tables: guest memory size is 0")
	}
	if err := q.SMP.check(); err != nil {
		return nil, err
	}
	if c, t := q.SMP.perSocket(); !q.entryPoint64() && (c > 255 || t > 255) {
		return nil, fmt.Errorf("machine type %s: %d cores or %d threads per socket do not fit SMBIOS 2.8, which QEMU refuses", q.MachineName(), c, t)
	}
	const vendor = "QEMU"
	name := q.MachineName()
	var ss []SMBIOSStructure
	ss = append(ss, newSMBIOSStructure(smbiosTypeSystem, smbiosType1Len, qemuHandleType1, []string{vendor, q35Description, name}, func(f []byte) {
		f[0x04], f[0x05], f[0x06] = 1, 2, 3 // manufacturer, product, version
		f[0x18] = 0x06                      // wake-up type: power switch (UUID zero without -uuid)
	}))
	ss = append(ss, newSMBIOSStructure(smbiosTypeChassis, smbiosType3Len, qemuHandleType3, []string{vendor, name}, func(f []byte) {
		f[0x04], f[0x05], f[0x06] = 1, 0x01, 2 // manufacturer, type other, version
		f[0x09], f[0x0a], f[0x0b] = 0x03, 0x03, 0x03
		f[0x0c] = 0x02 // security status: unknown
	}))
	t4len := smbiosType4LenV2
	if q.entryPoint64() {
		t4len = smbiosType4LenV3
	}
	cores, threads := q.SMP.perSocket()
	for i := 0; i < q.SMP.Sockets; i++ {
		sock := "CPU" + fmt.Sprintf("%2x", i)
		ss = append(ss, newSMBIOSStructure(smbiosTypeProcessor, t4len, qemuHandleType4+uint16(i), []string{sock, vendor, name}, func(f []byte) {
			f[0x04], f[0x05], f[0x06], f[0x07] = 1, 0x03, 0xfe, 2 // socket, CPU, family in family 2, manufacturer
			binary.LittleEndian.PutUint64(f[0x08:], q.ProcessorID)
			f[0x10] = 3                                   // version
			binary.LittleEndian.PutUint16(f[0x14:], 2000) // max speed (DEFAULT_CPU_SPEED)
			binary.LittleEndian.PutUint16(f[0x16:], 2000) // current speed
			f[0x18], f[0x19] = 0x41, 0x01                 // populated and enabled; upgrade other
			binary.LittleEndian.PutUint16(f[0x1a:], 0xffff)
			binary.LittleEndian.PutUint16(f[0x1c:], 0xffff)
			binary.LittleEndian.PutUint16(f[0x1e:], 0xffff)
			f[0x23], f[0x24], f[0x25] = byte(min(cores, 0xff)), byte(min(cores, 0xff)), byte(min(threads, 0xff))
			binary.LittleEndian.PutUint16(f[0x26:], 0x0002) // characteristics unknown
			binary.LittleEndian.PutUint16(f[0x28:], 0x0001) // family 2: other
			if t4len == smbiosType4LenV3 {
				binary.LittleEndian.PutUint16(f[0x2a:], uint16(cores))
				binary.LittleEndian.PutUint16(f[0x2c:], uint16(cores))
				binary.LittleEndian.PutUint16(f[0x2e:], uint16(threads))
			}
		}))
	}
	dimm := q.memoryDeviceSize()
	dimms := (q.Memory + dimm - 1) / dimm
	ss = append(ss, newSMBIOSStructure(smbiosTypeMemArray, smbiosType16Len, qemuHandleType16, nil, func(f []byte) {
		f[0x04], f[0x05], f[0x06] = 0x01, 0x03, 0x06 // other, system memory, multi-bit ECC
		kb := (q.Memory + 1023) >> 10
		if kb < 0x80000000 {
			binary.LittleEndian.PutUint32(f[0x07:], uint32(kb))
		} else {
			binary.LittleEndian.PutUint32(f[0x07:], 0x80000000)
			binary.LittleEndian.PutUint64(f[0x0f:], q.Memory)
		}
		binary.LittleEndian.PutUint16(f[0x0b:], 0xfffe)
		binary.LittleEndian.PutUint16(f[0x0d:], uint16(dimms))
	}))
	for i := uint64(0); i < dimms; i++ {
		size := dimm
		if i == dimms-1 {
			size = (q.Memory-1)%dimm + 1
		}
		ss = append(ss, newSMBIOSStructure(smbiosTypeMemDevice, smbiosType17Len, qemuHandleType17+uint16(i), []string{"DIMM " + strconv.FormatUint(i, 10), vendor}, func(f []byte) {
			binary.LittleEndian.PutUint16(f[0x04:], qemuHandleType16)
			binary.LittleEndian.PutUint16(f[0x06:], 0xfffe)
			binary.LittleEndian.PutUint16(f[0x08:], 0xffff)
			binary.LittleEndian.PutUint16(f[0x0a:], 0xffff)
			mb := (size + 1<<20 - 1) >> 20
			if mb < 0x7fff {
				binary.LittleEndian.PutUint16(f[0x0c:], uint16(mb))
			} else {
				binary.LittleEndian.PutUint16(f[0x0c:], 0x7fff)
				binary.LittleEndian.PutUint32(f[0x1c:], uint32(mb))
			}
			f[0x0e], f[0x10], f[0x12] = 0x09, 1, 0x07 // DIMM, locator, RAM
			binary.LittleEndian.PutUint16(f[0x13:], 0x0002)
			f[0x17] = 2 // manufacturer
		}))
	}
	offset := uint64(0)
	if dimms > qemuHandleType19-qemuHandleType17 {
		offset = dimms - (qemuHandleType19 - qemuHandleType17)
	}
	for i, r := range Q35RAM(q.Memory) {
		ss = append(ss, newSMBIOSStructure(smbiosTypeMemMapped, smbiosType19Len, uint16(qemuHandleType19+offset+uint64(i)), nil, func(f []byte) {
			end := r.Start + r.Length - 1
			if sk, ek := r.Start>>10, end>>10; sk < 0xffffffff && ek < 0xffffffff {
				binary.LittleEndian.PutUint32(f[0x04:], uint32(sk))
				binary.LittleEndian.PutUint32(f[0x08:], uint32(ek))
			} else {
				binary.LittleEndian.PutUint32(f[0x04:], 0xffffffff)
				binary.LittleEndian.PutUint32(f[0x08:], 0xffffffff)
				binary.LittleEndian.PutUint64(f[0x0f:], r.Start)
				binary.LittleEndian.PutUint64(f[0x17:], end)
			}
			binary.LittleEndian.PutUint16(f[0x0c:], qemuHandleType16)
			f[0x0e] = 1 // partition width
		}))
	}
	ss = append(ss,
		newSMBIOSStructure(smbiosTypeBootInfo, smbiosType32Len, qemuHandleType32, nil, func([]byte) {}),
		newSMBIOSStructure(smbiosTypeEndOfTable, smbiosHeaderSize, qemuHandleType127, nil, func([]byte) {}))
	b := MarshalSMBIOSStructures(ss)
	if !q.entryPoint64() && len(b) > 0xffff {
		return nil, fmt.Errorf("SMBIOS tables of %d bytes do not fit an SMBIOS 2.8 entry point (machine type %s)", len(b), name)
	}
	return b, nil
}

// SMP is QEMU's vCPU topology (-smp cpus=N,sockets=S,cores=C,threads=T).
type SMP struct {
	CPUs, Sockets, Cores, Threads int
}

// DefaultSMP is QEMU's default topology, one vCPU.
var DefaultSMP = SMP{CPUs: 1, Sockets: 1, Cores: 1, Threads: 1}

// ParseSMP parses -smp as QEMU does for q35 machine types from 6.2 on
// (hw/core/machine-smp.c): "N" or "N,sockets=S,cores=C,threads=T" (also
// "cpus=N"); missing counts are filled preferring cores over sockets, so
// "-smp 4" is one socket of four cores. Dies, clusters, modules and maxcpus
// are not modelled.
func ParseSMP(s string) (SMP, error) {
	var v SMP
	for i, part := range strings.Split(strings.TrimSpace(s), ",") {
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			if i != 0 {
				return SMP{}, fmt.Errorf("-smp %q: %q, want key=value", s, part)
			}
			key, val = "cpus", part
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 4096 {
			return SMP{}, fmt.Errorf("-smp %q: %s=%q, want a number from 1 to 4096", s, key, val)
		}
		switch key {
		case "cpus":
			v.CPUs = n
		case "sockets":
			v.Sockets = n
		case "cores":
			v.Cores = n
		case "threads":
			v.Threads = n
		default:
			return SMP{}, fmt.Errorf("-smp %q: %q is not modelled (want cpus, sockets, cores, threads)", s, key)
		}
	}
	if v.Sockets == 0 {
		v.Sockets = 1
	}
	if v.Threads == 0 {
		v.Threads = 1
	}
	if v.CPUs == 0 {
		c := max(v.Cores, 1)
		v.CPUs = v.Sockets * c * v.Threads
	}
	if v.Cores == 0 {
		v.Cores = v.CPUs / (v.Sockets * v.Threads)
	}
	if err := v.check(); err != nil {
		return SMP{}, fmt.Errorf("-smp %q: %w", s, err)
	}
	return v, nil
}

func (v SMP) check() error {
	if v.CPUs < 1 || v.Sockets < 1 || v.Cores < 1 || v.Threads < 1 || v.CPUs > 4096 {
		return fmt.Errorf("vCPU topology %s is incomplete", v)
	}
	if v.Sockets*v.Cores*v.Threads != v.CPUs {
		return fmt.Errorf("vCPU topology %s: sockets*cores*threads is %d, want cpus", v, v.Sockets*v.Cores*v.Threads)
	}
	return nil
}

// perSocket returns QEMU's cores and threads per socket
// (machine_topo_get_cores_per_socket, _threads_per_socket).
func (v SMP) perSocket() (cores, threads int) { return v.Cores, v.Cores * v.Threads }

func (v SMP) String() string {
	return fmt.Sprintf("%d,sockets=%d,cores=%d,threads=%d", v.CPUs, v.Sockets, v.Cores, v.Threads)
}

// ParseProcessorID parses an SMBIOS type 4 Processor ID as dmidecode
// prints it ("ID: F8 06 08 00 FF FB EB BF", the 8 bytes in table order)
// with or without spaces: CPUID leaf 1 EAX, then EDX, little-endian.
func ParseProcessorID(s string) (uint64, error) {
	t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "ID:"))
	t = strings.ReplaceAll(t, " ", "")
	if len(t) != 16 {
		return 0, fmt.Errorf("processor ID %q: want 8 bytes in hex as dmidecode -t 4 prints them (\"F8 06 08 00 FF FB EB BF\")", s)
	}
	var b [8]byte
	for i := range b {
		v, err := strconv.ParseUint(t[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("processor ID %q: %q is not a hex byte", s, t[2*i:2*i+2])
		}
		b[i] = byte(v)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// SMBIOSFirmware holds the strings OVMF's SmbiosPlatformDxe puts into the
// type 0 (BIOS information) structure it adds when QEMU provides none:
// PcdFirmwareVendor, PcdFirmwareVersionString and
// PcdFirmwareReleaseDateString, each replaced by "unknown" (the date by
// "02/02/2022") when shorter than 3 characters.
type SMBIOSFirmware struct {
	Vendor, Version, Date string
}

func (f SMBIOSFirmware) type0() SMBIOSStructure {
	or := func(s, def string) string {
		if len(s) < 3 {
			return def
		}
		return s
	}
	// SmbiosDxe gives a structure added with SMBIOS_HANDLE_PI_RESERVED the
	// lowest free handle; QEMU's structures start at 0x100, so it is 0.
	return newSMBIOSStructure(smbiosTypeBIOS, smbiosType0Len, 0, []string{or(f.Vendor, "unknown"), or(f.Version, "unknown"), or(f.Date, "02/02/2022")}, func(b []byte) {
		b[0x04], b[0x05] = 1, 2
		binary.LittleEndian.PutUint16(b[0x06:], 0xe800)
		b[0x08] = 3
		binary.LittleEndian.PutUint64(b[0x0a:], 0x08) // characteristics not supported
		b[0x13] = 0x1c                                // VM, UEFI, target content distribution
		b[0x16], b[0x17] = 0xff, 0xff                 // no embedded controller
	})
}

// OVMFSMBIOSTable returns the SMBIOS structure table OVMF publishes from
// QEMU's etc/smbios/smbios-tables: SmbiosPlatformDxe adds each structure
// up to QEMU's end-of-table with its handle, then its own type 0 when QEMU
// gave none; SmbiosDxe lists them in that order and appends an
// end-of-table structure with handle 0xFEFF.
func OVMFSMBIOSTable(qemuTables []byte, fw SMBIOSFirmware) ([]byte, error) {
	ss, err := ParseSMBIOSStructures(qemuTables)
	if err != nil {
		return nil, err
	}
	ss = ss[:len(ss)-1] // QEMU's end-of-table
	seen := map[uint16]bool{}
	hasType0 := false
	for _, s := range ss {
		if seen[s.Handle()] {
			return nil, fmt.Errorf("%w: handle %#x used twice, which SmbiosDxe refuses", ErrMalformedSMBIOS, s.Handle())
		}
		seen[s.Handle()] = true
		hasType0 = hasType0 || s.Type() == smbiosTypeBIOS
	}
	if !hasType0 {
		if seen[0] {
			return nil, fmt.Errorf("%w: handle 0 is taken, so the handle of OVMF's type 0 structure is not modelled", ErrMalformedSMBIOS)
		}
		ss = append(ss, fw.type0())
	}
	ss = append(ss, newSMBIOSStructure(smbiosTypeEndOfTable, smbiosHeaderSize, ovmfEndOfTableHandle, nil, func([]byte) {}))
	return MarshalSMBIOSStructures(ss), nil
}

// smbiosFilterField is one entry of SmbiosMeasurementDxe's filter: a field
// zeroed before hashing; a string field's string is first overwritten with
// spaces.
type smbiosFilterField struct {
	offset, size int
	str          bool
}

// smbiosFilter is SmbiosMeasurementDxe's mSmbiosFilterStandardTableBlackList
// (MdeModulePkg/Universal/SmbiosMeasurementDxe, edk2-stable202505 to
// 202605) with the SMBIOS_TABLE_TYPEn offsets of MdePkg SmBios.h. A nil
// list zeroes everything after the header. Types 22, 23, 27 and 39, which
// QEMU does not build, are left out: a table with them is refused.
var smbiosFilter = map[uint8][]smbiosFilterField{
	smbiosTypeSystem:    {{0x07, 1, true}, {0x08, 16, false}, {0x18, 1, false}},
	smbiosTypeBaseboard: {{0x07, 1, true}, {0x0a, 1, true}},
	smbiosTypeChassis:   {{0x07, 1, true}, {0x08, 1, true}},
	smbiosTypeProcessor: {{0x20, 1, true}, {0x21, 1, true}, {0x22, 1, true}, {0x23, 1, false}, {0x24, 1, false}, {0x25, 1, false},
		{0x2a, 2, false}, {0x2c, 2, false}, {0x2e, 2, false}, {0x11, 1, false}, {0x16, 2, false}},
	11:                  nil,
	15:                  nil,
	smbiosTypeMemDevice: {{0x18, 1, true}, {0x19, 1, true}, {0x1a, 1, true}},
	18:                  nil,
	31:                  nil,
	33:                  nil,
}

// FilterSMBIOSTable applies SmbiosMeasurementDxe's FilterSmbiosTable to a
// copy of table: per type, the serial numbers, UUIDs, asset tags, core
// counts, speeds and voltages are zeroed (strings overwritten with spaces);
// OEM types (128 and up) and types 11, 15, 18, 31, 33 are zeroed after
// their header.
func FilterSMBIOSTable(table []byte) ([]byte, error) {
	ss, err := ParseSMBIOSStructures(table)
	if err != nil {
		return nil, err
	}
	out := make([]SMBIOSStructure, len(ss))
	for i, s := range ss {
		f := bytes.Clone(s.Formatted)
		str := bytes.Clone(s.StringSet)
		fields, listed := smbiosFilter[s.Type()]
		switch {
		case s.Type() >= smbiosTypeOEMFirst || listed && fields == nil:
			clear(f[smbiosHeaderSize:])
			clear(str)
		case !listed && (s.Type() == 22 || s.Type() == 23 || s.Type() == 27 || s.Type() == 39):
			return nil, fmt.Errorf("SMBIOS structure %d (type %d): its measurement filter is not modelled", i, s.Type())
		}
		for _, fl := range fields {
			if len(f) < fl.offset+fl.size {
				continue
			}
			if fl.str && f[fl.offset] != 0 {
				idx := int(f[fl.offset])
				parts := bytes.Split(str, []byte{0})
				if idx > len(parts) {
					return nil, fmt.Errorf("%w: structure %d (type %d): string %d of %d", ErrMalformedSMBIOS, i, s.Type(), idx, len(parts))
				}
				for j := range parts[idx-1] {
					parts[idx-1][j] = ' '
				}
			}
			clear(f[fl.offset : fl.offset+fl.size])
		}
		out[i] = SMBIOSStructure{Formatted: f, StringSet: str}
	}
	return MarshalSMBIOSStructures(out), nil
}

// SMBIOSDigest is the digest of OVMF's SMBIOS event (SmbiosMeasurementDxe,
// EV_EFI_HANDOFF_TABLES into RTMR0 at ReadyToBoot): SHA-384 of the
// filtered structure table, end-of-table structure included.
func SMBIOSDigest(table []byte) (Digest, error) {
	f, err := FilterSMBIOSTable(table)
	if err != nil {
		return Digest{}, err
	}
	return sha384(f), nil
}
