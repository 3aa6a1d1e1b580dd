// Package acpiloader reads QEMU's ACPI linker/loader script, the fw_cfg
// file "etc/table-loader" (hw/acpi/bios-linker-loader.c) that tells the
// firmware which fw_cfg blobs to download (ALLOCATE) and how to patch them.
// OVMF measures the script and each allocated blob into a TDX guest's RTMR0,
// in command order.
//
// It reads the ALLOCATE commands only; it does not link or patch tables.
// Standard library only.
package acpiloader

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Layout of the script (hw/acpi/bios-linker-loader.c, BiosLinkerLoaderEntry).
const (
	// EntrySize is the size of every command.
	EntrySize = 128
	// FileNameSize is BIOS_LINKER_LOADER_FILESZ (QEMU_FW_CFG_FNAME_SIZE).
	FileNameSize = 56

	// CommandAllocate is BIOS_LINKER_LOADER_COMMAND_ALLOCATE.
	CommandAllocate = 1
	// CommandAddPointer and CommandAddChecksum patch allocated blobs.
	CommandAddPointer  = 2
	CommandAddChecksum = 3

	// ZoneHigh and ZoneFSeg are where an ALLOCATE puts its blob.
	ZoneHigh = 1
	ZoneFSeg = 2

	// Loader is the fw_cfg name of the script itself; RSDP and Tables are
	// the blobs QEMU's ACPI build allocates.
	Loader = "etc/table-loader"
	RSDP   = "etc/acpi/rsdp"
	Tables = "etc/acpi/tables"
)

// Allocate is the ALLOCATE command: one EntrySize entry that names a fw_cfg
// file for the firmware to download.
type Allocate struct {
	Command uint32
	File    [FileNameSize]byte // NUL-padded fw_cfg name
	Align   uint32
	Zone    uint8
	_       [EntrySize - 4 - FileNameSize - 4 - 1]byte
}

// Allocation is one ALLOCATE of a script: the blob's fw_cfg name and where
// the command sits in the script.
type Allocation struct {
	Offset int // of the entry in the script
	File   string
	Align  uint32
	Zone   uint8
}

// Allocations returns the ALLOCATE commands of a script in command order.
// Each names a different file.
func Allocations(loader []byte) ([]Allocation, error) {
	if len(loader) == 0 || len(loader)%EntrySize != 0 {
		return nil, fmt.Errorf("ACPI table loader: %d bytes, want a non-zero multiple of %d", len(loader), EntrySize)
	}
	var out []Allocation
	seen := map[string]bool{}
	for off := 0; off < len(loader); off += EntrySize {
		var e Allocate
		if _, err := binary.Decode(loader[off:off+EntrySize], binary.LittleEndian, &e); err != nil {
			return nil, err
		}
		if e.Command != CommandAllocate {
			continue
		}
		i := bytes.IndexByte(e.File[:], 0)
		if i < 0 {
			return nil, fmt.Errorf("ACPI table loader entry at %#x: file name is not NUL-terminated", off)
		}
		name := string(e.File[:i])
		if seen[name] {
			return nil, fmt.Errorf("ACPI table loader entry at %#x: %q allocated twice", off, name)
		}
		seen[name] = true
		out = append(out, Allocation{Offset: off, File: name, Align: e.Align, Zone: e.Zone})
	}
	return out, nil
}

// Marshal is the inverse of Allocations: a script of ALLOCATE commands.
func Marshal(allocs []Allocation) ([]byte, error) {
	out := make([]byte, 0, len(allocs)*EntrySize)
	for _, a := range allocs {
		if len(a.File) >= FileNameSize || bytes.IndexByte([]byte(a.File), 0) >= 0 {
			return nil, fmt.Errorf("ACPI table loader: file name %q: want fewer than %d bytes and no NUL", a.File, FileNameSize)
		}
		e := Allocate{Command: CommandAllocate, Align: a.Align, Zone: a.Zone}
		copy(e.File[:], a.File)
		out, _ = binary.Append(out, binary.LittleEndian, &e) // fixed size: cannot fail
	}
	return out, nil
}
