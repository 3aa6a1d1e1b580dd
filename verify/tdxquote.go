package verify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-tdx-guest/abi"
	tpb "github.com/google/go-tdx-guest/proto/tdx"
)

// TDXQuote is a parsed TDX quote, version 4 or 5 (Intel TDX DCAP Quote
// Generation Library and Quote Verification Library, "Quote Format").
// Every quote is read by our own reader (tdxquote_v5.go); a version 4 quote
// carrying its PCK chain is also read by go-tdx-guest, whose proto the
// accessors then use and go-tdx-guest's verification takes.
type TDXQuote struct {
	raw    []byte
	proto  *tpb.QuoteV4 // nil unless parsed.goTDXGuestReads()
	parsed *parsedQuote
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

// ParseTDXQuote parses a binary TDX quote, version 4 or 5, of exactly the
// length its header, body and signature data length give: bytes after it
// are ErrMalformed. Any certification data type parses; a quote without
// its PCK chain needs the chain from elsewhere to verify.
func ParseTDXQuote(b []byte) (*TDXQuote, error) {
	p, err := parseQuoteStd(b)
	if err != nil {
		return nil, err
	}
	out := &TDXQuote{raw: append([]byte(nil), b...), parsed: p}
	if !p.goTDXGuestReads() {
		return out, nil
	}
	var q any
	err = recoverPanic("go-tdx-guest", func() (err error) {
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
	out.proto = v4
	return out, nil
}

// Layout of a version 4 quote (Intel TDX DCAP Quote Generation Library and
// Quote Verification Library, Appendix A "Quote Format", TDX 1.0), which
// parseQuoteStd checks before go-tdx-guest v0.3.1 slices by it; a version 5
// quote adds a body descriptor before the body (tdxquote_v5.go).
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

// Platform implements Evidence.
func (q *TDXQuote) Platform() string { return "tdx" }

// Raw implements Evidence.
func (q *TDXQuote) Raw() []byte { return q.raw }

// Registers implements Evidence: MRTD and RTMR0 to RTMR3.
func (q *TDXQuote) Registers() []Register {
	if q.proto == nil {
		return q.parsed.registers()
	}
	body := q.proto.GetTdQuoteBody()
	regs := []Register{{Name: "MRTD", Value: body.GetMrTd(), Hex: hex.EncodeToString(body.GetMrTd())}}
	for i, r := range body.GetRtmrs() {
		regs = append(regs, Register{Name: fmt.Sprintf("RTMR%d", i), Value: r, Hex: hex.EncodeToString(r)})
	}
	return regs
}

// Debug reports whether TD_ATTRIBUTES.DEBUG is set.
func (q *TDXQuote) Debug() bool {
	if q.proto == nil {
		return q.parsed.Body.TD10.TDATTRIBUTES[0]&tdAttributesDebug != 0
	}
	a := q.proto.GetTdQuoteBody().GetTdAttributes()
	return len(a) > 0 && a[0]&tdAttributesDebug != 0
}

// ReportData is the TD's 64 bytes of REPORTDATA.
func (q *TDXQuote) ReportData() []byte {
	if q.proto == nil {
		return q.parsed.Body.TD10.REPORTDATA[:]
	}
	return q.proto.GetTdQuoteBody().GetReportData()
}

// Fields implements Evidence, with the names of the Quote Format's TD
// Quote Body (and, for a TDX 1.5 body, TEE_TCB_SVN2 and MRSERVICETD).
func (q *TDXQuote) Fields() []Field {
	if q.proto == nil {
		return q.parsed.fields()
	}
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
