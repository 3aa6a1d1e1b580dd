package tdx

import (
	"crypto/sha512"
	"encoding/binary"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
)

// EventKind names an event of the predicted event log.
type EventKind string

// Event kinds, in the order they first appear in a QEMU direct boot.
const (
	EventTDHOB        EventKind = "td-hob"        // RTMR0: the TD HOB QEMU wrote
	EventCFV          EventKind = "cfv"           // RTMR0: the configuration firmware volume (variable store)
	EventEFIVariable  EventKind = "efi-variable"  // RTMR0: SecureBoot, PK, KEK, db, dbx
	EventSeparator    EventKind = "separator"     // RTMR0, RTMR1: EV_SEPARATOR
	EventACPILoader   EventKind = "acpi-loader"   // RTMR0: QEMU's etc/table-loader
	EventACPIRSDP     EventKind = "acpi-rsdp"     // RTMR0: etc/acpi/rsdp
	EventACPITables   EventKind = "acpi-tables"   // RTMR0: etc/acpi/tables (and other loader blobs)
	EventBootVariable EventKind = "boot-variable" // RTMR0: BootOrder, Boot####
	EventFwCfg        EventKind = "fw-cfg"        // RTMR0: QEMU fw_cfg items (edk2-stable202505 and later)
	EventSMBIOS       EventKind = "smbios"        // RTMR0: the SMBIOS table (edk2-stable202505 and later)
	EventKernel       EventKind = "kernel"        // RTMR1: Authenticode digest of the kernel
	EventEFIAction    EventKind = "efi-action"    // RTMR1: EV_EFI_ACTION strings
	EventCmdline      EventKind = "cmdline"       // RTMR2: LoadOptions, measured by the EFI stub
	EventInitrd       EventKind = "initrd"        // RTMR2: the initrd, measured by the EFI stub
)

// Event is one predicted entry of the TD's event log (the CCEL table): the
// RTMR it extends (0 to 3), its kind, the digest extended and a description.
type Event struct {
	RTMR        int       `json:"rtmr"`
	Kind        EventKind `json:"kind"`
	Digest      Digest    `json:"digest"`
	Description string    `json:"description"`
}

// Extend returns RTMR' = SHA-384(RTMR || digest) (TDG.MR.RTMR.EXTEND).
func Extend(rtmr, digest Digest) Digest {
	var buf [2 * len(Digest{})]byte
	copy(buf[:], rtmr[:])
	copy(buf[len(rtmr):], digest[:])
	return sha512.Sum384(buf[:])
}

// Replay extends zeroed RTMRs with the events in order.
func Replay(events []Event) [4]Digest {
	var r [4]Digest
	for _, e := range events {
		if e.RTMR >= 0 && e.RTMR < len(r) {
			r[e.RTMR] = Extend(r[e.RTMR], e.Digest)
		}
	}
	return r
}

// Strings OVMF measures as EV_EFI_ACTION and the separator's data
// (MdePkg/Include/IndustryStandard/UefiTcgPlatform.h; TdTcg2Dxe.c).
const (
	actionCallingEFIApplication = "Calling EFI Application from Boot Option"
	actionExitBootServices      = "Exit Boot Services Invocation"
	actionExitBootServicesOK    = "Exit Boot Services Returned with Success"
)

func sha384(b []byte) Digest { return sha512.Sum384(b) }

// separatorDigest is the digest of EV_SEPARATOR: four zero bytes.
func separatorDigest() Digest { return sha384([]byte{0, 0, 0, 0}) }

// ucs2 encodes s as OVMF's UnicodeSPrintAsciiFormat does for %a: each byte
// becomes one UTF-16 code unit. It does not add a terminator.
func ucs2Bytes(s string) []byte {
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, s[i], 0)
	}
	return out
}

// utf16le encodes s as UTF-16LE without a terminator.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(out[2*i:], c)
	}
	return out
}

// UEFIVariableData is UEFI_VARIABLE_DATA (TCG PC Client Platform Firmware
// Profile, section 10.2.6) without its variable-length tail: the event data
// of EV_EFI_VARIABLE_DRIVER_CONFIG, whose digest covers the whole structure.
type UEFIVariableData struct {
	VariableName       ovmf.GUID
	UnicodeNameLength  uint64 // in CHAR16s, no terminator
	VariableDataLength uint64
	// UnicodeName and VariableData follow.
}

// variableDriverConfigDigest is the digest TdTcg2Dxe extends for a secure
// boot policy variable: SHA-384 of UEFI_VARIABLE_DATA with the name and data.
func variableDriverConfigDigest(vendor ovmf.GUID, name string, data []byte) Digest {
	n := utf16le(name)
	hdr := UEFIVariableData{VariableName: vendor, UnicodeNameLength: uint64(len(n) / 2), VariableDataLength: uint64(len(data))}
	b, _ := binary.Append(nil, binary.LittleEndian, &hdr)
	b = append(b, n...)
	return sha384(append(b, data...))
}
