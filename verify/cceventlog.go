package verify

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"

	"github.com/measure-cc/measure/measure/tdx"
)

// The CC event log of a TD (what the guest reads from
// /sys/firmware/acpi/tables/data/CCEL, the log area the CCEL ACPI table
// points to; ACPI 6.5 section 5.2.34, UEFI 2.10 section 38) is a TCG2
// crypto-agile event log (TCG PC Client Platform Firmware Profile, section
// 10): one TCG_PCR_EVENT in the SHA-1 format whose data is the Spec ID
// Event03, then TCG_PCR_EVENT2 records, each with a digest list; the rest
// of the log area is 0xFF bytes. The record's "PCR index" is the CC
// measurement register index (UEFI 2.10 section 38.4.1; edk2
// OvmfPkg/Tcg/TdTcg2Dxe, CC_MR_INDEX_*; go-eventlog register.RTMR.Idx):
// 0 is MRTD, which nothing extends after launch, and 1 to 4 are RTMR0 to
// RTMR3.
//
// google/go-eventlog reads the records (tcg.ParseEventLog); this file bounds
// what it is given, checks what a TDX log must be (a Spec ID header, a
// 48-byte SHA-384 digest in every record, MR indices 0 to 4), and writes
// the inverse (MarshalCCEventLog) for synthetic logs.

// Limits of ParseCCEventLog. The log area of OVMF is 64 KiB
// (PcdTcgLogAreaMinLen), GCE's 256 KiB, with some 20 to 50 records;
// MaxCCEventLogSize leaves sixteen times that. MaxCCEvents, counted before
// go-eventlog reads the log, bounds what it allocates (a few MiB).
const (
	MaxCCEventLogSize = 4 << 20
	MaxCCEvents       = 1 << 14
)

// TCG event types (TCG PC Client Platform Firmware Profile, section 10.4.1,
// table 9; UEFI events from EV_EFI_EVENT_BASE).
const (
	EvPrebootCert              uint32 = 0x0
	EvPostCode                 uint32 = 0x1
	EvNoAction                 uint32 = 0x3
	EvSeparator                uint32 = 0x4
	EvAction                   uint32 = 0x5
	EvEventTag                 uint32 = 0x6
	EvSCRTMContents            uint32 = 0x7
	EvSCRTMVersion             uint32 = 0x8
	EvCPUMicrocode             uint32 = 0x9
	EvPlatformConfigFlags      uint32 = 0xa
	EvTableOfDevices           uint32 = 0xb
	EvCompactHash              uint32 = 0xc
	EvIPL                      uint32 = 0xd
	EvIPLPartitionData         uint32 = 0xe
	EvNonhostCode              uint32 = 0xf
	EvNonhostConfig            uint32 = 0x10
	EvNonhostInfo              uint32 = 0x11
	EvOmitBootDeviceEvents     uint32 = 0x12
	EvEFIVariableDriverConfig  uint32 = 0x80000001
	EvEFIVariableBoot          uint32 = 0x80000002
	EvEFIBootServicesApp       uint32 = 0x80000003
	EvEFIBootServicesDriver    uint32 = 0x80000004
	EvEFIRuntimeServicesDriver uint32 = 0x80000005
	EvEFIGPTEvent              uint32 = 0x80000006
	EvEFIAction                uint32 = 0x80000007
	EvEFIPlatformFirmwareBlob  uint32 = 0x80000008
	EvEFIHandoffTables         uint32 = 0x80000009
	EvEFIPlatformFirmwareBlob2 uint32 = 0x8000000a
	EvEFIHandoffTables2        uint32 = 0x8000000b
	EvEFIVariableBoot2         uint32 = 0x8000000c
	EvEFIGPTEvent2             uint32 = 0x8000000d
	EvEFIHCRTMEvent            uint32 = 0x80000010
	EvEFIVariableAuthority     uint32 = 0x800000e0
	EvEFISPDMFirmwareBlob      uint32 = 0x800000e1
	EvEFISPDMFirmwareConfig    uint32 = 0x800000e2
)

var ccEventTypeNames = map[uint32]string{
	EvPrebootCert: "EV_PREBOOT_CERT", EvPostCode: "EV_POST_CODE", 0x2: "EV_UNUSED",
	EvNoAction: "EV_NO_ACTION", EvSeparator: "EV_SEPARATOR", EvAction: "EV_ACTION",
	EvEventTag: "EV_EVENT_TAG", EvSCRTMContents: "EV_S_CRTM_CONTENTS", EvSCRTMVersion: "EV_S_CRTM_VERSION",
	EvCPUMicrocode: "EV_CPU_MICROCODE", EvPlatformConfigFlags: "EV_PLATFORM_CONFIG_FLAGS",
	EvTableOfDevices: "EV_TABLE_OF_DEVICES", EvCompactHash: "EV_COMPACT_HASH", EvIPL: "EV_IPL",
	EvIPLPartitionData: "EV_IPL_PARTITION_DATA", EvNonhostCode: "EV_NONHOST_CODE",
	EvNonhostConfig: "EV_NONHOST_CONFIG", EvNonhostInfo: "EV_NONHOST_INFO",
	EvOmitBootDeviceEvents: "EV_OMIT_BOOT_DEVICE_EVENTS", 0x13: "EV_POST_CODE2",
	EvEFIVariableDriverConfig: "EV_EFI_VARIABLE_DRIVER_CONFIG", EvEFIVariableBoot: "EV_EFI_VARIABLE_BOOT",
	EvEFIBootServicesApp: "EV_EFI_BOOT_SERVICES_APPLICATION", EvEFIBootServicesDriver: "EV_EFI_BOOT_SERVICES_DRIVER",
	EvEFIRuntimeServicesDriver: "EV_EFI_RUNTIME_SERVICES_DRIVER", EvEFIGPTEvent: "EV_EFI_GPT_EVENT",
	EvEFIAction: "EV_EFI_ACTION", EvEFIPlatformFirmwareBlob: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
	EvEFIHandoffTables: "EV_EFI_HANDOFF_TABLES", EvEFIPlatformFirmwareBlob2: "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
	EvEFIHandoffTables2: "EV_EFI_HANDOFF_TABLES2", EvEFIVariableBoot2: "EV_EFI_VARIABLE_BOOT2",
	EvEFIGPTEvent2: "EV_EFI_GPT_EVENT2", EvEFIHCRTMEvent: "EV_EFI_HCRTM_EVENT",
	EvEFIVariableAuthority: "EV_EFI_VARIABLE_AUTHORITY", EvEFISPDMFirmwareBlob: "EV_EFI_SPDM_FIRMWARE_BLOB",
	EvEFISPDMFirmwareConfig: "EV_EFI_SPDM_FIRMWARE_CONFIG", 0x800000e3: "EV_EFI_SPDM_DEVICE_POLICY",
	0x800000e4: "EV_EFI_SPDM_DEVICE_AUTHORITY",
}

// CCEventTypeName names a TCG event type, "EV_0x..." when unknown.
func CCEventTypeName(t uint32) string {
	if n, ok := ccEventTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("EV_%#x", t)
}

// CC measurement register indices of the log's records.
const (
	ccMRIndexMRTD  = 0
	ccMRIndexRTMR0 = 1
	ccMRIndexMax   = 4 // RTMR3
)

// tpmAlgSHA384 is TPM_ALG_SHA384 (TCG Algorithm Registry).
const tpmAlgSHA384 = 0x000c

// specIDHeader is the TCG_PCR_EVENT that starts a crypto-agile log (TCG PC
// Client PFP, section 10.2.1) with the fixed part of its data,
// TCG_EfiSpecIDEvent (section 10.4.5.1); the algorithm list and vendor
// information follow.
type specIDHeader struct {
	PCRIndex         uint32
	EventType        uint32
	Digest           [20]byte
	EventSize        uint32
	Signature        [16]byte
	PlatformClass    uint32
	SpecVersionMinor uint8
	SpecVersionMajor uint8
	SpecErrata       uint8
	UintnSize        uint8
	NumberOfAlgs     uint32
}

// specIDSignature is TCG_EfiSpecIDEvent.signature of a crypto-agile log.
var specIDSignature = [16]byte{'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0}

// CCEvent is one TCG_PCR_EVENT2 record of a CC event log.
type CCEvent struct {
	// Index is the record's number in the log: 1 for the first record
	// after the Spec ID header (which is 0), as go-eventlog numbers them.
	Index int
	// MRIndex is the CC measurement register index as logged: 0 MRTD, 1
	// to 4 RTMR0 to RTMR3.
	MRIndex uint32
	// Type is the TCG event type (EvSeparator, EvEFIAction, ...).
	Type uint32
	// Digest is the record's SHA-384 digest, what the firmware extended.
	Digest tdx.Digest
	// Data is the event data, which describes the event and, for some
	// types, is what the digest was computed over.
	Data []byte
}

// RTMR is the RTMR the event extends (MRIndex-1), or -1 for MR index 0
// (MRTD), which is never extended by a logged event.
func (e *CCEvent) RTMR() int {
	if e.MRIndex < ccMRIndexRTMR0 || e.MRIndex > ccMRIndexMax {
		return -1
	}
	return int(e.MRIndex) - ccMRIndexRTMR0
}

// Extends reports whether the event extended an RTMR: not EV_NO_ACTION,
// which records information only, and not logged against MRTD.
func (e *CCEvent) Extends() bool { return e.Type != EvNoAction && e.RTMR() >= 0 }

// TypeName is the event type's TCG name.
func (e *CCEvent) TypeName() string { return CCEventTypeName(e.Type) }

// CCEventLog is a parsed CC event log: its records after the Spec ID header,
// in log order. Nothing in it is trusted until its replay equals RTMRs from
// a verified quote.
type CCEventLog struct {
	Events []CCEvent
}

// ParseCCEventLog parses a TDX CC event log: the log area as the guest
// reads it (trailing 0xFF padding allowed), at most MaxCCEventLogSize bytes
// and MaxCCEvents records, SHA-384 digests. Errors wrap ErrMalformed,
// ErrTruncated or ErrUnsupported.
func ParseCCEventLog(b []byte) (*CCEventLog, error) {
	if len(b) > MaxCCEventLogSize {
		return nil, fmt.Errorf("%w: CC event log of %d bytes, more than %d", ErrUnsupported, len(b), MaxCCEventLogSize)
	}
	algs, err := checkSpecIDHeader(b)
	if err != nil {
		return nil, err
	}
	if n := countRecords(b, algs); n > MaxCCEvents {
		return nil, fmt.Errorf("%w: CC event log with more than %d records", ErrUnsupported, MaxCCEvents)
	}
	var el *tcg.EventLog
	err = recoverPanic("go-eventlog", func() (err error) {
		el, err = tcg.ParseEventLog(b, tcg.ParseOpts{AllowPadding: true})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: CC event log: %v", ErrMalformed, err)
	}
	raw := el.Events(register.HashSHA384)
	out := &CCEventLog{Events: make([]CCEvent, 0, len(raw))}
	for i, r := range raw {
		e := CCEvent{Index: i + 1, Type: uint32(r.Type), Data: r.Data}
		if r.Index < 0 || r.Index > ccMRIndexMax {
			return nil, fmt.Errorf("%w: CC event log record %d (%s): MR index %d, want 0 (MRTD) to 4 (RTMR3)", ErrMalformed, e.Index, e.TypeName(), r.Index)
		}
		e.MRIndex = uint32(r.Index)
		switch {
		case len(r.Digest) == len(e.Digest):
			copy(e.Digest[:], r.Digest)
		case len(r.Digest) == 0 && e.Type == EvNoAction:
			// An informational record need not carry a SHA-384 digest.
		default:
			return nil, fmt.Errorf("%w: CC event log record %d (%s): SHA-384 digest of %d bytes, want %d", ErrMalformed, e.Index, e.TypeName(), len(r.Digest), len(e.Digest))
		}
		out.Events = append(out.Events, e)
	}
	return out, nil
}

// checkSpecIDHeader checks that b starts with the Spec ID Event03 header of
// a crypto-agile log that lists SHA-384 with its 48-byte size: a TPM 1.2
// (SHA-1) log, which go-eventlog also reads, is not a TDX log. It returns
// the digest size of each algorithm the header lists.
func checkSpecIDHeader(b []byte) (map[uint16]int, error) {
	var h specIDHeader
	hdrSize := binary.Size(h)
	if len(b) < hdrSize {
		return nil, fmt.Errorf("%w: CC event log of %d bytes, shorter than its %d-byte Spec ID header", ErrTruncated, len(b), hdrSize)
	}
	if _, err := binary.Decode(b, binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("%w: CC event log header: %v", ErrMalformed, err)
	}
	if h.EventType != EvNoAction || h.Signature != specIDSignature {
		return nil, fmt.Errorf("%w: CC event log does not start with a Spec ID Event03 header (event type %#x, signature %q): not a crypto-agile log", ErrMalformed, h.EventType, bytes.TrimRight(h.Signature[:], "\x00"))
	}
	const algSize = 4 // TCG_EfiSpecIdEventAlgorithmSize: algorithmId, digestSize
	if uint64(h.NumberOfAlgs) > uint64(len(b)-hdrSize)/algSize {
		return nil, fmt.Errorf("%w: CC event log Spec ID header lists %d algorithms, more than its %d bytes hold", ErrTruncated, h.NumberOfAlgs, len(b))
	}
	algs := map[uint16]int{}
	for i := range int(h.NumberOfAlgs) {
		off := hdrSize + algSize*i
		id, size := binary.LittleEndian.Uint16(b[off:]), binary.LittleEndian.Uint16(b[off+2:])
		algs[id] = int(size)
	}
	size, ok := algs[tpmAlgSHA384]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: CC event log has no SHA-384 digests (Spec ID header lists %d algorithms)", ErrUnsupported, h.NumberOfAlgs)
	case size != sha512.Size384:
		return nil, fmt.Errorf("%w: CC event log Spec ID header gives SHA-384 digests %d bytes, want %d", ErrMalformed, size, sha512.Size384)
	}
	return algs, nil
}

// countRecords walks the records' headers after the Spec ID event, as
// go-eventlog reads them, and counts them up to MaxCCEvents+1, so that a
// log of many small records is refused before go-eventlog allocates one
// event for each (some 900 bytes per 16-byte record). It stops at the
// 0xFF padding and where a record does not fit; go-eventlog reports that.
func countRecords(b []byte, algs map[uint16]int) int {
	const eventSizeOffset = 4 + 4 + 20 // TCG_PCR_EVENT's EventSize
	off := uint64(eventSizeOffset + 4 + uint64(binary.LittleEndian.Uint32(b[eventSizeOffset:])))
	n := 0
	for ; n <= MaxCCEvents; n++ {
		// PCRIndex, EventType, TPML_DIGEST_VALUES.count.
		if off+12 > uint64(len(b)) || binary.LittleEndian.Uint32(b[off:]) == 0xffffffff {
			return n
		}
		count := uint64(binary.LittleEndian.Uint32(b[off+8:]))
		off += 12
		for i := uint64(0); i < count; i++ {
			if off+2 > uint64(len(b)) {
				return n
			}
			size, ok := algs[binary.LittleEndian.Uint16(b[off:])]
			if !ok {
				return n
			}
			off += 2 + uint64(size)
		}
		if off+4 > uint64(len(b)) {
			return n
		}
		off += 4 + uint64(binary.LittleEndian.Uint32(b[off:]))
	}
	return n
}

// Replay extends four zeroed RTMRs with the digests of the events that
// extend one, in log order (TDG.MR.RTMR.EXTEND: SHA-384 of the register and
// the digest).
func (l *CCEventLog) Replay() [4]tdx.Digest {
	var r [4]tdx.Digest
	for i := range l.Events {
		e := &l.Events[i]
		if e.Extends() {
			r[e.RTMR()] = tdx.Extend(r[e.RTMR()], e.Digest)
		}
	}
	return r
}

// ErrCCEventLogMarshal reports an event that MarshalCCEventLog cannot write.
var ErrCCEventLogMarshal = errors.New("CC event log event cannot be written")

// MarshalCCEventLog writes events as a CC event log, the inverse of
// ParseCCEventLog: the Spec ID Event03 header (one algorithm, SHA-384;
// uintn size 2, for 64-bit UINTN, as TdTcg2Dxe writes it) and a
// TCG_PCR_EVENT2 with one SHA-384 digest for each event. The header's MR
// index is 1, as in the logs TdTcg2Dxe writes (GCE's, dstack's). The
// events' Index fields are ignored. It writes no padding.
func MarshalCCEventLog(events []CCEvent) ([]byte, error) {
	var b bytes.Buffer
	const (
		platformClassClient  = 0
		specMajor, specMinor = 2, 0
		uintnSize64          = 2 // UINTN size in UINT32s
		vendorInfoSize       = 0
	)
	// The Spec ID event's data: the fixed part, one algorithm, the empty
	// vendor information.
	dataSize := binary.Size(specIDHeader{}) - (4 + 4 + 20 + 4) + 4 + 1
	h := specIDHeader{
		PCRIndex: ccMRIndexRTMR0, EventType: EvNoAction, EventSize: uint32(dataSize), Signature: specIDSignature,
		PlatformClass: platformClassClient, SpecVersionMinor: specMinor, SpecVersionMajor: specMajor,
		UintnSize: uintnSize64, NumberOfAlgs: 1,
	}
	_ = binary.Write(&b, binary.LittleEndian, &h)
	_ = binary.Write(&b, binary.LittleEndian, [2]uint16{tpmAlgSHA384, sha512.Size384})
	b.WriteByte(vendorInfoSize)
	for i, e := range events {
		if e.MRIndex > ccMRIndexMax {
			return nil, fmt.Errorf("%w: event %d: MR index %d, want 0 to 4", ErrCCEventLogMarshal, i, e.MRIndex)
		}
		if uint64(len(e.Data)) > MaxCCEventLogSize {
			return nil, fmt.Errorf("%w: event %d: %d bytes of data", ErrCCEventLogMarshal, i, len(e.Data))
		}
		_ = binary.Write(&b, binary.LittleEndian, [3]uint32{e.MRIndex, e.Type, 1})
		_ = binary.Write(&b, binary.LittleEndian, uint16(tpmAlgSHA384))
		b.Write(e.Digest[:])
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(e.Data)))
		b.Write(e.Data)
	}
	return b.Bytes(), nil
}
