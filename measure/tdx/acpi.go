package tdx

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ACPITables are the fw_cfg files QEMU generates for the firmware's ACPI
// tables, as dumped from the VMM or a running guest
// (/sys/firmware/qemu_fw_cfg/by_name/etc/...): the linker/loader script and
// the blobs it allocates.
type ACPITables struct {
	// Loader is "etc/table-loader".
	Loader []byte
	// Files maps fw_cfg names ("etc/acpi/rsdp", "etc/acpi/tables") to
	// their contents.
	Files map[string][]byte
}

// BiosLinkerLoaderAllocate is the ALLOCATE command of QEMU's linker/loader
// script (hw/acpi/bios-linker-loader.c, BiosLinkerLoaderEntry): one 128-byte
// entry that names a fw_cfg file for the firmware to download.
type BiosLinkerLoaderAllocate struct {
	Command uint32
	File    [LoaderFileNameSize]byte // NUL-padded fw_cfg name
	Align   uint32
	Zone    uint8
	_       [LoaderEntrySize - 4 - LoaderFileNameSize - 4 - 1]byte
}

// Linker/loader layout (hw/acpi/bios-linker-loader.c).
const (
	// LoaderEntrySize is the size of every linker/loader command.
	LoaderEntrySize = 128
	// LoaderFileNameSize is BIOS_LINKER_LOADER_FILESZ (QEMU_FW_CFG_FNAME_SIZE).
	LoaderFileNameSize = 56
	loaderCmdAllocate  = 1

	fwCfgRSDP   = "etc/acpi/rsdp"
	fwCfgTables = "etc/acpi/tables"
)

// acpiEvents returns the RTMR0 events OVMF's AcpiPlatformLib
// (QemuFwCfgAcpi.c) records: the loader script as downloaded, then each blob
// it allocates, in command order, before any pointer is patched.
func acpiEvents(t *ACPITables) ([]Event, error) {
	if len(t.Loader) == 0 || len(t.Loader)%LoaderEntrySize != 0 {
		return nil, fmt.Errorf("ACPI table loader: %d bytes, want a non-zero multiple of %d", len(t.Loader), LoaderEntrySize)
	}
	events := []Event{{RTMR: 0, Kind: EventACPILoader, Digest: sha384(t.Loader), Description: "ACPI DATA: etc/table-loader (QEMU linker/loader script)"}}
	seen := map[string]bool{}
	for off := 0; off < len(t.Loader); off += LoaderEntrySize {
		var e BiosLinkerLoaderAllocate
		if _, err := binary.Decode(t.Loader[off:off+LoaderEntrySize], binary.LittleEndian, &e); err != nil {
			return nil, err
		}
		if e.Command != loaderCmdAllocate {
			continue
		}
		name := string(e.File[:])
		if i := bytes.IndexByte(e.File[:], 0); i >= 0 {
			name = name[:i]
		} else {
			return nil, fmt.Errorf("ACPI table loader entry at %#x: file name is not NUL-terminated", off)
		}
		if seen[name] {
			return nil, fmt.Errorf("ACPI table loader entry at %#x: %q allocated twice", off, name)
		}
		seen[name] = true
		blob, ok := t.Files[name]
		if !ok {
			return nil, fmt.Errorf("ACPI table loader entry at %#x allocates %q, which is not among the ACPI files given", off, name)
		}
		kind := EventACPITables
		if name == fwCfgRSDP {
			kind = EventACPIRSDP
		}
		events = append(events, Event{RTMR: 0, Kind: kind, Digest: sha384(blob), Description: "ACPI DATA: " + name})
	}
	return events, nil
}

// LoaderFiles returns the fw_cfg files a linker/loader script allocates, in
// command order: the files an ACPITables needs besides the loader.
func LoaderFiles(loader []byte) ([]string, error) {
	if len(loader) == 0 || len(loader)%LoaderEntrySize != 0 {
		return nil, fmt.Errorf("ACPI table loader: %d bytes, want a non-zero multiple of %d", len(loader), LoaderEntrySize)
	}
	var names []string
	for off := 0; off < len(loader); off += LoaderEntrySize {
		e := loader[off : off+LoaderEntrySize]
		if binary.LittleEndian.Uint32(e) != loaderCmdAllocate {
			continue
		}
		name := e[4 : 4+LoaderFileNameSize]
		i := bytes.IndexByte(name, 0)
		if i < 0 {
			return nil, fmt.Errorf("ACPI table loader entry at %#x: file name is not NUL-terminated", off)
		}
		names = append(names, string(name[:i]))
	}
	return names, nil
}
