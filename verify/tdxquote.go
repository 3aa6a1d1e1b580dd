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

// ParseTDXQuote parses a binary TDX quote. go-tdx-guest v0.3.1 reads
// version 4; a version 5 quote is ErrUnsupported.
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
	q, err := abi.QuoteToProto(b)
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
