package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// SNPReportSize is the size of an SEV-SNP ATTESTATION_REPORT (SEV-SNP
// Firmware ABI specification, Table 23): 0x4a0 bytes.
const SNPReportSize = abi.ReportSize

// SNPReport is a parsed SEV-SNP attestation report, with the certificate
// table of an extended report when one followed it.
type SNPReport struct {
	raw   []byte
	proto *spb.Report
	// certs is the extended report's certificate table, or nil.
	certs *spb.CertificateChain
}

// ParseSNPReport parses a binary SEV-SNP attestation report of exactly
// SNPReportSize bytes, or an extended report: the report followed by its
// certificate table (SNP_GET_EXT_REPORT; GUID-indexed entries ending with a
// zero entry) and zero padding. Other bytes after the report are
// ErrMalformed.
func ParseSNPReport(b []byte) (*SNPReport, error) {
	if len(b) < SNPReportSize {
		return nil, fmt.Errorf("%w: SEV-SNP report is %d bytes, want %d", ErrTruncated, len(b), SNPReportSize)
	}
	r := &SNPReport{raw: append([]byte(nil), b[:SNPReportSize]...)}
	if err := abi.ValidateReportFormat(r.raw); err != nil {
		return nil, fmt.Errorf("%w: SEV-SNP report: %v", ErrMalformed, err)
	}
	var p *spb.Report
	if err := recoverPanic("go-sev-guest", func() (err error) {
		p, err = abi.ReportToProto(r.raw)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%w: SEV-SNP report: %v", ErrMalformed, err)
	}
	r.proto = p
	if len(b) == SNPReportSize {
		return r, nil
	}
	entries, err := parseCertTable(b[SNPReportSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: extended SEV-SNP report: certificate table at %#x: %v", ErrMalformed, SNPReportSize, err)
	}
	// The entries are sorted here rather than by CertTable.Proto, which logs
	// a warning on standard output when the table has no VCEK or VLEK.
	chain := &spb.CertificateChain{Extras: map[string][]byte{}}
	for _, e := range entries {
		switch e.GUID.String() {
		case abi.VcekGUID:
			chain.VcekCert = e.RawCert
		case abi.VlekGUID:
			chain.VlekCert = e.RawCert
		case abi.AskGUID:
			chain.AskCert = e.RawCert
		case abi.ArkGUID:
			chain.ArkCert = e.RawCert
		default:
			chain.Extras[e.GUID.String()] = e.RawCert
		}
	}
	r.certs = chain
	return r, nil
}

// parseCertTable reads the certificate table of an extended report (SEV-SNP
// ABI, SNP_GET_EXT_REPORT: entries of a GUID, a 32-bit offset and a 32-bit
// length, ending with a zero entry, then the certificates). Offsets and
// lengths are added in 64 bits: go-sev-guest v0.15.0's CertTable.Unmarshal
// adds them in 32 and slices out of range when the sum wraps. After the
// header and the last certificate only zero padding may follow, as the
// kernel's page-sized buffer has.
func parseCertTable(b []byte) ([]abi.CertTableEntry, error) {
	var header []abi.CertTableHeaderEntry
	if err := recoverPanic("go-sev-guest", func() (err error) {
		header, err = abi.ParseSnpCertTableHeader(b)
		return err
	}); err != nil {
		return nil, err
	}
	end := uint64(len(header)+1) * abi.CertTableEntrySize
	var entries []abi.CertTableEntry
	for i, h := range header {
		off, n := uint64(h.Offset), uint64(h.Length)
		if off+n > uint64(len(b)) {
			return nil, fmt.Errorf("entry %d: certificate at %#x, %d bytes, runs past the table's %d bytes", i, off, n, len(b))
		}
		entries = append(entries, abi.CertTableEntry{GUID: h.GUID, RawCert: append([]byte(nil), b[off:off+n]...)})
		end = max(end, off+n)
	}
	tail := b[end:]
	if rest := bytes.TrimLeft(tail, "\x00"); len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes trail the table's %d bytes and are not zero padding (byte %#x at %#x)", len(tail), end, rest[0], end+uint64(len(tail)-len(rest)))
	}
	return entries, nil
}

// Platform implements Evidence.
func (r *SNPReport) Platform() string { return "sev-snp" }

// Raw implements Evidence: the 1184 signed report bytes, without any
// certificate table.
func (r *SNPReport) Raw() []byte { return r.raw }

// Measurement is the report's MEASUREMENT, the launch digest.
func (r *SNPReport) Measurement() [48]byte {
	var d [48]byte
	copy(d[:], r.proto.GetMeasurement())
	return d
}

// Registers implements Evidence.
func (r *SNPReport) Registers() []Register {
	m := r.proto.GetMeasurement()
	return []Register{{Name: "MEASUREMENT", Value: m, Hex: hex.EncodeToString(m)}}
}

// Extended reports whether a certificate table followed the report.
func (r *SNPReport) Extended() bool { return r.certs != nil }

// TableSigner returns the DER of the certificate of the key SIGNER_INFO
// names (the VCEK or VLEK) from the extended report's certificate table,
// or nil when the table does not hold it (or there is none): a host with
// no certificates installed hands out an empty table.
func (r *SNPReport) TableSigner() []byte {
	if r.certs == nil {
		return nil
	}
	info, err := abi.ParseSignerInfo(r.proto.GetSignerInfo())
	if err != nil {
		return nil
	}
	switch info.SigningKey {
	case abi.VcekReportSigner:
		return r.certs.GetVcekCert()
	case abi.VlekReportSigner:
		return r.certs.GetVlekCert()
	}
	return nil
}

// Debug reports whether the guest policy allows the host to debug (decrypt)
// the guest: POLICY bit 19.
func (r *SNPReport) Debug() bool { return r.proto.GetPolicy()&(1<<policyDebugBit) != 0 }

// VMPL is the VMPL the report was requested from.
func (r *SNPReport) VMPL() uint32 { return r.proto.GetVmpl() }

// ReportData is the 64 bytes of REPORT_DATA the guest supplied.
func (r *SNPReport) ReportData() []byte { return r.proto.GetReportData() }

// Version is the report format version.
func (r *SNPReport) Version() uint32 { return r.proto.GetVersion() }

// GuestPolicy is the raw POLICY field.
func (r *SNPReport) GuestPolicy() uint64 { return r.proto.GetPolicy() }

// TCBs returns the four TCB_VERSION fields by their ABI names, each read
// in the report's layout (Turin's, with FMC, for a family 1Ah processor;
// see tcbLayout).
func (r *SNPReport) TCBs() map[string]TCB {
	l := r.tcbLayout()
	return map[string]TCB{
		"CURRENT_TCB":   decodeTCB(r.proto.GetCurrentTcb(), l),
		"REPORTED_TCB":  decodeTCB(r.proto.GetReportedTcb(), l),
		"COMMITTED_TCB": decodeTCB(r.proto.GetCommittedTcb(), l),
		"LAUNCH_TCB":    decodeTCB(r.proto.GetLaunchTcb(), l),
	}
}

// signatureComponentSize is the size of R and of S in the report's
// SIGNATURE (SEV-SNP ABI Table 139: 72 bytes each, little endian).
const signatureComponentSize = 72

// policyDebugBit is POLICY.DEBUG (SEV-SNP ABI Table 9).
const policyDebugBit = 19

// TCB is an SEV-SNP TCB_VERSION (SEV-SNP ABI, "TCB_VERSION Structure"): the
// security patch levels of the firmware components. Turin (family 1Ah)
// lays the eight bytes out differently from Milan and Genoa and adds an
// FMC component; HasFMC says which layout a TCB was read with.
type TCB struct {
	// FMC is the FMC firmware's SPL; it counts only when HasFMC.
	FMC        uint8
	Bootloader uint8
	TEE        uint8
	SNP        uint8
	Microcode  uint8
	// HasFMC: the TCB has Turin's layout, with an FMC component. JSON
	// carries "fmc" exactly when it is set.
	HasFMC bool

	// version is a TCB_VERSION number ParseTCB read, when byVersion: its
	// layout is not known until it is compared with a report's TCB.
	version   uint64
	byVersion bool
}

// tcbLayout is how a TCB_VERSION's eight bytes (little endian) hold its
// components.
type tcbLayout uint8

const (
	// tcbLayoutMilan is Milan's and Genoa's (family 19h): BOOT_LOADER,
	// TEE, four reserved bytes, SNP, MICROCODE (SEV-SNP ABI, TCB_VERSION).
	tcbLayoutMilan tcbLayout = iota
	// tcbLayoutTurin is Turin's (family 1Ah): FMC, BOOT_LOADER, TEE, SNP,
	// three reserved bytes, MICROCODE (SEV-SNP ABI 1.58, TCB_VERSION for
	// family 1Ah; virtee/sev TcbVersion::from_turin_bytes).
	tcbLayoutTurin
)

// tcbOffsets are the byte of each component in a layout; fmc is -1 where
// the layout has none. The other bytes are reserved.
var tcbOffsets = [...]struct{ fmc, bl, tee, snp, ucode int }{
	tcbLayoutMilan: {fmc: -1, bl: 0, tee: 1, snp: 6, ucode: 7},
	tcbLayoutTurin: {fmc: 0, bl: 1, tee: 2, snp: 3, ucode: 7},
}

func (l tcbLayout) String() string {
	if l == tcbLayoutTurin {
		return "Turin's"
	}
	return "Milan's and Genoa's"
}

// cpuidFamilyTurin is the CPUID family of Turin (and of the later
// processors of family 1Ah, which keep its TCB_VERSION layout).
const cpuidFamilyTurin = 0x1a

// tcbLayout is the layout of r's TCB_VERSION fields. Reports of version 3
// and later name the processor family (CPUID_FAM_ID): 1Ah has Turin's
// layout, any other Milan's and Genoa's. Version 2 reports do not; as
// virtee/sev does (AttestationReport::chip_id_is_turin_like), a CHIP_ID of
// eight bytes then 56 zero bytes, the shape of a Turin chip's (whose HWID is
// 8 bytes), is taken as Turin's, else Milan's and Genoa's. A masked CHIP_ID
// (all zeros) reads as Milan's and Genoa's: if that is wrong, the signing
// certificate's TCB does not match it and verification fails.
func (r *SNPReport) tcbLayout() tcbLayout {
	if r.proto.GetVersion() >= 3 {
		if fam, _, _ := abi.FmsFromCpuid1Eax(r.proto.GetCpuid1EaxFms()); fam == cpuidFamilyTurin {
			return tcbLayoutTurin
		}
		return tcbLayoutMilan
	}
	chip := r.proto.GetChipId()
	if len(chip) == abi.ChipIDSize && !allZero(chip[:turinHWIDSize]) && allZero(chip[turinHWIDSize:]) {
		return tcbLayoutTurin
	}
	return tcbLayoutMilan
}

// decodeTCB reads a TCB_VERSION with layout l. Reserved bytes are ignored.
func decodeTCB(v uint64, l tcbLayout) TCB {
	o := tcbOffsets[l]
	at := func(i int) uint8 { return uint8(v >> (8 * i)) }
	t := TCB{Bootloader: at(o.bl), TEE: at(o.tee), SNP: at(o.snp), Microcode: at(o.ucode)}
	if o.fmc >= 0 {
		t.FMC, t.HasFMC = at(o.fmc), true
	}
	return t
}

// tcbVersion is the inverse of decodeTCB: t as a TCB_VERSION with layout
// l, reserved bytes zero. A TCB with an FMC component has no Milan/Genoa
// encoding, and one without has no Turin encoding.
func (t TCB) tcbVersion(l tcbLayout) (uint64, error) {
	o := tcbOffsets[l]
	if t.HasFMC != (o.fmc >= 0) {
		return 0, fmt.Errorf("TCB %s does not fit %s TCB_VERSION layout", t, l)
	}
	v := uint64(t.Bootloader)<<(8*o.bl) | uint64(t.TEE)<<(8*o.tee) | uint64(t.SNP)<<(8*o.snp) | uint64(t.Microcode)<<(8*o.ucode)
	if t.HasFMC {
		v |= uint64(t.FMC) << (8 * o.fmc)
	}
	return v, nil
}

// in returns m, a TCB_VERSION number (from ParseTCB) decoded in the layout
// of t, which was read from a report; any other m as it is.
func (m TCB) in(t TCB) TCB {
	if !m.byVersion {
		return m
	}
	l := tcbLayoutMilan
	if t.HasFMC {
		l = tcbLayoutTurin
	}
	return decodeTCB(m.version, l)
}

// AtLeast reports whether every component of t is at least min's. t is a
// TCB read from a report; a min given as a TCB_VERSION number is read in
// t's layout. A min with an FMC component (Turin's) is never met by a TCB
// without one (Milan's or Genoa's): the requirement names a component the
// report does not have, so it fails closed.
func (t TCB) AtLeast(min TCB) bool {
	min = min.in(t)
	if min.HasFMC && (!t.HasFMC || t.FMC < min.FMC) {
		return false
	}
	return t.Bootloader >= min.Bootloader && t.TEE >= min.TEE && t.SNP >= min.SNP && t.Microcode >= min.Microcode
}

// String formats t as ParseTCB reads it: fmc=N first when t has an FMC
// component; a TCB_VERSION number as ParseTCB read it.
func (t TCB) String() string {
	if t.byVersion {
		return fmt.Sprintf("%#016x", t.version)
	}
	s := fmt.Sprintf("bl=%d,tee=%d,snp=%d,ucode=%d", t.Bootloader, t.TEE, t.SNP, t.Microcode)
	if t.HasFMC {
		s = fmt.Sprintf("fmc=%d,", t.FMC) + s
	}
	return s
}

// tcbJSON is TCB's JSON form.
type tcbJSON struct {
	FMC        *uint8 `json:"fmc,omitempty"`
	Bootloader uint8  `json:"bootloader"`
	TEE        uint8  `json:"tee"`
	SNP        uint8  `json:"snp"`
	Microcode  uint8  `json:"microcode"`
	// TCBVersion is a TCB_VERSION number ParseTCB read, not yet decoded.
	TCBVersion string `json:"tcb_version,omitempty"`
}

// MarshalJSON writes fmc only for a TCB with an FMC component.
func (t TCB) MarshalJSON() ([]byte, error) {
	if t.byVersion {
		return json.Marshal(tcbJSON{TCBVersion: t.String()})
	}
	j := tcbJSON{Bootloader: t.Bootloader, TEE: t.TEE, SNP: t.SNP, Microcode: t.Microcode}
	if t.HasFMC {
		j.FMC = &t.FMC
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *TCB) UnmarshalJSON(b []byte) error {
	var j tcbJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.TCBVersion != "" {
		v, err := ParseTCB(j.TCBVersion)
		if err != nil || !v.byVersion {
			return fmt.Errorf("tcbVersion %q, want a TCB_VERSION number", j.TCBVersion)
		}
		*t = v
		return nil
	}
	*t = TCB{Bootloader: j.Bootloader, TEE: j.TEE, SNP: j.SNP, Microcode: j.Microcode}
	if j.FMC != nil {
		t.FMC, t.HasFMC = *j.FMC, true
	}
	return nil
}

// ParseTCB reads "fmc=0,bl=2,tee=0,snp=5,ucode=68" (any subset, missing
// parts 0; fmc, Turin's FMC component, makes a TCB that only a Turin
// report's can meet), or a 64-bit TCB_VERSION number (0x-hex or decimal),
// which is decoded in the layout of the report's TCB it is compared with
// (TCB.AtLeast).
func ParseTCB(s string) (TCB, error) {
	var t TCB
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=") {
		var v uint64
		if _, err := fmt.Sscan(s, &v); err != nil {
			return t, fmt.Errorf("TCB %q: want fmc=N,bl=N,tee=N,snp=N,ucode=N or a TCB_VERSION number", s)
		}
		return TCB{version: v, byVersion: true}, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		var n uint8
		if _, err := fmt.Sscan(v, &n); !ok || err != nil {
			return t, fmt.Errorf("TCB %q: part %q, want NAME=0..255", s, part)
		}
		switch strings.ToLower(k) {
		case "fmc":
			t.FMC, t.HasFMC = n, true
		case "bl", "bootloader":
			t.Bootloader = n
		case "tee":
			t.TEE = n
		case "snp":
			t.SNP = n
		case "ucode", "microcode":
			t.Microcode = n
		default:
			return t, fmt.Errorf("TCB %q: part %q, want fmc, bl, tee, snp or ucode", s, k)
		}
	}
	return t, nil
}

// Fields implements Evidence, with the ABI's field names (Table 23).
func (r *SNPReport) Fields() []Field {
	p := r.proto
	layout := r.tcbLayout()
	tcb := func(name string, v uint64) Field {
		return Field{name, fmt.Sprintf("%#016x (%s)", v, decodeTCB(v, layout))}
	}
	f := []Field{
		{"VERSION", fmt.Sprint(p.GetVersion())},
		{"GUEST_SVN", fmt.Sprint(p.GetGuestSvn())},
		{"POLICY", fmt.Sprintf("%#x (%s)", p.GetPolicy(), describePolicy(p.GetPolicy()))},
		hexField("FAMILY_ID", p.GetFamilyId()),
		hexField("IMAGE_ID", p.GetImageId()),
		{"VMPL", fmt.Sprint(p.GetVmpl())},
		{"SIGNATURE_ALGO", fmt.Sprintf("%d (%s)", p.GetSignatureAlgo(), signatureAlgo(p.GetSignatureAlgo()))},
		tcb("CURRENT_TCB", p.GetCurrentTcb()),
		{"PLATFORM_INFO", fmt.Sprintf("%#x (%s)", p.GetPlatformInfo(), describePlatformInfo(p.GetPlatformInfo()))},
		{"SIGNER_INFO", fmt.Sprintf("%#x (%s)", p.GetSignerInfo(), describeSignerInfo(p.GetSignerInfo()))},
		hexField("REPORT_DATA", p.GetReportData()),
		hexField("MEASUREMENT", p.GetMeasurement()),
		hexField("HOST_DATA", p.GetHostData()),
		hexField("ID_KEY_DIGEST", p.GetIdKeyDigest()),
		hexField("AUTHOR_KEY_DIGEST", p.GetAuthorKeyDigest()),
		hexField("REPORT_ID", p.GetReportId()),
		hexField("REPORT_ID_MA", p.GetReportIdMa()),
		tcb("REPORTED_TCB", p.GetReportedTcb()),
	}
	if p.GetVersion() >= 3 {
		fam, model, step := abi.FmsFromCpuid1Eax(p.GetCpuid1EaxFms())
		f = append(f, Field{"CPUID_FAM_ID/MOD_ID/STEP", fmt.Sprintf("%#x/%#x/%#x (%s)", fam, model, step, kds.ProductLineFromFms(p.GetCpuid1EaxFms()))})
	}
	f = append(f,
		hexField("CHIP_ID", p.GetChipId()),
		tcb("COMMITTED_TCB", p.GetCommittedTcb()),
		Field{"CURRENT", fmt.Sprintf("%d.%d.%d", p.GetCurrentMajor(), p.GetCurrentMinor(), p.GetCurrentBuild())},
		Field{"COMMITTED", fmt.Sprintf("%d.%d.%d", p.GetCommittedMajor(), p.GetCommittedMinor(), p.GetCommittedBuild())},
		tcb("LAUNCH_TCB", p.GetLaunchTcb()),
	)
	if p.GetVersion() >= 5 {
		f = append(f,
			Field{"LAUNCH_MIT_VECTOR", fmt.Sprintf("%#x", p.GetLaunchMitVector())},
			Field{"CURRENT_MIT_VECTOR", fmt.Sprintf("%#x", p.GetCurrentMitVector())},
		)
	}
	sig := p.GetSignature()
	f = append(f, Field{"SIGNATURE", fmt.Sprintf("r=%x s=%x", sig[:signatureComponentSize], sig[signatureComponentSize:2*signatureComponentSize])})
	if r.certs != nil {
		f = append(f, Field{"CERTIFICATES", describeCerts(r.certs)})
	}
	return f
}

func describePolicy(v uint64) string {
	pol, err := abi.ParseSnpPolicy(v)
	if err != nil {
		return "invalid: " + err.Error()
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprintf("abi %d.%d, smt %s, migrate-ma %s, debug %s, single-socket %s",
		pol.ABIMajor, pol.ABIMinor, yes(pol.SMT), yes(pol.MigrateMA), yes(pol.Debug), yes(pol.SingleSocket))
}

func describePlatformInfo(v uint64) string {
	var on []string
	for bit, name := range []string{"smt-enabled", "tsme-enabled", "ecc-enabled", "rapl-disabled", "ciphertext-hiding-enabled", "alias-check-complete"} {
		if v&(1<<bit) != 0 {
			on = append(on, name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}

func describeSignerInfo(v uint32) string {
	si, err := abi.ParseSignerInfo(v)
	if err != nil {
		return "invalid: " + err.Error()
	}
	s := "signed by " + si.SigningKey.String()
	if si.MaskChipKey {
		s += ", chip key masked"
	}
	if si.AuthorKeyEn {
		s += ", author key present"
	}
	return s
}

func signatureAlgo(v uint32) string {
	if v == 1 {
		return "ECDSA P-384 with SHA-384"
	}
	return "unknown"
}

func describeCerts(c *spb.CertificateChain) string {
	var have []string
	for _, e := range []struct {
		name string
		der  []byte
	}{{"VCEK", c.GetVcekCert()}, {"VLEK", c.GetVlekCert()}, {"ASK", c.GetAskCert()}, {"ARK", c.GetArkCert()}} {
		if len(e.der) > 0 {
			have = append(have, fmt.Sprintf("%s (%d bytes)", e.name, len(e.der)))
		}
	}
	if len(c.GetExtras()) > 0 {
		have = append(have, fmt.Sprintf("%d other", len(c.GetExtras())))
	}
	if len(have) == 0 {
		return "table present, empty"
	}
	return strings.Join(have, ", ")
}
