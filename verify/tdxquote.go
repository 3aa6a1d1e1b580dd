package verify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-tdx-guest/abi"
	tpb "github.com/google/go-tdx-guest/proto/tdx"
)

// TDXQuote is a parsed TDX quote (version 4: Intel TDX DCAP Quote Generation
// Library and Quote Verification Library, "Quote Format").
type TDXQuote struct {
	raw   []byte
	proto *tpb.QuoteV4
}

// quoteVersionV4 and quoteVersionV5 are the Quote Header versions.
const (
	quoteVersionV4 = 4
	quoteVersionV5 = 5
)

// tdAttributesDebug is TD_ATTRIBUTES.DEBUG (bit 0): the TD runs in debug
// mode and the host can read and change its state (Intel TDX Module ABI,
// "TD_ATTRIBUTES").
const tdAttributesDebug = 1 << 0

// ParseTDXQuote parses a binary TDX quote of exactly the length its
// header and signature data length give: bytes after it are ErrMalformed.
// go-tdx-guest v0.3.1 reads version 4; a version 5 quote is ErrUnsupported.
func ParseTDXQuote(b []byte) (*TDXQuote, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d", ErrTruncated, len(b), abi.QuoteMinSize)
	}
	switch v := binary.LittleEndian.Uint16(b); v {
	case quoteVersionV4:
	case quoteVersionV5:
		return nil, fmt.Errorf("%w: TDX quote version 5: go-tdx-guest v0.3.1 parses version 4 only", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: TDX quote header version %d, want %d", ErrMalformed, v, quoteVersionV4)
	}
	if len(b) < abi.QuoteMinSize {
		return nil, fmt.Errorf("%w: TDX quote is %d bytes, want at least %d", ErrTruncated, len(b), abi.QuoteMinSize)
	}
	if err := checkTDXQuoteV4Layout(b); err != nil {
		return nil, err
	}
	var q any
	err := recoverPanic("go-tdx-guest", func() (err error) {
		q, err = abi.QuoteToProto(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: TDX quote: %v", ErrMalformed, err)
	}
	v4, ok := q.(*tpb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("%w: TDX quote of type %T", ErrUnsupported, q)
	}
	if err := abi.CheckQuoteV4(v4); err != nil {
		return nil, fmt.Errorf("%w: TDX quote: %v", ErrMalformed, err)
	}
	return &TDXQuote{raw: append([]byte(nil), b...), proto: v4}, nil
}

// Layout of a version 4 quote (Intel TDX DCAP Quote Generation Library and
// Quote Verification Library, Appendix A "Quote Format", TDX 1.0): the
// length fields go-tdx-guest v0.3.1 slices by without checking them first.
const (
	// quoteHeaderSize is the Quote Header (table "Quote Header").
	quoteHeaderSize = 0x30
	// quoteBodyV4Size is the TD Quote Body (table "TD Quote Body").
	quoteBodyV4Size = 0x248
	// quoteSigDataLenOffset is the 32-bit Quote Signature Data Length.
	quoteSigDataLenOffset = quoteHeaderSize + quoteBodyV4Size
	// quoteSigDataOffset is the Quote Signature Data (table "ECDSA 256-bit
	// Quote Signature Data Structure - Version 4").
	quoteSigDataOffset = quoteSigDataLenOffset + 4
	// quoteSignatureSize and quoteAttestKeySize: the ECDSA signature over
	// the header and body, and the attestation public key (P-256 r||s, x||y).
	quoteSignatureSize = 0x40
	quoteAttestKeySize = 0x40
	// certDataHeaderSize is the Certification Data header (table
	// "Certification Data"): a 16-bit type and a 32-bit size.
	certDataHeaderSize = 2 + 4
	// certTypeQEReport is Certification Data Type 6, QE Report
	// Certification Data; certTypePCKChain is type 5, the PCK leaf, its
	// intermediate and root certificates in PEM.
	certTypeQEReport = 6
	certTypePCKChain = 5
	// qeReportSize and qeReportSignatureSize: the QE's SGX report and its
	// ECDSA signature by the PCK (table "QE Report Certification Data").
	qeReportSize          = 0x180
	qeReportSignatureSize = 0x40
	// qeAuthDataLenSize is the 16-bit size of the QE Authentication Data.
	qeAuthDataLenSize = 2
	// quoteSigDataMinSize is the signature data up to its certification
	// data's content.
	quoteSigDataMinSize = quoteSignatureSize + quoteAttestKeySize + certDataHeaderSize
)

// checkTDXQuoteV4Layout walks the length fields of a version 4 quote of at
// least quoteSigDataOffset bytes, in 64-bit arithmetic, and checks that each
// structure lies inside its parent and fills it, and that the quote ends
// where its signature data ends.
func checkTDXQuoteV4Layout(b []byte) error {
	sigLen := uint64(binary.LittleEndian.Uint32(b[quoteSigDataLenOffset:]))
	end := quoteSigDataOffset + sigLen
	switch n := uint64(len(b)); {
	case sigLen < quoteSigDataMinSize:
		return fmt.Errorf("%w: TDX quote: signature data length %d at %#x, want at least %d", ErrMalformed, sigLen, quoteSigDataLenOffset, quoteSigDataMinSize)
	case n < end:
		return fmt.Errorf("%w: TDX quote is %d bytes, its signature data length %d at %#x makes it %d", ErrTruncated, n, sigLen, quoteSigDataLenOffset, end)
	case n > end:
		return fmt.Errorf("%w: TDX quote: %d bytes trail the %d-byte quote (signature data length %d at %#x)", ErrMalformed, n-end, end, sigLen, quoteSigDataLenOffset)
	}

	// Certification Data: QE Report Certification Data filling the rest.
	off := uint64(quoteSigDataOffset + quoteSignatureSize + quoteAttestKeySize)
	if typ := binary.LittleEndian.Uint16(b[off:]); typ != certTypeQEReport {
		return fmt.Errorf("%w: TDX quote: certification data type %d at %#x, want %d (QE report certification data)", ErrMalformed, typ, off, certTypeQEReport)
	}
	certLen := uint64(binary.LittleEndian.Uint32(b[off+2:]))
	off += certDataHeaderSize
	if certLen != end-off {
		return fmt.Errorf("%w: TDX quote: certification data size %d at %#x, want %d (the rest of the signature data)", ErrMalformed, certLen, off-4, end-off)
	}
	if min := uint64(qeReportSize + qeReportSignatureSize + qeAuthDataLenSize + certDataHeaderSize); certLen < min {
		return fmt.Errorf("%w: TDX quote: QE report certification data is %d bytes at %#x, want at least %d", ErrMalformed, certLen, off, min)
	}

	// QE Authentication Data, then the PCK chain's Certification Data
	// filling the rest.
	off += qeReportSize + qeReportSignatureSize
	authLen := uint64(binary.LittleEndian.Uint16(b[off:]))
	if left := end - off - qeAuthDataLenSize - certDataHeaderSize; authLen > left {
		return fmt.Errorf("%w: TDX quote: QE authentication data size %d at %#x, want at most %d (the rest of the certification data)", ErrMalformed, authLen, off, left)
	}
	off += qeAuthDataLenSize + authLen
	if typ := binary.LittleEndian.Uint16(b[off:]); typ != certTypePCKChain {
		return fmt.Errorf("%w: TDX quote: PCK certification data type %d at %#x, want %d (PCK certificate chain)", ErrMalformed, typ, off, certTypePCKChain)
	}
	chainLen := uint64(binary.LittleEndian.Uint32(b[off+2:]))
	off += certDataHeaderSize
	if chainLen != end-off {
		return fmt.Errorf("%w: TDX quote: PCK certificate chain size %d at %#x, want %d (the rest of the certification data)", ErrMalformed, chainLen, off-4, end-off)
	}
	return nil
}

// Platform implements Evidence.
func (q *TDXQuote) Platform() string { return "tdx" }

// Raw implements Evidence.
func (q *TDXQuote) Raw() []byte { return q.raw }

// Registers implements Evidence: MRTD and RTMR0 to RTMR3.
func (q *TDXQuote) Registers() []Register {
	body := q.proto.GetTdQuoteBody()
	regs := []Register{{Name: "MRTD", Value: body.GetMrTd(), Hex: hex.EncodeToString(body.GetMrTd())}}
	for i, r := range body.GetRtmrs() {
		regs = append(regs, Register{Name: fmt.Sprintf("RTMR%d", i), Value: r, Hex: hex.EncodeToString(r)})
	}
	return regs
}

// Debug reports whether TD_ATTRIBUTES.DEBUG is set.
func (q *TDXQuote) Debug() bool {
	a := q.proto.GetTdQuoteBody().GetTdAttributes()
	return len(a) > 0 && a[0]&tdAttributesDebug != 0
}

// ReportData is the TD's 64 bytes of REPORTDATA.
func (q *TDXQuote) ReportData() []byte { return q.proto.GetTdQuoteBody().GetReportData() }

// Fields implements Evidence, with the names of the Quote Format's TD
// Quote Body.
func (q *TDXQuote) Fields() []Field {
	h, b := q.proto.GetHeader(), q.proto.GetTdQuoteBody()
	f := []Field{
		{"VERSION", fmt.Sprint(h.GetVersion())},
		{"ATT_KEY_TYPE", fmt.Sprintf("%d (ECDSA-256 with P-256)", h.GetAttestationKeyType())},
		{"TEE_TYPE", fmt.Sprintf("%#x (TDX)", h.GetTeeType())},
		hexField("QE_SVN", h.GetQeSvn()),
		hexField("PCE_SVN", h.GetPceSvn()),
		hexField("QE_VENDOR_ID", h.GetQeVendorId()),
		hexField("TEE_TCB_SVN", b.GetTeeTcbSvn()),
		hexField("MRSEAM", b.GetMrSeam()),
		hexField("MRSIGNERSEAM", b.GetMrSignerSeam()),
		hexField("SEAMATTRIBUTES", b.GetSeamAttributes()),
		{"TDATTRIBUTES", fmt.Sprintf("%x (%s)", b.GetTdAttributes(), describeTDAttributes(b.GetTdAttributes()))},
		hexField("XFAM", b.GetXfam()),
		hexField("MRTD", b.GetMrTd()),
		hexField("MRCONFIGID", b.GetMrConfigId()),
		hexField("MROWNER", b.GetMrOwner()),
		hexField("MROWNERCONFIG", b.GetMrOwnerConfig()),
	}
	for i, r := range b.GetRtmrs() {
		f = append(f, hexField(fmt.Sprintf("RTMR%d", i), r))
	}
	f = append(f, hexField("REPORTDATA", b.GetReportData()))
	if chain := q.proto.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData(); chain != nil {
		f = append(f, Field{"PCK_CERT_CHAIN", fmt.Sprintf("%d bytes (certification data type %d)", len(chain.GetPckCertChain()), chain.GetCertificateDataType())})
	}
	return f
}

func describeTDAttributes(a []byte) string {
	if len(a) < 8 {
		return "short"
	}
	v := binary.LittleEndian.Uint64(a)
	var on []string
	for _, b := range []struct {
		bit  uint
		name string
	}{{0, "debug"}, {28, "sept-ve-disable"}, {29, "migratable"}, {30, "pks"}, {31, "kl"}, {63, "perfmon"}} {
		if v&(1<<b.bit) != 0 {
			on = append(on, b.name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}
