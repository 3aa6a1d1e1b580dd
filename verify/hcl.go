package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"sort"
	"strings"
	"unicode/utf8"
)

// An Azure HCL report is what an Azure confidential VM's paravisor (the
// HCL, OpenHCL) writes to the vTPM's NV index 0x01400001: an attestation
// header, the hardware report (an SEV-SNP ATTESTATION_REPORT or a TDX
// TDREPORT) in an area sized for the larger SEV-SNP report, the request
// data header, and the runtime data, a JSON object of runtime claims (the
// vTPM's keys as JWKs, the VM configuration, user data). The hardware
// report's REPORT_DATA binds the runtime data: its first bytes are the
// digest of the runtime data, the rest zero.
//
// Layout: microsoft/openvmm, openhcl/openhcl_attestation_protocol
// src/igvm_attest/get.rs (IgvmAttestRequestHeader, IgvmAttestRequestData,
// request version 1, the version the NV index carries) and the guest test
// tool that reads the NV index (tpm_guest_tests), which requires
// data_size = 20 + variable_data_size and report_size = the end of the
// runtime data; kinvolk/azure-cvm-tooling az-cvm-vtpm src/hcl/mod.rs.
const (
	// hclHeaderSize is the attestation header (IgvmAttestRequestHeader).
	hclHeaderSize = 0x20
	// hclHardwareReportOffset and hclHardwareReportSize: the hardware
	// report area, ATTESTATION_REPORT_SIZE_MAX (0x4a0, the SEV-SNP report's
	// size); a TD report fills its start, zeros the rest.
	hclHardwareReportOffset = hclHeaderSize
	hclHardwareReportSize   = SNPReportSize
	// hclRequestDataOffset and hclRequestDataSize: IgvmAttestRequestData.
	hclRequestDataOffset = hclHardwareReportOffset + hclHardwareReportSize
	hclRequestDataSize   = 0x14
	// hclRuntimeDataOffset is where the runtime data (variable data) starts.
	hclRuntimeDataOffset = hclRequestDataOffset + hclRequestDataSize

	// hclSignature is the header's signature, "HCLA" in memory.
	hclSignature = 0x414c4348
	// hclRequestTypeAKCert is AK_CERT_REQUEST, the request type of the
	// report in the NV index.
	hclRequestTypeAKCert = 2
	// hclRequestDataVersion is IGVM_ATTEST_REQUEST_VERSION_1: later
	// versions insert an extension before the runtime data.
	hclRequestDataVersion = 1

	// hclAKKeyID is the kid of the vTPM's attestation key in the runtime
	// claims' "keys".
	hclAKKeyID = "HCLAkPub"
)

// hclHeaderVersion1 and hclHeaderVersion2 are the header versions seen: 1
// in older reports, 2 (openvmm's ATTESTATION_VERSION) in current ones; the
// layout is the same.
const (
	hclHeaderVersion1 = 1
	hclHeaderVersion2 = 2
)

// ErrBinding: the hardware report does not vouch for the HCL report's
// runtime data (its REPORT_DATA is not the runtime data's digest), or a TDX
// quote is not a quote of the HCL report's TD report. The runtime data,
// the vTPM's attestation key among it, is then not vouched for by
// hardware, so ErrBinding wraps ErrHardwareSignature.
var ErrBinding error = &sentinelError{"the hardware report does not bind the HCL runtime data", ErrHardwareSignature}

// sentinelError is a sentinel that also matches the sentinel it refines.
type sentinelError struct {
	msg    string
	parent error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.parent }

// HCLHeader is the HCL report's attestation header (openvmm
// IgvmAttestRequestHeader), 32 bytes, little endian.
type HCLHeader struct {
	Signature   uint32    // 0x00: "HCLA"
	Version     uint32    // 0x04: 1 or 2
	ReportSize  uint32    // 0x08: bytes from the header to the end of the runtime data
	RequestType uint32    // 0x0c: 2, AK_CERT_REQUEST
	Status      uint32    // 0x10
	Reserved    [3]uint32 // 0x14
}

// HCLRequestData is the header of the runtime data (openvmm
// IgvmAttestRequestData), 20 bytes, little endian.
type HCLRequestData struct {
	DataSize         uint32      // 0x00: this header and the runtime data, 20 + VariableDataSize
	Version          uint32      // 0x04: 1
	ReportType       HCLType     // 0x08: the hardware report's type
	HashType         HCLHashType // 0x0c: the digest of the runtime data in REPORT_DATA
	VariableDataSize uint32      // 0x10: the runtime data's size
}

// HCLType is the type of the hardware report in an HCL report (openvmm
// IgvmAttestReportType).
type HCLType uint32

// Hardware report types. VBS (1) and TVM (3, no hardware report) are not
// read here.
const (
	HCLTypeSNP HCLType = 2 // an SEV-SNP ATTESTATION_REPORT
	HCLTypeTDX HCLType = 4 // a TDX TDREPORT_STRUCT
)

func (t HCLType) String() string {
	switch t {
	case 1:
		return "VBS"
	case HCLTypeSNP:
		return "SEV-SNP"
	case 3:
		return "TVM"
	case HCLTypeTDX:
		return "TDX"
	}
	return "unknown"
}

// HCLHashType is the digest algorithm of the runtime data in REPORT_DATA
// (openvmm IgvmAttestHashType).
type HCLHashType uint32

// Digest algorithms.
const (
	HCLHashSHA256 HCLHashType = 1
	HCLHashSHA384 HCLHashType = 2
	HCLHashSHA512 HCLHashType = 3
)

func (h HCLHashType) String() string {
	switch h {
	case HCLHashSHA256:
		return "SHA-256"
	case HCLHashSHA384:
		return "SHA-384"
	case HCLHashSHA512:
		return "SHA-512"
	}
	return "unknown"
}

func (h HCLHashType) new() hash.Hash {
	switch h {
	case HCLHashSHA256:
		return sha256.New()
	case HCLHashSHA384:
		return sha512.New384()
	case HCLHashSHA512:
		return sha512.New()
	}
	return nil
}

// HCLReport is a parsed Azure HCL report. It is Evidence: its platform and
// registers are its hardware report's. For SEV-SNP, the inner report's
// signature vouches for the HCL report once CheckBinding holds; a TD report
// is MAC'd, not signed, and is vouched for only by a TDX quote of it
// (Check with the quote).
type HCLReport struct {
	Header  HCLHeader
	Request HCLRequestData
	// raw is the report up to Header.ReportSize; padding the zero bytes
	// after it.
	raw     []byte
	padding int
	snp     *SNPReport
	td      *TDReport
	claims  *HCLClaims
}

// IsHCLReport reports whether b starts with an HCL report's signature.
func IsHCLReport(b []byte) bool {
	return len(b) >= 4 && binary.LittleEndian.Uint32(b) == hclSignature
}

// ParseHCLReport parses a binary HCL report: the header, the hardware
// report (SEV-SNP, parsed as ParseSNPReport does, or TDX, as
// ParseTDReport), the request data and the runtime claims. The sizes in
// the header and the request data must agree with each other and with the
// layout. Bytes after the header's report size must be zero: the NV index
// is larger than the report (2048 or 2600 bytes in the recorded reports)
// and zero-padded; anything else after it is ErrMalformed. A report that
// ends before its report size is ErrTruncated. ParseHCLReport does not
// check the binding (CheckBinding, Check).
func ParseHCLReport(b []byte) (*HCLReport, error) {
	if len(b) < hclHeaderSize {
		return nil, fmt.Errorf("%w: HCL report is %d bytes, want at least %d", ErrTruncated, len(b), hclRuntimeDataOffset)
	}
	h := &HCLReport{}
	// Reads of fixed-size structures from a slice of their size cannot fail.
	_ = binary.Read(bytes.NewReader(b[:hclHeaderSize]), binary.LittleEndian, &h.Header)
	switch hd := h.Header; {
	case hd.Signature != hclSignature:
		return nil, fmt.Errorf("%w: HCL report signature %#08x at 0, want %#08x (\"HCLA\")", ErrMalformed, hd.Signature, hclSignature)
	case hd.Version != hclHeaderVersion1 && hd.Version != hclHeaderVersion2:
		return nil, fmt.Errorf("%w: HCL report header version %d at 0x4, want 1 or 2", ErrUnsupported, hd.Version)
	case hd.RequestType != hclRequestTypeAKCert:
		return nil, fmt.Errorf("%w: HCL report request type %d at 0xc, want %d (AK_CERT_REQUEST, the vTPM's report)", ErrUnsupported, hd.RequestType, hclRequestTypeAKCert)
	}
	if len(b) < hclRuntimeDataOffset {
		return nil, fmt.Errorf("%w: HCL report is %d bytes, want at least %d", ErrTruncated, len(b), hclRuntimeDataOffset)
	}
	_ = binary.Read(bytes.NewReader(b[hclRequestDataOffset:hclRuntimeDataOffset]), binary.LittleEndian, &h.Request)
	rq := h.Request
	switch {
	case rq.Version != hclRequestDataVersion:
		return nil, fmt.Errorf("%w: HCL request data version %d at %#x, want %d", ErrUnsupported, rq.Version, hclRequestDataOffset+4, hclRequestDataVersion)
	case rq.ReportType != HCLTypeSNP && rq.ReportType != HCLTypeTDX:
		err := ErrMalformed
		if rq.ReportType == 1 || rq.ReportType == 3 {
			err = ErrUnsupported
		}
		return nil, fmt.Errorf("%w: HCL report type %d (%s) at %#x, want %d (SEV-SNP) or %d (TDX)", err, rq.ReportType, rq.ReportType, hclRequestDataOffset+8, HCLTypeSNP, HCLTypeTDX)
	case rq.HashType.new() == nil:
		return nil, fmt.Errorf("%w: HCL report data hash type %d at %#x, want 1 (SHA-256), 2 (SHA-384) or 3 (SHA-512)", ErrMalformed, rq.HashType, hclRequestDataOffset+12)
	case uint64(rq.DataSize) != hclRequestDataSize+uint64(rq.VariableDataSize):
		return nil, fmt.Errorf("%w: HCL request data size %d at %#x, want %d (the %d-byte header and %d bytes of runtime data)", ErrMalformed, rq.DataSize, hclRequestDataOffset, hclRequestDataSize+uint64(rq.VariableDataSize), hclRequestDataSize, rq.VariableDataSize)
	case rq.VariableDataSize == 0:
		return nil, fmt.Errorf("%w: HCL report has no runtime data (variable data size 0 at %#x)", ErrMalformed, hclRequestDataOffset+16)
	}
	end := hclRuntimeDataOffset + uint64(rq.VariableDataSize)
	switch n := uint64(len(b)); {
	case uint64(h.Header.ReportSize) != end:
		return nil, fmt.Errorf("%w: HCL report size %d at 0x8, want %d (the end of %d bytes of runtime data at %#x)", ErrMalformed, h.Header.ReportSize, end, rq.VariableDataSize, hclRuntimeDataOffset)
	case n < end:
		return nil, fmt.Errorf("%w: HCL report is %d bytes, its report size at 0x8 is %d", ErrTruncated, n, end)
	}
	if i := firstNonZero(b[end:]); i >= 0 {
		return nil, fmt.Errorf("%w: HCL report: %d bytes follow its %d-byte report size and are not zero padding (byte %#x at %#x)", ErrMalformed, uint64(len(b))-end, end, b[end+uint64(i)], end+uint64(i))
	}
	h.raw = append([]byte(nil), b[:end]...)
	h.padding = len(b) - int(end)

	hw := h.raw[hclHardwareReportOffset:hclRequestDataOffset]
	var err error
	switch rq.ReportType {
	case HCLTypeSNP:
		if h.snp, err = ParseSNPReport(hw); err != nil {
			return nil, fmt.Errorf("HCL report at %#x: %w", hclHardwareReportOffset, err)
		}
	case HCLTypeTDX:
		if h.td, err = ParseTDReport(hw[:TDReportSize]); err != nil {
			return nil, fmt.Errorf("HCL report at %#x: %w", hclHardwareReportOffset, err)
		}
		if i := firstNonZero(hw[TDReportSize:]); i >= 0 {
			return nil, fmt.Errorf("%w: HCL report: byte %#x at %#x, in the hardware report area after the %d-byte TD report, is not zero", ErrMalformed, hw[TDReportSize+i], hclHardwareReportOffset+TDReportSize+i, TDReportSize)
		}
	}
	if h.claims, err = parseHCLClaims(h.RuntimeData()); err != nil {
		return nil, fmt.Errorf("HCL report: runtime data at %#x: %w", hclRuntimeDataOffset, err)
	}
	return h, nil
}

// firstNonZero is the index of b's first byte that is not zero, or -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// MarshalHCLReport is ParseHCLReport's inverse: it lays out hdr, the
// hardware report hw (zero-padded to its 1184-byte area), req and the
// runtime data, taking every size as given, so that tests can build
// reports whose sizes disagree. hw longer than its area is cut.
func MarshalHCLReport(hdr HCLHeader, hw []byte, req HCLRequestData, runtime []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, hdr)
	area := make([]byte, hclHardwareReportSize)
	copy(area, hw)
	b.Write(area)
	_ = binary.Write(&b, binary.LittleEndian, req)
	b.Write(runtime)
	return b.Bytes()
}

// NewHCLHeaders returns the header and request data of an HCL report of
// the given type and hash type with runtime data of n bytes, sized as the
// paravisor sizes them (header version 2).
func NewHCLHeaders(t HCLType, hashType HCLHashType, n int) (HCLHeader, HCLRequestData) {
	return HCLHeader{Signature: hclSignature, Version: hclHeaderVersion2, ReportSize: uint32(hclRuntimeDataOffset + n), RequestType: hclRequestTypeAKCert},
		HCLRequestData{DataSize: uint32(hclRequestDataSize + n), Version: hclRequestDataVersion, ReportType: t, HashType: hashType, VariableDataSize: uint32(n)}
}

// Type is the hardware report's type.
func (h *HCLReport) Type() HCLType { return h.Request.ReportType }

// SNP is the SEV-SNP report, or nil for TDX.
func (h *HCLReport) SNP() *SNPReport { return h.snp }

// TD is the TD report, or nil for SEV-SNP.
func (h *HCLReport) TD() *TDReport { return h.td }

// HardwareReport is the hardware report's bytes: the 1184-byte SEV-SNP
// report, or the 1024-byte TD report.
func (h *HCLReport) HardwareReport() []byte {
	if h.td != nil {
		return h.raw[hclHardwareReportOffset : hclHardwareReportOffset+TDReportSize]
	}
	return h.raw[hclHardwareReportOffset:hclRequestDataOffset]
}

// RuntimeData is the runtime data, the bytes REPORT_DATA binds.
func (h *HCLReport) RuntimeData() []byte { return h.raw[hclRuntimeDataOffset:] }

// Claims are the parsed runtime claims.
func (h *HCLReport) Claims() *HCLClaims { return h.claims }

// Padding is the number of zero bytes that followed the report.
func (h *HCLReport) Padding() int { return h.padding }

// ReportData is the hardware report's 64 bytes of REPORT_DATA (SEV-SNP) or
// REPORTDATA (TDX).
func (h *HCLReport) ReportData() []byte {
	if h.td != nil {
		return h.td.ReportMAC.ReportData[:]
	}
	return h.snp.ReportData()
}

// RuntimeDataDigest is the digest of the runtime data with the report's
// hash type: what REPORT_DATA must begin with.
func (h *HCLReport) RuntimeDataDigest() []byte {
	d := h.Request.HashType.new()
	d.Write(h.RuntimeData())
	return d.Sum(nil)
}

// reportDataName names the hardware report's report data field.
func (h *HCLReport) reportDataName() string {
	if h.td != nil {
		return "REPORTDATA"
	}
	return "REPORT_DATA"
}

// CheckBinding checks that the hardware report's report data is the
// digest of the runtime data followed by zeros. Failure wraps ErrBinding.
// For TDX it checks the TD report, which only a quote vouches for: see
// Check.
func (h *HCLReport) CheckBinding() error {
	rd, d := h.ReportData(), h.RuntimeDataDigest()
	name := h.reportDataName()
	if !bytes.Equal(rd[:len(d)], d) {
		return fmt.Errorf("%w: %s[0:%d] is %x, the %s of the %d bytes of runtime data is %x", ErrBinding, name, len(d), rd[:len(d)], h.Request.HashType, len(h.RuntimeData()), d)
	}
	if !allZero(rd[len(d):]) {
		return fmt.Errorf("%w: %s[%d:%d] is %x, want zeros after the %s of the runtime data", ErrBinding, name, len(d), len(rd), rd[len(d):], h.Request.HashType)
	}
	return nil
}

// Check checks everything that ties the runtime data to a hardware
// signature: CheckBinding and, for TDX, that q is a quote of the TD report
// (CheckQuote). For SEV-SNP, q must be nil: the inner report carries its
// own signature (VerifySNPSignature). Failures wrap ErrBinding.
func (h *HCLReport) Check(q *TDXQuote) error {
	if err := h.CheckBinding(); err != nil {
		return err
	}
	switch {
	case h.td != nil && q == nil:
		return fmt.Errorf("%w: a TD report is MAC'd by the CPU, not signed: only a TDX quote of it vouches for it, and none was given", ErrBinding)
	case h.td != nil:
		return h.CheckQuote(q)
	case q != nil:
		return fmt.Errorf("%w: the HCL report holds an SEV-SNP report, not a TD report for a TDX quote", ErrBinding)
	}
	return nil
}

// CheckQuote checks that q is a quote of h's TD report: that every field
// of the quote's TD Quote Body equals the TD report's (TEE_TCB_SVN,
// MRSEAM, MRSIGNERSEAM, SEAM attributes from TEE_TCB_INFO; TD_ATTRIBUTES,
// XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3 from TDINFO;
// REPORTDATA; for a TDX 1.5 body, TEE_TCB_SVN2 and MRSERVICETD, the TD
// report's SERVTD_HASH). Failure wraps ErrBinding.
func (h *HCLReport) CheckQuote(q *TDXQuote) error {
	if h.td == nil {
		return fmt.Errorf("%w: the HCL report holds an SEV-SNP report, not a TD report for a TDX quote", ErrBinding)
	}
	var differ []string
	for _, f := range h.td.quoteFields(q) {
		if !bytes.Equal(f.quote, f.report) {
			differ = append(differ, fmt.Sprintf("%s is %x in the quote, %x in the TD report", f.name, f.quote, f.report))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("%w: the TDX quote is not a quote of the HCL report's TD report: %s", ErrBinding, strings.Join(differ, "; "))
	}
	return nil
}

// Describe says in one line what the HCL report binds and with what.
func (h *HCLReport) Describe() string {
	s := fmt.Sprintf("Azure HCL report (%s): %d bytes of runtime data, %s in %s", h.Type(), len(h.RuntimeData()), h.Request.HashType, h.reportDataName())
	if ak := h.claims.AK(); ak != nil {
		s += ", vTPM attestation key " + ak.Describe()
	}
	return s
}

// Platform implements Evidence: the hardware report's platform.
func (h *HCLReport) Platform() string {
	if h.td != nil {
		return "tdx"
	}
	return "sev-snp"
}

// Registers implements Evidence: the hardware report's registers.
func (h *HCLReport) Registers() []Register {
	if h.td != nil {
		return h.td.Registers()
	}
	return h.snp.Registers()
}

// Raw implements Evidence: the report up to its report size, without the
// NV index's zero padding.
func (h *HCLReport) Raw() []byte { return h.raw }

// Fields implements Evidence: the header, the runtime claims, whether the
// binding holds, then the hardware report's fields.
func (h *HCLReport) Fields() []Field {
	hd, rq := h.Header, h.Request
	f := []Field{
		{"HCL_VERSION", fmt.Sprint(hd.Version)},
		{"HCL_REPORT_SIZE", fmt.Sprintf("%d (then %d bytes of zero padding)", hd.ReportSize, h.padding)},
		{"HCL_REQUEST_TYPE", fmt.Sprintf("%d (AK_CERT_REQUEST)", hd.RequestType)},
		{"HCL_STATUS", fmt.Sprintf("%#x", hd.Status)},
		{"HCL_REPORT_TYPE", fmt.Sprintf("%d (%s)", rq.ReportType, rq.ReportType)},
		{"HCL_HASH_TYPE", fmt.Sprintf("%d (%s)", rq.HashType, rq.HashType)},
		{"HCL_RUNTIME_DATA", fmt.Sprintf("%d bytes, %s %x", rq.VariableDataSize, rq.HashType, h.RuntimeDataDigest())},
	}
	for _, k := range h.claims.Keys {
		f = append(f, Field{"HCL_KEY " + k.ID, k.Describe()})
	}
	f = append(f, Field{"HCL_VM_CONFIGURATION", h.claims.VMConfiguration.String()})
	switch {
	case h.claims.UserData != nil:
		f = append(f, hexField("HCL_USER_DATA", h.claims.UserData))
	default:
		f = append(f, Field{"HCL_USER_DATA", "(none)"})
	}
	binding := fmt.Sprintf("holds: %s[0:%d] is the %s of the runtime data, the rest zero", h.reportDataName(), len(h.RuntimeDataDigest()), rq.HashType)
	if err := h.CheckBinding(); err != nil {
		binding = "FAILS: " + strings.TrimPrefix(err.Error(), ErrBinding.Error()+": ")
	} else if h.td != nil {
		binding += " (in the TD report, which is MAC'd, not signed: its TDX quote must match it)"
	}
	f = append(f, Field{"HCL_BINDING", binding})
	if h.td != nil {
		return append(f, h.td.Fields()...)
	}
	return append(f, h.snp.Fields()...)
}

// HCLClaims are the runtime claims of an HCL report (openvmm
// runtime_claims::RuntimeClaims): a JSON object with "keys",
// "vm-configuration" and "user-data".
type HCLClaims struct {
	// Keys are the JWKs of "keys", in order.
	Keys []HCLKey
	// VMConfiguration is "vm-configuration".
	VMConfiguration HCLVMConfiguration
	// UserData is "user-data" decoded from hex (the 64 bytes the guest
	// wrote to the vTPM's NV index 0x01400002), or nil when absent or empty.
	UserData []byte
}

// AK is the vTPM's attestation key, the key with kid "HCLAkPub".
func (c *HCLClaims) AK() *HCLKey {
	for i := range c.Keys {
		if c.Keys[i].ID == hclAKKeyID {
			return &c.Keys[i]
		}
	}
	return nil
}

// HCLKey is one JWK of the runtime claims (RFC 7517).
type HCLKey struct {
	ID     string   // kid
	Type   string   // kty: RSA or EC
	Ops    []string // key_ops
	Public crypto.PublicKey
}

// PublicKeySHA256 is the SHA-256 of the key's PKIX (SubjectPublicKeyInfo)
// DER encoding.
func (k *HCLKey) PublicKeySHA256() [32]byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(der)
}

// Describe names the key's type and size and its SHA-256.
func (k *HCLKey) Describe() string {
	var t string
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		t = fmt.Sprintf("RSA-%d (e=%d)", p.N.BitLen(), p.E)
	case *ecdsa.PublicKey:
		t = "EC " + p.Curve.Params().Name
	}
	sum := k.PublicKeySHA256()
	s := fmt.Sprintf("%s, SHA-256 of its PKIX public key %x", t, sum)
	if len(k.Ops) > 0 {
		s += ", key_ops " + strings.Join(k.Ops, ",")
	}
	return s
}

// HCLVMConfiguration is "vm-configuration" (openvmm AttestationVmConfig).
// Members that a host omits are nil or empty.
type HCLVMConfiguration struct {
	CurrentTime        *int64
	RootCertThumbprint string
	ConsoleEnabled     *bool
	SecureBoot         *bool
	TPMEnabled         *bool
	TPMPersisted       *bool
	VMUniqueID         string
	// members is every member as it appeared, compacted, for String.
	members map[string]json.RawMessage
}

// String lists every member, sorted by name, as name=value.
func (c HCLVMConfiguration) String() string {
	names := make([]string, 0, len(c.members))
	for n := range c.members {
		names = append(names, n)
	}
	sort.Strings(names)
	s := make([]string, 0, len(names))
	for _, n := range names {
		s = append(s, n+"="+string(c.members[n]))
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// parseHCLClaims parses the runtime data: a JSON object, without duplicate
// member names at any depth (a verifier that took the first of two would
// read other claims than one that took the last), with "keys" holding the
// vTPM's attestation key and, when present, "vm-configuration" an object
// and "user-data" hex. Member names match exactly (encoding/json alone
// would also take "Keys" for "keys"). Errors wrap ErrMalformed, or
// ErrUnsupported for an attestation key of a type not read here.
func parseHCLClaims(b []byte) (*HCLClaims, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	if err := checkJSONObject(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var keys []json.RawMessage
	var vmc map[string]json.RawMessage
	var userData string
	for _, m := range []struct {
		name string
		v    any
	}{{"keys", &keys}, {"vm-configuration", &vmc}, {"user-data", &userData}} {
		if raw, ok := doc[m.name]; ok {
			if err := json.Unmarshal(raw, m.v); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrMalformed, m.name, err)
			}
		}
	}
	c := &HCLClaims{}
	for i, raw := range keys {
		k, err := parseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: keys[%d]: %v", ErrMalformed, i, err)
		}
		c.Keys = append(c.Keys, k)
	}
	ak := c.AK()
	switch {
	case ak == nil:
		return nil, fmt.Errorf("%w: no key with kid %q in \"keys\"", ErrMalformed, hclAKKeyID)
	case ak.Public == nil:
		return nil, fmt.Errorf("%w: key %q has kty %q, want RSA or EC", ErrUnsupported, hclAKKeyID, ak.Type)
	}
	if err := c.VMConfiguration.set(vmc); err != nil {
		return nil, fmt.Errorf("%w: vm-configuration: %v", ErrMalformed, err)
	}
	if userData != "" {
		u, err := hex.DecodeString(userData)
		if err != nil {
			return nil, fmt.Errorf("%w: user-data %.20q...: not hex: %v", ErrMalformed, userData, err)
		}
		c.UserData = u
	}
	return c, nil
}

func (c *HCLVMConfiguration) set(m map[string]json.RawMessage) error {
	c.members = map[string]json.RawMessage{}
	for name, v := range m {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return fmt.Errorf("%q: %v", name, err)
		}
		c.members[name] = buf.Bytes()
		var err error
		switch name {
		case "current-time":
			c.CurrentTime = new(int64)
			err = json.Unmarshal(v, c.CurrentTime)
		case "root-cert-thumbprint":
			err = json.Unmarshal(v, &c.RootCertThumbprint)
		case "console-enabled":
			c.ConsoleEnabled = new(bool)
			err = json.Unmarshal(v, c.ConsoleEnabled)
		case "secure-boot":
			c.SecureBoot = new(bool)
			err = json.Unmarshal(v, c.SecureBoot)
		case "tpm-enabled":
			c.TPMEnabled = new(bool)
			err = json.Unmarshal(v, c.TPMEnabled)
		case "tpm-persisted":
			c.TPMPersisted = new(bool)
			err = json.Unmarshal(v, c.TPMPersisted)
		case "vmUniqueId":
			err = json.Unmarshal(v, &c.VMUniqueID)
		}
		if err != nil {
			return fmt.Errorf("%q: %v", name, err)
		}
	}
	return nil
}

// parseJWK reads a JWK's kid, kty, key_ops and, for RSA (n, e) and EC
// (crv P-256, P-384 or P-521, x, y), its public key; other key types keep
// a nil Public. Member names match exactly.
func parseJWK(raw json.RawMessage) (HCLKey, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return HCLKey{}, err
	}
	str := func(name string) (string, error) {
		var s string
		if v, ok := m[name]; ok {
			if err := json.Unmarshal(v, &s); err != nil {
				return "", fmt.Errorf("%q: %v", name, err)
			}
		}
		return s, nil
	}
	var k HCLKey
	var err error
	if k.ID, err = str("kid"); err != nil {
		return k, err
	}
	if k.Type, err = str("kty"); err != nil {
		return k, err
	}
	if v, ok := m["key_ops"]; ok {
		if err := json.Unmarshal(v, &k.Ops); err != nil {
			return k, fmt.Errorf("kid %q: \"key_ops\": %v", k.ID, err)
		}
	}
	b64 := func(name string) ([]byte, error) {
		s, err := str(name)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %v", k.ID, err)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("kid %q: %s is not base64url without padding", k.ID, name)
		}
		return b, nil
	}
	switch k.Type {
	case "RSA":
		n, err := b64("n")
		if err != nil {
			return k, err
		}
		e, err := b64("e")
		if err != nil {
			return k, err
		}
		ev := new(big.Int).SetBytes(e)
		if !ev.IsInt64() || ev.Int64() < 3 || ev.Int64() > 1<<31-1 || ev.Bit(0) == 0 {
			return k, fmt.Errorf("kid %q: RSA exponent %x, want an odd number from 3 to 2^31-1", k.ID, e)
		}
		if n[0] == 0 {
			return k, fmt.Errorf("kid %q: RSA modulus has a leading zero byte", k.ID)
		}
		k.Public = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}
	case "EC":
		crv, err := str("crv")
		if err != nil {
			return k, fmt.Errorf("kid %q: %v", k.ID, err)
		}
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[crv]
		if !ok {
			return k, fmt.Errorf("kid %q: curve %q, want P-256, P-384 or P-521", k.ID, crv)
		}
		x, err := b64("x")
		if err != nil {
			return k, err
		}
		y, err := b64("y")
		if err != nil {
			return k, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return k, fmt.Errorf("kid %q: x and y are %d and %d bytes, want %d", k.ID, len(x), len(y), size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return k, fmt.Errorf("kid %q: %v", k.ID, err)
		}
		k.Public = pub
	}
	return k, nil
}

// checkJSONObject checks that b is one JSON object and that no object in
// it names a member twice.
func checkJSONObject(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next token in this object is a member name
	}
	var stack []*frame
	first := true
	for {
		t, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if first {
			if t != json.Delim('{') {
				return errors.New("not a JSON object")
			}
			first = false
		} else if len(stack) == 0 {
			return errors.New("data after the JSON object")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if s, ok := t.(string); ok {
				if top.names[s] {
					return fmt.Errorf("member %q appears twice in one object", s)
				}
				top.names[s] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object && t != json.Delim('}') {
			top.key = true // after this value, a name
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
	if first {
		return errors.New("empty")
	}
	return nil
}
