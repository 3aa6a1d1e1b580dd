package verify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Our own reader of TDX quotes, versions 4 and 5, standard library only. It
// follows Intel's "Intel TDX DCAP Quote Generation Library and Quote
// Verification Library" (Appendix A, "Quote Format", and its version 5
// appendix) and the structures of Intel's Quote Verification Library
// (SGX-TDX-DCAP-QuoteVerificationLibrary, QuoteVerification/QuoteConstants.h
// and QuoteStructures.h). go-tdx-guest v0.3.1 reads version 4 only, and only
// quotes whose PCK chain is in the quote; this reader takes both versions
// and every certification data type, so that a quote go-tdx-guest cannot
// read still parses and verifies (tdxsig.go).

// tdxQuoteHeader is the Quote Header (table "Quote Header"), the same in
// versions 4 and 5.
type tdxQuoteHeader struct {
	Version            uint16   // 0x00
	AttestationKeyType uint16   // 0x02: 2, ECDSA-256 with P-256
	TEEType            uint32   // 0x04: 0x81, TDX
	QESVN              [2]byte  // 0x08
	PCESVN             [2]byte  // 0x0a
	QEVendorID         [16]byte // 0x0c
	UserData           [20]byte // 0x1c
}

// tdxQuoteBodyDescriptor precedes the body in a version 5 quote (table
// "Quote Body Descriptor" of the version 5 appendix): the body's type and
// size.
type tdxQuoteBodyDescriptor struct {
	Type uint16 // 0x00: bodyTypeSGX, bodyTypeTD10 or bodyTypeTD15
	Size uint32 // 0x02
}

// tdReport10 is the TD Quote Body of TDX 1.0 (table "TD Quote Body"), the
// body of every version 4 quote and of a version 5 quote of body type 2.
type tdReport10 struct {
	TEETCBSVN      [16]byte    // 0x000
	MRSEAM         [48]byte    // 0x010
	MRSIGNERSEAM   [48]byte    // 0x040
	SEAMATTRIBUTES [8]byte     // 0x070
	TDATTRIBUTES   [8]byte     // 0x078
	XFAM           [8]byte     // 0x080
	MRTD           [48]byte    // 0x088
	MRCONFIGID     [48]byte    // 0x0b8
	MROWNER        [48]byte    // 0x0e8
	MROWNERCONFIG  [48]byte    // 0x118
	RTMR           [4][48]byte // 0x148
	REPORTDATA     [64]byte    // 0x208
}

// tdReport15 is the TD Quote Body of TDX 1.5 (version 5 appendix, "TD
// Quote Body Descriptor" type 3): the TDX 1.0 body, then TEE_TCB_SVN2 (the
// SVNs of the TDX module after a TD-preserving update) and MRSERVICETD.
type tdReport15 struct {
	TD10        tdReport10 // 0x000
	TEETCBSVN2  [16]byte   // 0x248
	MRSERVICETD [48]byte   // 0x258
}

// sgxReport is an SGX enclave report (Intel SGX "REPORT", the QE report of
// table "QE Report Certification Data"). MISCSELECT is kept as its four
// bytes, in the order Intel's QE identity spells it in hex.
type sgxReport struct {
	CPUSVN     [16]byte // 0x000
	MISCSELECT [4]byte  // 0x010
	Reserved1  [28]byte // 0x014
	ATTRIBUTES [16]byte // 0x030
	MRENCLAVE  [32]byte // 0x040
	Reserved2  [32]byte // 0x060
	MRSIGNER   [32]byte // 0x080
	Reserved3  [96]byte // 0x0a0
	ISVPRODID  uint16   // 0x100
	ISVSVN     uint16   // 0x102
	Reserved4  [60]byte // 0x104
	REPORTDATA [64]byte // 0x140
}

// Body types of a version 5 quote's body descriptor (QuoteConstants.h:
// BODY_SGX_ENCLAVE_REPORT_TYPE, BODY_TD_REPORT10_TYPE, BODY_TD_REPORT15_TYPE)
// and the sizes each must declare (ENCLAVE_REPORT_BYTE_LEN 384,
// TD_REPORT10_BYTE_LEN 584, TD_REPORT15_BYTE_LEN 648).
const (
	bodyTypeSGX  = 1
	bodyTypeTD10 = 2
	bodyTypeTD15 = 3

	bodyDescriptorSize = 2 + 4
	tdReport10Size     = quoteBodyV4Size // 0x248
	tdReport15Size     = tdReport10Size + 16 + 48
	sgxReportSize      = qeReportSize
)

// Certification data types (Intel DCAP quote format, "Certification Data
// Type"; QuoteConstants.h PCK_ID_*): how the quote identifies the PCK that
// certifies the QE. Types 1 to 3 carry only the platform's PPID, so the
// PCK chain must come from elsewhere (PCCS, or files).
const (
	certTypePPIDPlain   = 1
	certTypePPIDRSA2048 = 2
	certTypePPIDRSA3072 = 3
	certTypePCKLeaf     = 4
	// certTypePCKChain (5) and certTypeQEReport (6) are in tdxquote.go.
)

var certTypeNames = map[uint16]string{
	certTypePPIDPlain:   "plain PPID",
	certTypePPIDRSA2048: "PPID encrypted with RSA-2048",
	certTypePPIDRSA3072: "PPID encrypted with RSA-3072",
	certTypePCKLeaf:     "PCK leaf certificate",
	certTypePCKChain:    "PCK certificate chain",
	certTypeQEReport:    "QE report certification data",
}

// certificationData is a Certification Data structure: its type and its
// content, at offset Off of the quote.
type certificationData struct {
	Type uint16
	Data []byte
	Off  int // of the type field
}

// qeReportCertData is QE Report Certification Data (type 6): the QE's
// report, its signature by the PCK, the QE authentication data and the
// certification data that names the PCK (types 1 to 5).
type qeReportCertData struct {
	Report    sgxReport
	ReportOff int // of Report in the quote: the bytes the PCK signed
	Signature [64]byte
	AuthData  []byte
	Cert      certificationData
}

// parsedQuote is a TDX quote of version 4 or 5 as our own reader reads it.
type parsedQuote struct {
	Header   tdxQuoteHeader
	BodyType uint16 // bodyTypeTD10 for version 4
	Body     tdReport15
	// SignedLen is the length of the quote's prefix the attestation key
	// signed: the header, the body descriptor (version 5) and the body.
	SignedLen int
	// Signature is the attestation key's ECDSA P-256 signature (r||s) and
	// AttestKey its public key (x||y).
	Signature [64]byte
	AttestKey [64]byte
	Cert      certificationData
	// QE is set when Cert is of type 6.
	QE *qeReportCertData
}

// parseQuoteStd parses b as a TDX quote of version 4 or 5, of exactly the
// length its header, body and signature data give: every length field is
// checked against what holds it, in 64-bit arithmetic, before anything is
// sliced; bytes after the quote are ErrMalformed.
func parseQuoteStd(b []byte) (*parsedQuote, error) {
	n := uint64(len(b))
	if n < 2 {
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d", ErrTruncated, n, quoteHeaderSize)
	}
	switch v := binary.LittleEndian.Uint16(b); v {
	case quoteVersionV4, quoteVersionV5:
	default:
		return nil, fmt.Errorf("%w: TDX quote header version %d, want %d or %d", ErrMalformed, v, quoteVersionV4, quoteVersionV5)
	}
	if n < quoteHeaderSize {
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d (the header)", ErrTruncated, n, quoteHeaderSize)
	}
	p := &parsedQuote{BodyType: bodyTypeTD10}
	mustDecode(b[:quoteHeaderSize], &p.Header)
	if t := p.Header.AttestationKeyType; t != quoteKeyTypeECDSA {
		return nil, fmt.Errorf("%w: TDX quote: attestation key type %d at %#x, want %d (ECDSA-256 with P-256)", ErrUnsupported, t, quoteKeyTypeOffset, quoteKeyTypeECDSA)
	}
	if t := p.Header.TEEType; t != quoteTEETypeTDX {
		return nil, fmt.Errorf("%w: TDX quote: TEE type %#x at %#x, want %#x (TDX)", ErrMalformed, t, quoteTEETypeOffset, quoteTEETypeTDX)
	}

	off := uint64(quoteHeaderSize)
	bodySize := uint64(tdReport10Size)
	if p.Header.Version == quoteVersionV5 {
		if n < off+bodyDescriptorSize {
			return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d (the header and body descriptor)", ErrTruncated, n, off+bodyDescriptorSize)
		}
		var d tdxQuoteBodyDescriptor
		mustDecode(b[off:off+bodyDescriptorSize], &d)
		want, ok := map[uint16]uint64{bodyTypeTD10: tdReport10Size, bodyTypeTD15: tdReport15Size}[d.Type]
		switch {
		case d.Type == bodyTypeSGX:
			return nil, fmt.Errorf("%w: TDX quote: body type %d at %#x is an SGX enclave report, but the TEE type is TDX", ErrMalformed, d.Type, off)
		case !ok:
			return nil, fmt.Errorf("%w: TDX quote: body type %d at %#x, want %d (TD report 1.0) or %d (TD report 1.5)", ErrMalformed, d.Type, off, bodyTypeTD10, bodyTypeTD15)
		case uint64(d.Size) != want:
			return nil, fmt.Errorf("%w: TDX quote: body size %d at %#x, want %d for body type %d", ErrMalformed, d.Size, off+2, want, d.Type)
		}
		p.BodyType, bodySize = d.Type, want
		off += bodyDescriptorSize
	}
	sigLenOff := off + bodySize
	if n < sigLenOff+4 {
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d (through the signature data length)", ErrTruncated, n, sigLenOff+4)
	}
	if p.BodyType == bodyTypeTD15 {
		mustDecode(b[off:sigLenOff], &p.Body)
	} else {
		mustDecode(b[off:sigLenOff], &p.Body.TD10)
	}
	p.SignedLen = int(sigLenOff)

	sigLen := uint64(binary.LittleEndian.Uint32(b[sigLenOff:]))
	off = sigLenOff + 4
	end := off + sigLen
	switch {
	case sigLen < quoteSigDataMinSize:
		return nil, fmt.Errorf("%w: TDX quote: signature data length %d at %#x, want at least %d", ErrMalformed, sigLen, sigLenOff, quoteSigDataMinSize)
	case n < end:
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, its signature data length %d at %#x makes it %d", ErrTruncated, n, sigLen, sigLenOff, end)
	case n > end:
		return nil, fmt.Errorf("%w: TDX quote: %d bytes trail the %d-byte quote (signature data length %d at %#x)", ErrMalformed, n-end, end, sigLen, sigLenOff)
	}
	copy(p.Signature[:], b[off:])
	copy(p.AttestKey[:], b[off+quoteSignatureSize:])
	off += quoteSignatureSize + quoteAttestKeySize

	cert, err := parseCertificationData(b, off, end, "certification data", 1, certTypeQEReport)
	if err != nil {
		return nil, err
	}
	p.Cert = cert
	if cert.Type != certTypeQEReport {
		return p, nil
	}

	// QE Report Certification Data: the QE report, its signature, the QE
	// authentication data, then certification data filling the rest.
	off = uint64(cert.Off) + certDataHeaderSize
	if min := uint64(qeReportSize + qeReportSignatureSize + qeAuthDataLenSize + certDataHeaderSize); uint64(len(cert.Data)) < min {
		return nil, fmt.Errorf("%w: TDX quote: QE report certification data is %d bytes at %#x, want at least %d", ErrMalformed, len(cert.Data), off, min)
	}
	qe := &qeReportCertData{ReportOff: int(off)}
	mustDecode(b[off:off+qeReportSize], &qe.Report)
	off += qeReportSize
	copy(qe.Signature[:], b[off:])
	off += qeReportSignatureSize
	authLen := uint64(binary.LittleEndian.Uint16(b[off:]))
	if left := end - off - qeAuthDataLenSize - certDataHeaderSize; authLen > left {
		return nil, fmt.Errorf("%w: TDX quote: QE authentication data size %d at %#x, want at most %d (the rest of the certification data)", ErrMalformed, authLen, off, left)
	}
	off += qeAuthDataLenSize
	qe.AuthData = b[off : off+authLen : off+authLen]
	off += authLen
	if qe.Cert, err = parseCertificationData(b, off, end, "PCK certification data", 1, certTypePCKChain); err != nil {
		return nil, err
	}
	p.QE = qe
	return p, nil
}

// parseCertificationData reads the Certification Data at off of b, which
// must fill b up to end and be of a type from lo to hi. The caller has
// checked that its 6-byte header lies before end.
func parseCertificationData(b []byte, off, end uint64, what string, lo, hi uint16) (certificationData, error) {
	typ := binary.LittleEndian.Uint16(b[off:])
	if typ < lo || typ > hi {
		return certificationData{}, fmt.Errorf("%w: TDX quote: %s type %d at %#x, want %d to %d", ErrMalformed, what, typ, off, lo, hi)
	}
	size := uint64(binary.LittleEndian.Uint32(b[off+2:]))
	data := off + certDataHeaderSize
	if size != end-data {
		sizeWhat := what + " size"
		if what == "PCK certification data" && typ == certTypePCKChain {
			sizeWhat = "PCK certificate chain size"
		}
		return certificationData{}, fmt.Errorf("%w: TDX quote: %s %d at %#x, want %d (the rest of the %s)", ErrMalformed, sizeWhat, size, off+2, end-data, parentOf(what))
	}
	return certificationData{Type: typ, Data: b[data:end:end], Off: int(off)}, nil
}

func parentOf(what string) string {
	if what == "certification data" {
		return "signature data"
	}
	return "certification data"
}

// mustDecode decodes b into the fixed-size structure v. The callers have
// checked len(b) == binary.Size(v), which makes an error a bug here.
func mustDecode(b []byte, v any) {
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		panic(fmt.Sprintf("verify: decoding %T from %d bytes: %v", v, len(b), err))
	}
}

// marshal is parseQuoteStd's inverse: the quote's bytes from its parts.
// Lengths are taken from the parts, so a structure built by hand marshals
// to a well-formed quote.
func (p *parsedQuote) marshal() []byte {
	b, _ := binary.Append(nil, binary.LittleEndian, &p.Header)
	if p.Header.Version == quoteVersionV5 {
		size := uint32(tdReport10Size)
		if p.BodyType == bodyTypeTD15 {
			size = tdReport15Size
		}
		b, _ = binary.Append(b, binary.LittleEndian, tdxQuoteBodyDescriptor{Type: p.BodyType, Size: size})
	}
	if p.BodyType == bodyTypeTD15 {
		b, _ = binary.Append(b, binary.LittleEndian, &p.Body)
	} else {
		b, _ = binary.Append(b, binary.LittleEndian, &p.Body.TD10)
	}
	sig := append(append([]byte(nil), p.Signature[:]...), p.AttestKey[:]...)
	cert := p.Cert
	if p.QE != nil {
		qe, _ := binary.Append(nil, binary.LittleEndian, &p.QE.Report)
		qe = append(qe, p.QE.Signature[:]...)
		qe = binary.LittleEndian.AppendUint16(qe, uint16(len(p.QE.AuthData)))
		qe = append(qe, p.QE.AuthData...)
		qe = appendCertificationData(qe, p.QE.Cert)
		cert = certificationData{Type: certTypeQEReport, Data: qe}
	}
	sig = appendCertificationData(sig, cert)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sig)))
	return append(b, sig...)
}

func appendCertificationData(b []byte, c certificationData) []byte {
	b = binary.LittleEndian.AppendUint16(b, c.Type)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Data)))
	return append(b, c.Data...)
}

// pckCert returns the certification data that names the PCK: the inner
// one of QE report certification data, else the outer one.
func (p *parsedQuote) pckCert() certificationData {
	if p.QE != nil {
		return p.QE.Cert
	}
	return p.Cert
}

// goTDXGuestReads reports whether go-tdx-guest v0.3.1 reads the quote:
// version 4, with QE report certification data holding the PCK chain.
func (p *parsedQuote) goTDXGuestReads() bool {
	return p.Header.Version == quoteVersionV4 && p.QE != nil && p.QE.Cert.Type == certTypePCKChain
}

func (p *parsedQuote) registers() []Register {
	td := &p.Body.TD10
	regs := []Register{{Name: "MRTD", Value: td.MRTD[:], Hex: hex.EncodeToString(td.MRTD[:])}}
	for i := range td.RTMR {
		regs = append(regs, Register{Name: fmt.Sprintf("RTMR%d", i), Value: td.RTMR[i][:], Hex: hex.EncodeToString(td.RTMR[i][:])})
	}
	return regs
}

// fields are the quote's fields with the names the Quote Format gives them,
// in layout order, as TDXQuote.Fields shows a go-tdx-guest quote, with the
// body type of a version 5 quote and the fields of a TDX 1.5 body added.
func (p *parsedQuote) fields() []Field {
	h, td := &p.Header, &p.Body.TD10
	f := []Field{
		{"VERSION", fmt.Sprint(h.Version)},
		{"ATT_KEY_TYPE", fmt.Sprintf("%d (ECDSA-256 with P-256)", h.AttestationKeyType)},
		{"TEE_TYPE", fmt.Sprintf("%#x (TDX)", h.TEEType)},
		hexField("QE_SVN", h.QESVN[:]),
		hexField("PCE_SVN", h.PCESVN[:]),
		hexField("QE_VENDOR_ID", h.QEVendorID[:]),
	}
	if h.Version == quoteVersionV5 {
		name := map[uint16]string{bodyTypeTD10: "TD report 1.0", bodyTypeTD15: "TD report 1.5"}[p.BodyType]
		f = append(f, Field{"BODY_TYPE", fmt.Sprintf("%d (%s)", p.BodyType, name)})
	}
	f = append(f,
		hexField("TEE_TCB_SVN", td.TEETCBSVN[:]),
		hexField("MRSEAM", td.MRSEAM[:]),
		hexField("MRSIGNERSEAM", td.MRSIGNERSEAM[:]),
		hexField("SEAMATTRIBUTES", td.SEAMATTRIBUTES[:]),
		Field{"TDATTRIBUTES", fmt.Sprintf("%x (%s)", td.TDATTRIBUTES[:], describeTDAttributes(td.TDATTRIBUTES[:]))},
		hexField("XFAM", td.XFAM[:]),
		hexField("MRTD", td.MRTD[:]),
		hexField("MRCONFIGID", td.MRCONFIGID[:]),
		hexField("MROWNER", td.MROWNER[:]),
		hexField("MROWNERCONFIG", td.MROWNERCONFIG[:]),
	)
	for i := range td.RTMR {
		f = append(f, hexField(fmt.Sprintf("RTMR%d", i), td.RTMR[i][:]))
	}
	f = append(f, hexField("REPORTDATA", td.REPORTDATA[:]))
	if p.BodyType == bodyTypeTD15 {
		f = append(f, hexField("TEE_TCB_SVN2", p.Body.TEETCBSVN2[:]), hexField("MRSERVICETD", p.Body.MRSERVICETD[:]))
	}
	switch c := p.pckCert(); c.Type {
	case certTypePCKChain:
		f = append(f, Field{"PCK_CERT_CHAIN", fmt.Sprintf("%d bytes (certification data type %d)", len(c.Data), c.Type)})
	default:
		f = append(f, Field{"CERTIFICATION_DATA", fmt.Sprintf("%d bytes (certification data type %d, %s): the quote carries no PCK chain", len(c.Data), c.Type, certTypeNames[c.Type])})
	}
	return f
}

// Version is the quote's header version: 4 or 5.
func (q *TDXQuote) Version() int { return int(q.parsed.Header.Version) }

// HasPCKChain reports whether the quote carries its PCK certificate chain
// (certification data type 5). When it does not (a PPID or a lone PCK
// leaf), the chain must be given to VerifyTDXSignatureWith.
func (q *TDXQuote) HasPCKChain() bool { return q.parsed.pckCert().Type == certTypePCKChain }
