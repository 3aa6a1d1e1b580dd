package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// TDReportSize is the size of a TDREPORT_STRUCT (Intel TDX Module ABI
// specification, "TDREPORT_STRUCT"): 1024 bytes.
const TDReportSize = 0x400

// TDReport is a TDX TDREPORT_STRUCT: what TDG.MR.REPORT returns to a TD,
// MAC'd with a key only the CPU holds, so checkable by the platform (the
// quoting enclave) and not by a remote party. A TDX quote signs its
// contents. Intel TDX Module ABI specification, "TDREPORT_STRUCT",
// "REPORTMACSTRUCT", "TEE_TCB_INFO", "TDINFO_STRUCT" (TDX 1.5: TEE_TCB_SVN2,
// SERVTD_HASH).
type TDReport struct {
	ReportMAC  ReportMACStruct // 0x000
	TEETCBInfo TEETCBInfo      // 0x100
	Reserved   [17]byte        // 0x1ef
	TDInfo     TDInfo          // 0x200
}

// ReportMACStruct is the TD report's REPORTMACSTRUCT, 256 bytes.
type ReportMACStruct struct {
	// ReportType is TYPE (0x81: TDX), SUBTYPE (0), VERSION (0, or 1 when
	// TDINFO's SERVTD_HASH is populated) and a reserved byte.
	ReportType     [4]byte  // 0x00
	Reserved1      [12]byte // 0x04
	CPUSVN         [16]byte // 0x10
	TEETCBInfoHash [48]byte // 0x20: SHA-384 of TEE_TCB_INFO
	TEEInfoHash    [48]byte // 0x50: SHA-384 of TDINFO
	ReportData     [64]byte // 0x80: REPORTDATA, from the TD
	Reserved2      [32]byte // 0xc0
	MAC            [32]byte // 0xe0
}

// TEETCBInfo is the TD report's TEE_TCB_INFO, 239 bytes: the TDX module.
type TEETCBInfo struct {
	Valid        [8]byte  // 0x00: which of the fields are valid
	TEETCBSVN    [16]byte // 0x08
	MRSEAM       [48]byte // 0x18
	MRSignerSEAM [48]byte // 0x48
	Attributes   [8]byte  // 0x78: the SEAM attributes
	TEETCBSVN2   [16]byte // 0x80: TDX 1.5
	Reserved     [95]byte // 0x90
}

// TDInfo is the TD report's TDINFO_STRUCT, 512 bytes: the TD.
type TDInfo struct {
	Attributes    [8]byte     // 0x000: TD_ATTRIBUTES
	XFAM          [8]byte     // 0x008
	MRTD          [48]byte    // 0x010
	MRConfigID    [48]byte    // 0x040
	MROwner       [48]byte    // 0x070
	MROwnerConfig [48]byte    // 0x0a0
	RTMR          [4][48]byte // 0x0d0
	ServTDHash    [48]byte    // 0x190: TDX 1.5
	Reserved      [64]byte    // 0x1c0
}

// Values of REPORTMACSTRUCT.REPORTTYPE.
const (
	tdReportTypeTDX      = 0x81
	tdReportSubtypeTD    = 0
	tdReportVersionMax   = 1
	tdReportTypeOffset   = 0
	tdReportSubtypeIndex = 1
	tdReportVersionIndex = 2
)

// ParseTDReport parses a TDREPORT_STRUCT of exactly TDReportSize bytes
// whose REPORTTYPE is a TDX TD report (TYPE 0x81, SUBTYPE 0, VERSION 0 or
// 1).
func ParseTDReport(b []byte) (*TDReport, error) {
	switch {
	case len(b) < TDReportSize:
		return nil, fmt.Errorf("%w: TD report is %d bytes, want %d", ErrTruncated, len(b), TDReportSize)
	case len(b) > TDReportSize:
		return nil, fmt.Errorf("%w: TD report is %d bytes, want %d", ErrMalformed, len(b), TDReportSize)
	}
	r := &TDReport{}
	_ = binary.Read(bytes.NewReader(b), binary.LittleEndian, r)
	switch t := r.ReportMAC.ReportType; {
	case t[0] != tdReportTypeTDX:
		return nil, fmt.Errorf("%w: TD report REPORTTYPE.TYPE %#x at %#x, want %#x (TDX)", ErrMalformed, t[0], tdReportTypeOffset, tdReportTypeTDX)
	case t[tdReportSubtypeIndex] != tdReportSubtypeTD:
		return nil, fmt.Errorf("%w: TD report REPORTTYPE.SUBTYPE %d at %#x, want %d", ErrUnsupported, t[1], tdReportTypeOffset+tdReportSubtypeIndex, tdReportSubtypeTD)
	case t[tdReportVersionIndex] > tdReportVersionMax:
		return nil, fmt.Errorf("%w: TD report REPORTTYPE.VERSION %d at %#x, want 0 or %d", ErrUnsupported, t[2], tdReportTypeOffset+tdReportVersionIndex, tdReportVersionMax)
	}
	return r, nil
}

// Marshal is ParseTDReport's inverse.
func (r *TDReport) Marshal() []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, r)
	return b.Bytes()
}

// Registers are MRTD and RTMR0 to RTMR3, as TDXQuote names them.
func (r *TDReport) Registers() []Register {
	regs := []Register{{Name: "MRTD", Value: r.TDInfo.MRTD[:], Hex: hex.EncodeToString(r.TDInfo.MRTD[:])}}
	for i := range r.TDInfo.RTMR {
		regs = append(regs, Register{Name: fmt.Sprintf("RTMR%d", i), Value: r.TDInfo.RTMR[i][:], Hex: hex.EncodeToString(r.TDInfo.RTMR[i][:])})
	}
	return regs
}

// Debug reports whether TD_ATTRIBUTES.DEBUG is set.
func (r *TDReport) Debug() bool { return r.TDInfo.Attributes[0]&tdAttributesDebug != 0 }

// Fields lists the TD report's fields, named as in the TDX module ABI and,
// where a TDX quote's body has them too, as TDXQuote.Fields names them.
func (r *TDReport) Fields() []Field {
	m, t, i := &r.ReportMAC, &r.TEETCBInfo, &r.TDInfo
	f := []Field{
		{"REPORTTYPE", fmt.Sprintf("%x (type %#x, subtype %d, version %d)", m.ReportType, m.ReportType[0], m.ReportType[1], m.ReportType[2])},
		hexField("CPUSVN", m.CPUSVN[:]),
		hexField("TEE_TCB_INFO_HASH", m.TEETCBInfoHash[:]),
		hexField("TEE_INFO_HASH", m.TEEInfoHash[:]),
		hexField("REPORTDATA", m.ReportData[:]),
		hexField("MAC", m.MAC[:]),
		hexField("TEE_TCB_INFO.VALID", t.Valid[:]),
		hexField("TEE_TCB_SVN", t.TEETCBSVN[:]),
		hexField("MRSEAM", t.MRSEAM[:]),
		hexField("MRSIGNERSEAM", t.MRSignerSEAM[:]),
		hexField("SEAMATTRIBUTES", t.Attributes[:]),
		hexField("TEE_TCB_SVN2", t.TEETCBSVN2[:]),
		{"TDATTRIBUTES", fmt.Sprintf("%x (%s)", i.Attributes, describeTDAttributes(i.Attributes[:]))},
		hexField("XFAM", i.XFAM[:]),
		hexField("MRTD", i.MRTD[:]),
		hexField("MRCONFIGID", i.MRConfigID[:]),
		hexField("MROWNER", i.MROwner[:]),
		hexField("MROWNERCONFIG", i.MROwnerConfig[:]),
	}
	for n := range i.RTMR {
		f = append(f, hexField(fmt.Sprintf("RTMR%d", n), i.RTMR[n][:]))
	}
	return append(f, hexField("SERVTD_HASH", i.ServTDHash[:]))
}

// quoteField is one field of a TDX quote's body and its source in the TD
// report.
type quoteField struct {
	name          string
	quote, report []byte
}

// quoteFields pairs each field of q's TD Quote Body with the TD report's
// field it is copied from: the TDX 1.0 body of a version 4 quote, and for a
// version 5 quote with a TDX 1.5 body also TEE_TCB_SVN2 and MRSERVICETD
// (the TD report's SERVTD_HASH).
func (r *TDReport) quoteFields(q *TDXQuote) []quoteField {
	b := &q.parsed.Body.TD10
	t, i := &r.TEETCBInfo, &r.TDInfo
	f := []quoteField{
		{"TEE_TCB_SVN", b.TEETCBSVN[:], t.TEETCBSVN[:]},
		{"MRSEAM", b.MRSEAM[:], t.MRSEAM[:]},
		{"MRSIGNERSEAM", b.MRSIGNERSEAM[:], t.MRSignerSEAM[:]},
		{"SEAMATTRIBUTES", b.SEAMATTRIBUTES[:], t.Attributes[:]},
		{"TDATTRIBUTES", b.TDATTRIBUTES[:], i.Attributes[:]},
		{"XFAM", b.XFAM[:], i.XFAM[:]},
		{"MRTD", b.MRTD[:], i.MRTD[:]},
		{"MRCONFIGID", b.MRCONFIGID[:], i.MRConfigID[:]},
		{"MROWNER", b.MROWNER[:], i.MROwner[:]},
		{"MROWNERCONFIG", b.MROWNERCONFIG[:], i.MROwnerConfig[:]},
	}
	for n := range i.RTMR {
		f = append(f, quoteField{fmt.Sprintf("RTMR%d", n), b.RTMR[n][:], i.RTMR[n][:]})
	}
	f = append(f, quoteField{"REPORTDATA", b.REPORTDATA[:], r.ReportMAC.ReportData[:]})
	if q.parsed.BodyType == bodyTypeTD15 {
		f = append(f,
			quoteField{"TEE_TCB_SVN2", q.parsed.Body.TEETCBSVN2[:], t.TEETCBSVN2[:]},
			quoteField{"MRSERVICETD", q.parsed.Body.MRSERVICETD[:], i.ServTDHash[:]})
	}
	return f
}
