package tdx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/measure-cc/measure/measure/acpiloader"
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

// MaxACPIFileSize bounds each file LoadACPITables reads: QEMU's tables are
// a few hundred KiB.
const MaxACPIFileSize = 16 << 20

// LoadACPITables reads the loader script and the files it allocates from
// fsys, each by its fw_cfg name (etc/acpi/tables) or, when that is absent,
// by its base name (tables): the layout of a copy of
// /sys/firmware/qemu_fw_cfg/by_name or of a flat dump directory.
func LoadACPITables(fsys fs.FS) (*ACPITables, error) {
	loader, err := readFwCfg(fsys, acpiloader.Loader)
	if err != nil {
		return nil, err
	}
	allocs, err := acpiloader.Allocations(loader)
	if err != nil {
		return nil, err
	}
	t := &ACPITables{Loader: loader, Files: make(map[string][]byte, len(allocs))}
	for _, a := range allocs {
		if t.Files[a.File], err = readFwCfg(fsys, a.File); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// readFwCfg reads the fw_cfg file name from fsys by its full name or its
// base name, at most MaxACPIFileSize bytes.
func readFwCfg(fsys fs.FS, name string) ([]byte, error) {
	var firstErr error
	for _, p := range []string{name, path.Base(name)} {
		if !fs.ValidPath(p) {
			continue
		}
		b, err := readBounded(fsys, p)
		switch {
		case err == nil:
			return b, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: %w", name, err)
		case firstErr == nil:
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fs.ErrInvalid
	}
	return nil, fmt.Errorf("%s: %w", name, firstErr)
}

func readBounded(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxACPIFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxACPIFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxACPIFileSize)
	}
	return b, nil
}

// acpiEvents returns the RTMR0 events OVMF's AcpiPlatformLib
// (QemuFwCfgAcpi.c) records: the loader script as downloaded, then each blob
// it allocates, in command order, before any pointer is patched.
func acpiEvents(t *ACPITables) ([]Event, error) {
	allocs, err := acpiloader.Allocations(t.Loader)
	if err != nil {
		return nil, err
	}
	events := []Event{{RTMR: 0, Kind: EventACPILoader, Digest: sha384(t.Loader), Description: "ACPI DATA: etc/table-loader (QEMU linker/loader script)"}}
	for _, a := range allocs {
		blob, ok := t.Files[a.File]
		if !ok {
			return nil, fmt.Errorf("ACPI table loader entry at %#x allocates %q, which is not among the ACPI files given", a.Offset, a.File)
		}
		kind := EventACPITables
		if a.File == acpiloader.RSDP {
			kind = EventACPIRSDP
		}
		events = append(events, Event{RTMR: 0, Kind: kind, Digest: sha384(blob), Description: "ACPI DATA: " + a.File})
	}
	return events, nil
}
