package verify

import (
	"bytes"
	"encoding/hex"
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

// TCBs returns the four TCB_VERSION fields by their ABI names.
func (r *SNPReport) TCBs() map[string]TCB {
	return map[string]TCB{
		"CURRENT_TCB":   tcbOf(r.proto.GetCurrentTcb()),
		"REPORTED_TCB":  tcbOf(r.proto.GetReportedTcb()),
		"COMMITTED_TCB": tcbOf(r.proto.GetCommittedTcb()),
		"LAUNCH_TCB":    tcbOf(r.proto.GetLaunchTcb()),
	}
}

// signatureComponentSize is the size of R and of S in the report's
// SIGNATURE (SEV-SNP ABI Table 139: 72 bytes each, little endian).
const signatureComponentSize = 72

// policyDebugBit is POLICY.DEBUG (SEV-SNP ABI Table 9).
const policyDebugBit = 19

// TCB is an SEV-SNP TCB_VERSION (SEV-SNP ABI, "TCB_VERSION Structure"): the
// security patch levels of the firmware components.
type TCB struct {
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
}

func tcbOf(v uint64) TCB {
	p := kds.DecomposeTCBVersion(kds.TCBVersion(v))
	return TCB{Bootloader: p.BlSpl, TEE: p.TeeSpl, SNP: p.SnpSpl, Microcode: p.UcodeSpl}
}

// AtLeast reports whether every component of t is at least min's.
func (t TCB) AtLeast(min TCB) bool {
	return t.Bootloader >= min.Bootloader && t.TEE >= min.TEE && t.SNP >= min.SNP && t.Microcode >= min.Microcode
}

// String formats t as ParseTCB reads it.
func (t TCB) String() string {
	return fmt.Sprintf("bl=%d,tee=%d,snp=%d,ucode=%d", t.Bootloader, t.TEE, t.SNP, t.Microcode)
}

// ParseTCB reads "bl=2,tee=0,snp=5,ucode=68" (any subset, missing parts 0)
// or a 64-bit TCB_VERSION number (0x-hex or decimal).
func ParseTCB(s string) (TCB, error) {
	var t TCB
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=") {
		var v uint64
		if _, err := fmt.Sscan(s, &v); err != nil {
			return t, fmt.Errorf("TCB %q: want bl=N,tee=N,snp=N,ucode=N or a TCB_VERSION number", s)
		}
		return tcbOf(v), nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		var n uint8
		if _, err := fmt.Sscan(v, &n); !ok || err != nil {
			return t, fmt.Errorf("TCB %q: part %q, want NAME=0..255", s, part)
		}
		switch strings.ToLower(k) {
		case "bl", "bootloader":
			t.Bootloader = n
		case "tee":
			t.TEE = n
		case "snp":
			t.SNP = n
		case "ucode", "microcode":
			t.Microcode = n
		default:
			return t, fmt.Errorf("TCB %q: part %q, want bl, tee, snp or ucode", s, k)
		}
	}
	return t, nil
}

// Fields implements Evidence, with the ABI's field names (Table 23).
func (r *SNPReport) Fields() []Field {
	p := r.proto
	tcb := func(name string, v uint64) Field {
		return Field{name, fmt.Sprintf("%#016x (%s)", v, tcbOf(v))}
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
