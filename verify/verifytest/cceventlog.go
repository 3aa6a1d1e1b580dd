package verifytest

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// CCEvent has the fields of verify.CCEvent, in its order, so that a caller
// converts it with verify.CCEvent(e) (this package cannot import verify).
type CCEvent struct {
	Index   int
	MRIndex uint32
	Type    uint32
	Digest  tdx.Digest
	Data    []byte
}

// Event types and the GUIDs of the records PredictedCCEvents writes (TCG PC
// Client PFP; edk2 OvmfPkg, MdePkg; Linux drivers/firmware/efi/libstub).
const (
	evSeparator                = 0x4
	evEventTag                 = 0x6
	evPlatformConfigFlags      = 0xa
	evEFIVariableDriverConfig  = 0x80000001
	evEFIVariableBoot          = 0x80000002
	evEFIBootServicesApp       = 0x80000003
	evEFIAction                = 0x80000007
	evEFIPlatformFirmwareBlob2 = 0x8000000a
	evEFIHandoffTables2        = 0x8000000b
	initrdEventTagID           = 0x8f3b22ec
	loadOptionsEventTagID      = 0x8f3b22ed
)

var (
	globalVariableGUID    = ovmf.MustParseGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	imageSecurityDBGUID   = ovmf.MustParseGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	tdHOBTableGUID        = ovmf.MustParseGUID("93bb96af-b9f2-4eb8-9462-e0ba74564236")
	kernelLoaderMediaGUID = ovmf.MustParseGUID("1428f772-b64a-441e-b8c3-9ebdd7f893c7")
)

// PredictedCCEvents writes the events of a prediction as OVMF's TdTcg2Dxe,
// its SEC and the Linux EFI stub log them into the CCEL, with their data
// as those write it: the TD HOB as EV_EFI_HANDOFF_TABLES2 "TdxTable", the
// CFV as EV_EFI_PLATFORM_FIRMWARE_BLOB2, the secure boot variables as
// UEFI_VARIABLE_DATA (the value only when absent, the only case the
// description gives it), the separator's four zero bytes, "ACPI DATA", the
// boot variables BootOrder and the UiApp Boot0000 the description names,
// the kernel's UEFI_IMAGE_LOAD_EVENT, EFI action strings, and the EFI
// stub's tagged events. Events of other kinds are written as
// EV_EVENT_TAG with their description. Digests are the predicted ones.
func PredictedCCEvents(events []tdx.Event) []CCEvent {
	out := make([]CCEvent, 0, len(events))
	for i, e := range events {
		c := CCEvent{Index: i + 1, MRIndex: uint32(e.RTMR + 1), Digest: e.Digest}
		c.Type, c.Data = recordOf(e)
		out = append(out, c)
	}
	return out
}

var (
	hexNumber = regexp.MustCompile(`0x[0-9a-f]+`)
	guidText  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

func recordOf(e tdx.Event) (uint32, []byte) {
	nums := hexNumber.FindAllString(e.Description, -1)
	num := func(i int) uint64 {
		var v uint64
		if i < len(nums) {
			fmt.Sscanf(nums[i], "0x%x", &v)
		}
		return v
	}
	switch e.Kind {
	case tdx.EventTDHOB:
		d := append([]byte{9}, "TdxTable\x00"...)
		d = binary.LittleEndian.AppendUint64(d, 1)
		d = append(d, tdHOBTableGUID[:]...)
		return evEFIHandoffTables2, binary.LittleEndian.AppendUint64(d, num(0))
	case tdx.EventCFV:
		desc := "Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)\x00"
		d := append([]byte{byte(len(desc))}, desc...)
		d = binary.LittleEndian.AppendUint64(d, 0xffc00000)
		return evEFIPlatformFirmwareBlob2, binary.LittleEndian.AppendUint64(d, num(1))
	case tdx.EventEFIVariable:
		name, _, _ := strings.Cut(e.Description, " ")
		vendor := globalVariableGUID
		if name == "db" || name == "dbx" || name == "dbt" {
			vendor = imageSecurityDBGUID
		}
		return evEFIVariableDriverConfig, variableData(vendor, name, nil)
	case tdx.EventSeparator:
		return evSeparator, []byte{0, 0, 0, 0}
	case tdx.EventACPILoader, tdx.EventACPIRSDP, tdx.EventACPITables:
		return evPlatformConfigFlags, []byte("ACPI DATA")
	case tdx.EventBootVariable:
		name, rest, _ := strings.Cut(e.Description, ": ")
		if name == "BootOrder" {
			var v []byte
			for _, o := range strings.Split(rest, ",") {
				var n uint16
				fmt.Sscanf(o, "%x", &n)
				v = binary.LittleEndian.AppendUint16(v, n)
			}
			return evEFIVariableBoot, variableData(globalVariableGUID, name, v)
		}
		desc, _, _ := strings.Cut(rest, " ")
		var path []byte
		for i, g := range guidText.FindAllString(rest, 2) {
			sub := byte(7 - i) // Fv, then FvFile
			path = append(path, 4, sub, 20, 0)
			guid := ovmf.MustParseGUID(g)
			path = append(path, guid[:]...)
		}
		path = append(path, 0x7f, 0xff, 4, 0)
		opt := binary.LittleEndian.AppendUint32(nil, 0x109) // active, hidden, category app
		opt = binary.LittleEndian.AppendUint16(opt, uint16(len(path)))
		opt = append(opt, utf16le(desc+"\x00")...)
		return evEFIVariableBoot, variableData(globalVariableGUID, name, append(opt, path...))
	case tdx.EventKernel:
		path := append([]byte{4, 3, 20, 0}, kernelLoaderMediaGUID[:]...)
		file := utf16le("kernel\x00")
		path = append(path, 4, 4, byte(4+len(file)), 0)
		path = append(path, file...)
		path = append(path, 0x7f, 0xff, 4, 0)
		d := make([]byte, 32, 32+len(path))
		binary.LittleEndian.PutUint64(d[24:], uint64(len(path)))
		return evEFIBootServicesApp, append(d, path...)
	case tdx.EventEFIAction:
		return evEFIAction, []byte(e.Description)
	case tdx.EventCmdline:
		return evEventTag, taggedEvent(loadOptionsEventTagID, "LOADED_IMAGE::LoadOptions\x00")
	case tdx.EventInitrd:
		return evEventTag, taggedEvent(initrdEventTagID, "Linux initrd\x00")
	}
	return evEventTag, taggedEvent(0, e.Description)
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// variableData is UEFI_VARIABLE_DATA.
func variableData(vendor ovmf.GUID, name string, data []byte) []byte {
	n := utf16le(name)
	b := append([]byte(nil), vendor[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(n)/2))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	return append(append(b, n...), data...)
}

// taggedEvent is TCG_PCClientTaggedEvent.
func taggedEvent(id uint32, data string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}
