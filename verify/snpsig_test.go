package verify

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	sevverify "github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// snpsigTime is when project-oak/oak's tests check its Genoa and Turin
// VCEKs (oak_attestation_verification/src/amd/tests.rs, current_time);
// the virtee/sev and AWS certificates are valid then too.
var snpsigTime = time.Date(2025, time.October, 1, 8, 0, 0, 0, time.UTC)

// snpsigReal is a real report and the certificate that signed it (see
// testdata/README.md), with a time at which the certificate is valid.
type snpsigReal struct {
	name, report, cert string
	key                string // signerVCEK or signerVLEK
	line               string
	at                 time.Time
}

var snpsigReals = []snpsigReal{
	{"go-sev-guest Milan", "snp-attestation.bin", "snp-vcek.der", signerVCEK, "Milan", time.Date(2024, time.June, 1, 0, 0, 0, 0, time.UTC)},
	{"virtee Milan", "snp-virtee-milan-report.bin", "snp-virtee-milan-vcek.der", signerVCEK, "Milan", snpsigTime},
	{"AWS VLEK Milan", "snp-vlek-report.bin", "snp-vlek.der", signerVLEK, "Milan", snpsigTime},
	{"oak Genoa", "snp-oak-genoa-report.bin", "snp-oak-genoa-vcek.der", signerVCEK, "Genoa", snpsigTime},
}

func snpsigRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snpsigCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	der, err := derOf(snpsigRead(t, name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKDSExtensionsReal reads the extensions of real VCEKs and VLEKs: the
// Turin VCEK's are those of the KDS request project-oak/oak made for it
// (kdsintf.amd.com/vcek/v1/Turin/3b42092f69c656d3?ucodeSPL=71&snpSPL=2&teeSPL=0&blSPL=1&fmcSPL=0;
// productName Turin; structVersion 1, which AMD KDS specification 57230
// gives Turin's certificates); for the others, what go-sev-guest's kds
// package reads.
func TestKDSExtensionsReal(t *testing.T) {
	turinHWID, _ := hex.DecodeString("3b42092f69c656d3")
	got, err := parseKDSExtensions(snpsigCert(t, "snp-oak-turin-vcek.der").Extensions, signerVCEK)
	if err != nil {
		t.Fatalf("Turin VCEK: %v", err)
	}
	want := &kdsExtensions{StructVersion: 1, ProductName: "Turin", HWID: turinHWID,
		TCB:      TCB{FMC: 0, Bootloader: 1, TEE: 0, SNP: 2, Microcode: 71, HasFMC: true},
		Reserved: map[int]uint8{5: 0, 6: 0, 7: 0}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(TCB{})); diff != "" {
		t.Errorf("Turin VCEK extensions (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		file string
		key  sevabi.ReportSigner
	}{
		{"snp-vcek.der", sevabi.VcekReportSigner},
		{"snp-virtee-milan-vcek.der", sevabi.VcekReportSigner},
		{"snp-oak-genoa-vcek.der", sevabi.VcekReportSigner},
		{"hcl-snp-milan-vcek.pem", sevabi.VcekReportSigner},
		{"hcl-snp-milan-v3-vcek.der", sevabi.VcekReportSigner},
		{"hcl-snp-genoa-vcek.pem", sevabi.VcekReportSigner},
		{"snp-vlek.der", sevabi.VlekReportSigner},
	} {
		t.Run(c.file, func(t *testing.T) {
			cert := snpsigCert(t, c.file)
			theirs, err := kds.CertificateExtensions(cert, c.key)
			if err != nil {
				t.Fatalf("kds.CertificateExtensions: %v", err)
			}
			ours, err := parseKDSExtensions(cert.Extensions, c.key.String())
			if err != nil {
				t.Fatalf("parseKDSExtensions: %v", err)
			}
			v, err := ours.tcbVersion(tcbLayoutMilan)
			if err != nil {
				t.Fatal(err)
			}
			if v != uint64(theirs.TCBVersion) || ours.StructVersion != theirs.StructVersion || ours.ProductName != theirs.ProductName ||
				!bytes.Equal(ours.HWID, theirs.HWID) || ours.CSPID != theirs.CspID || ours.TCB.HasFMC {
				t.Errorf("ours: %+v, TCB_VERSION %#x; go-sev-guest: %+v", ours, v, theirs)
			}
		})
	}
}

// TestKDSExtensionsRoundTrip: marshalKDSExtensions and parseKDSExtensions
// are inverses, and a HWID inside an OCTET STRING (as go-sev-guest's test
// signer writes it) reads as the raw one.
func TestKDSExtensionsRoundTrip(t *testing.T) {
	hwid8 := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	hwid64 := bytes.Repeat([]byte{0xa5}, 64)
	for _, e := range []kdsExtensions{
		{StructVersion: 1, ProductName: "Turin", HWID: hwid8, TCB: TCB{FMC: 3, Bootloader: 1, TEE: 2, SNP: 4, Microcode: 255, HasFMC: true}, Reserved: map[int]uint8{5: 0, 6: 0, 7: 0}},
		{StructVersion: 0, ProductName: "Milan-B0", HWID: hwid64, TCB: TCB{Bootloader: 3, SNP: 8, Microcode: 115}, Reserved: map[int]uint8{4: 0, 5: 0, 6: 0, 7: 0}},
		{StructVersion: 0, ProductName: "Milan", CSPID: "CN=cc-us-east-2.amazonaws.com", TCB: TCB{Bootloader: 4, SNP: 24, Microcode: 217}, Reserved: map[int]uint8{}},
	} {
		key := signerVCEK
		if e.CSPID != "" {
			key = signerVLEK
		}
		exts, err := marshalKDSExtensions(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseKDSExtensions(exts, key)
		if err != nil {
			t.Fatalf("parseKDSExtensions(marshalKDSExtensions(%+v)): %v", e, err)
		}
		if diff := cmp.Diff(&e, got, cmp.AllowUnexported(TCB{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		for i := range exts {
			if exts[i].Id.Equal(oidHWID) {
				exts[i].Value, _ = asn1.Marshal(exts[i].Value)
			}
		}
		if got, err := parseKDSExtensions(exts, key); err != nil || !bytes.Equal(got.HWID, e.HWID) {
			t.Errorf("HWID in an OCTET STRING: %+v, %v; want HWID %x", got, err, e.HWID)
		}
	}
}

// TestParseKDSExtensionsRejects: malformed or unexpected extensions fail.
func TestParseKDSExtensionsRejects(t *testing.T) {
	base := func() []pkix.Extension {
		exts, err := marshalKDSExtensions(&kdsExtensions{StructVersion: 1, ProductName: "Turin", HWID: make([]byte, 8),
			TCB: TCB{HasFMC: true, Bootloader: 1, SNP: 2, Microcode: 71}})
		if err != nil {
			t.Fatal(err)
		}
		return exts
	}
	set := func(id asn1.ObjectIdentifier, v []byte) func([]pkix.Extension) []pkix.Extension {
		return func(exts []pkix.Extension) []pkix.Extension {
			for i := range exts {
				if exts[i].Id.Equal(id) {
					exts[i].Value = v
					return exts
				}
			}
			return append(exts, pkix.Extension{Id: id, Value: v})
		}
	}
	drop := func(id asn1.ObjectIdentifier) func([]pkix.Extension) []pkix.Extension {
		return func(exts []pkix.Extension) []pkix.Extension {
			var out []pkix.Extension
			for _, e := range exts {
				if !e.Id.Equal(id) {
					out = append(out, e)
				}
			}
			return out
		}
	}
	cspid, _ := asn1.MarshalWithParams("CN=cloud", "ia5")
	tests := []struct {
		name   string
		change func([]pkix.Extension) []pkix.Extension
		key    string
		want   string
	}{
		{"unknown AMD extension", set(kdsOID(3, 10), []byte{2, 1, 0}), signerVCEK, "unknown AMD KDS extension 1.3.6.1.4.1.3704.1.3.10"},
		{"twice", func(e []pkix.Extension) []pkix.Extension { return append(e, e[2]) }, signerVCEK, "appears twice"},
		{"no snpSPL", drop(oidSnpSPL), signerVCEK, "no extension 1.3.6.1.4.1.3704.1.3.3"},
		{"no productName", drop(oidProductName), signerVCEK, "no extension 1.3.6.1.4.1.3704.1.2"},
		{"SPL 256", set(oidBlSPL, []byte{2, 2, 1, 0}), signerVCEK, "INTEGER 256"},
		{"SPL negative", set(oidTeeSPL, []byte{2, 1, 0xff}), signerVCEK, "INTEGER -1"},
		{"SPL trailing bytes", set(oidUcodeSPL, []byte{2, 1, 71, 0}), signerVCEK, "after the INTEGER"},
		{"SPL not minimal", set(oidUcodeSPL, []byte{2, 2, 0, 71}), signerVCEK, "not an INTEGER"},
		{"productName UTF8String", set(oidProductName, []byte{0x0c, 5, 'T', 'u', 'r', 'i', 'n'}), signerVCEK, "not an IA5String"},
		{"HWID 9 bytes", set(oidHWID, make([]byte, 9)), signerVCEK, "9 bytes"},
		{"HWID OCTET STRING of 9", set(oidHWID, append([]byte{4, 9}, make([]byte, 9)...)), signerVCEK, "OCTET STRING of 9 bytes"},
		{"VCEK without HWID", drop(oidHWID), signerVCEK, "must have a HWID"},
		{"VCEK with a CSP ID", set(oidCSPID, cspid), signerVCEK, "no CSP ID"},
		{"VLEK with a HWID", set(oidCSPID, cspid), signerVLEK, "no HWID"},
		{"VLEK without a CSP ID", drop(oidHWID), signerVLEK, "must have a CSP ID"},
		{"empty CSP ID", func(e []pkix.Extension) []pkix.Extension { return set(oidCSPID, []byte{0x16, 0})(drop(oidHWID)(e)) }, signerVLEK, "empty"},
		{"another signer", func(e []pkix.Extension) []pkix.Extension { return e }, "None", "want VCEK or VLEK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKDSExtensions(tc.change(base()), tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseKDSExtensions = %+v, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
	// Reserved SPLs are read but no TCB_VERSION is made with them set.
	e, err := parseKDSExtensions(set(oidSPL5, []byte{2, 1, 1})(base()), signerVCEK)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.tcbVersion(tcbLayoutTurin); err == nil || !strings.Contains(e.describeTCB(), "spl_5=1") {
		t.Errorf("tcbVersion with spl_5=1 = %#x, %v (%s); want an error", v, err, e.describeTCB())
	}
}

// TestTCBLayouts: Turin's TCB_VERSION (FMC, BOOT_LOADER, TEE, SNP, 3
// reserved, MICROCODE) and Milan's and Genoa's (BOOT_LOADER, TEE, 4
// reserved, SNP, MICROCODE), with values their sources give: REPORTED_TCB
// of the Oak Turin report is the bytes 00 01 00 02 00 00 00 47 for fmc 0,
// bl 1, tee 0, snp 2, ucode 71 (routex-client-lua "Verify Turin"; Oak's
// reference values); go-sev-guest's report has 0x4405000000000002 for
// bl 2, tee 0, snp 5, ucode 68 (verify_test.go's TestSNPReport).
func TestTCBLayouts(t *testing.T) {
	tests := []struct {
		v      uint64
		layout tcbLayout
		want   TCB
		str    string
	}{
		{0x4700000002000100, tcbLayoutTurin, TCB{FMC: 0, Bootloader: 1, TEE: 0, SNP: 2, Microcode: 71, HasFMC: true}, "fmc=0,bl=1,tee=0,snp=2,ucode=71"},
		// Turin's bytes misread in Milan's layout (what verify did before):
		// byte 3, Turin's SNP, is reserved there and dropped.
		{0x4700000002000100, tcbLayoutMilan, TCB{Bootloader: 0, TEE: 1, SNP: 0, Microcode: 71}, "bl=0,tee=1,snp=0,ucode=71"},
		{0x4405000000000002, tcbLayoutMilan, TCB{Bootloader: 2, SNP: 5, Microcode: 68}, "bl=2,tee=0,snp=5,ucode=68"},
		{0xff00000004030201, tcbLayoutTurin, TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 255, HasFMC: true}, "fmc=1,bl=2,tee=3,snp=4,ucode=255"},
	}
	for _, tc := range tests {
		got := decodeTCB(tc.v, tc.layout)
		if got != tc.want || got.String() != tc.str {
			t.Errorf("decodeTCB(%#x, %s) = %v (%s), want %v (%s)", tc.v, tc.layout, got, got, tc.want, tc.str)
		}
		reserved := tc.v & 0x0000ffffffff0000 // Milan's bytes 2 to 5
		if tc.layout == tcbLayoutTurin {
			reserved = tc.v & 0x00ffffff00000000 // Turin's bytes 4 to 6
		}
		if back, err := got.tcbVersion(tc.layout); err != nil || back != tc.v&^reserved {
			t.Errorf("%v.tcbVersion(%s) = %#x, %v; want %#x", got, tc.layout, back, err, tc.v&^reserved)
		}
		parsed, err := ParseTCB(tc.str)
		if err != nil || parsed != got {
			t.Errorf("ParseTCB(%q) = %v, %v; want %v", tc.str, parsed, err, got)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var j TCB
		if err := json.Unmarshal(b, &j); err != nil || j != got || strings.Contains(string(b), `"fmc"`) != got.HasFMC {
			t.Errorf("JSON %s reads back as %v, %v; want %v, fmc present iff Turin", b, j, err, got)
		}
	}
	if _, err := (TCB{Bootloader: 1}).tcbVersion(tcbLayoutTurin); err == nil {
		t.Errorf("a TCB without FMC has a Turin TCB_VERSION")
	}
	if _, err := (TCB{HasFMC: true}).tcbVersion(tcbLayoutMilan); err == nil {
		t.Errorf("a TCB with FMC has a Milan TCB_VERSION")
	}
}

// TestTCBLayoutOfReport: version 3 and later reports are read in Turin's
// layout when CPUID_FAM_ID is 1Ah; version 2 reports when CHIP_ID is 8
// bytes then 56 zeros (virtee/sev chip_id_is_turin_like), else in Milan's
// and Genoa's.
func TestTCBLayoutOfReport(t *testing.T) {
	milanChip := snpsigRead(t, "snp-virtee-milan-report.bin")[0x1a0:0x1e0]
	turinChip := []byte{0x3b, 0x42, 0x09, 0x2f, 0x69, 0xc6, 0x56, 0xd3}
	tests := []struct {
		name    string
		version uint32
		fms     uint32
		chip    []byte
		want    tcbLayout
	}{
		{"v5 family 1Ah", 5, sevabi.FmsToCpuid1Eax(0x1a, 0x02, 0x01), turinChip, tcbLayoutTurin},
		{"v5 family 1Ah, Venice's model", 5, sevabi.FmsToCpuid1Eax(0x1a, 0x50, 0x00), nil, tcbLayoutTurin},
		{"v5 family 19h, Turin-like CHIP_ID", 5, sevabi.FmsToCpuid1Eax(0x19, 0x11, 0x01), turinChip, tcbLayoutMilan},
		{"v3 family 19h", 3, sevabi.FmsToCpuid1Eax(0x19, 0x01, 0x01), milanChip, tcbLayoutMilan},
		{"v2 Turin-like CHIP_ID", 2, 0, turinChip, tcbLayoutTurin},
		{"v2 Milan CHIP_ID", 2, 0, milanChip, tcbLayoutMilan},
		{"v2 masked CHIP_ID", 2, 0, nil, tcbLayoutMilan},
	}
	for _, tc := range tests {
		raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{Version: tc.version, FMS: tc.fms})
		copy(raw[0x1a0:0x1e0], tc.chip)
		r, err := ParseSNPReport(raw[:SNPReportSize])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := r.tcbLayout(); got != tc.want {
			t.Errorf("%s: tcbLayout() = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestMinTCB: a minimum TCB against a report's, in either layout; a
// TCB_VERSION number is read in the report's layout.
func TestMinTCB(t *testing.T) {
	turin := decodeTCB(0x4700000002000100, tcbLayoutTurin) // fmc=0,bl=1,tee=0,snp=2,ucode=71
	milan := decodeTCB(0x4405000000000002, tcbLayoutMilan) // bl=2,tee=0,snp=5,ucode=68
	tests := []struct {
		min  string
		t    TCB
		want bool
		// wantIn is min as t's layout reads it.
		wantIn string
	}{
		{"tee=1", turin, false, "bl=0,tee=1,snp=0,ucode=0"}, // the Milan layout misread Turin's tee as 1
		{"fmc=0,bl=1,tee=0,snp=2,ucode=71", turin, true, "fmc=0,bl=1,tee=0,snp=2,ucode=71"},
		{"bl=1,snp=2,ucode=71", turin, true, "bl=1,tee=0,snp=2,ucode=71"},
		{"fmc=1", turin, false, "fmc=1,bl=0,tee=0,snp=0,ucode=0"},
		{"snp=3", turin, false, "bl=0,tee=0,snp=3,ucode=0"},
		{"0x4700000002000100", turin, true, "fmc=0,bl=1,tee=0,snp=2,ucode=71"},
		{"0x4700000002000101", turin, false, "fmc=1,bl=1,tee=0,snp=2,ucode=71"},
		{"0x4700000003000100", turin, false, "fmc=0,bl=1,tee=0,snp=3,ucode=71"},
		{"0x4405000000000002", milan, true, "bl=2,tee=0,snp=5,ucode=68"},
		{"0x4406000000000002", milan, false, "bl=2,tee=0,snp=6,ucode=68"},
		{"bl=2,snp=5,ucode=68", milan, true, "bl=2,tee=0,snp=5,ucode=68"},
		{"fmc=0", milan, false, "fmc=0,bl=0,tee=0,snp=0,ucode=0"}, // fails closed
		{"fmc=0,bl=1", milan, false, "fmc=0,bl=1,tee=0,snp=0,ucode=0"},
	}
	for _, tc := range tests {
		min, err := ParseTCB(tc.min)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.t.AtLeast(min); got != tc.want {
			t.Errorf("%v.AtLeast(%s) = %v, want %v", tc.t, tc.min, got, tc.want)
		}
		if got := min.in(tc.t).String(); got != tc.wantIn {
			t.Errorf("%s in the layout of %v = %s, want %s", tc.min, tc.t, got, tc.wantIn)
		}
		if back, err := ParseTCB(min.String()); err != nil || back != min {
			t.Errorf("ParseTCB(%q) = %v, %v; want %v", min.String(), back, err, min)
		}
	}
	w := wantTCB(TCB{HasFMC: true}, milan)
	if !strings.Contains(w, "FMC component only a Turin TCB has") {
		t.Errorf("wantTCB(fmc=0, Milan) = %q, want it to say why", w)
	}
}

// snpsigFlips are the offsets where snpsigAgree changes a byte: every
// 11th byte of the report, and the first and last of R and S and of
// their zero padding.
func snpsigFlips() []int {
	var offs []int
	for i := 0; i < SNPReportSize; i += 11 {
		offs = append(offs, i)
	}
	for _, off := range []int{offSignatureR, offSignatureS} {
		offs = append(offs, off, off+p384ScalarSize-1, off+p384ScalarSize, off+signatureComponentSize-1)
	}
	return offs
}

// goSEVGuestVerify is go-sev-guest's check, as VerifySNPSignature makes it
// for Milan and Genoa.
func goSEVGuestVerify(r *SNPReport, signer []byte, key, line string, roots *trust.AMDRootCerts, now time.Time) error {
	chain := &spb.CertificateChain{}
	if key == signerVLEK {
		chain.VlekCert = signer
	} else {
		chain.VcekCert = signer
	}
	opts := &sevverify.Options{DisableCertFetching: true, Now: now, TrustedRoots: map[string][]*trust.AMDRootCerts{line: {roots}}}
	return sevverify.SnpAttestation(&spb.Attestation{Report: r.proto, CertificateChain: chain}, opts)
}

func ownVerify(r *SNPReport, signer []byte, key, line string, roots *trust.AMDRootCerts, now time.Time) error {
	ica := roots.ProductCerts.Ask
	if key == signerVLEK {
		ica = roots.ProductCerts.Asvk
	}
	return verifySNPReport(r.raw, signer, key, line, roots.ProductCerts.Ark, ica, now)
}

// TestVerifySNPAgreesWithGoSEVGuest runs this package's verifier and
// go-sev-guest's on the real Milan and Genoa reports: both accept each
// with its certificate at a time it is valid, and both refuse it with a
// byte changed anywhere (that still parses), with another report's
// certificate, and before or after the certificate's validity.
func TestVerifySNPAgreesWithGoSEVGuest(t *testing.T) {
	var checked, refused int
	for _, e := range snpsigReals {
		t.Run(e.name, func(t *testing.T) {
			roots, err := embeddedRoots(e.line)
			if err != nil {
				t.Fatal(err)
			}
			raw := snpsigRead(t, e.report)
			cert, err := derOf(snpsigRead(t, e.cert))
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(cert)
			if err != nil {
				t.Fatal(err)
			}
			agree := func(name string, b, signer []byte, at time.Time, wantOK bool) {
				t.Helper()
				r, err := ParseSNPReport(b)
				if err != nil {
					return // neither verifier sees it
				}
				theirs := goSEVGuestVerify(r, signer, e.key, e.line, roots, at)
				ours := ownVerify(r, signer, e.key, e.line, roots, at)
				checked++
				if (theirs == nil) != (ours == nil) || (ours == nil) != wantOK {
					t.Errorf("%s: go-sev-guest %v, ours %v; want both %s", name, theirs, ours, map[bool]string{true: "to accept", false: "to refuse"}[wantOK])
				}
				if ours != nil {
					refused++
				}
			}
			agree("as recorded", raw, cert, e.at, true)
			for _, off := range snpsigFlips() {
				b := bytes.Clone(raw)
				b[off] ^= 0x01
				agree(fmt.Sprintf("byte %#x changed", off), b, cert, e.at, false)
			}
			agree("before the certificate is valid", raw, cert, leaf.NotBefore.Add(-time.Hour), false)
			agree("after the certificate expires", raw, cert, leaf.NotAfter.Add(time.Hour), false)
			for _, o := range snpsigReals {
				if o.cert != e.cert {
					other, err := derOf(snpsigRead(t, o.cert))
					if err != nil {
						t.Fatal(err)
					}
					agree("with "+o.cert, raw, other, e.at, false)
				}
			}
		})
	}
	t.Logf("%d report/certificate/time cases, %d refused by both", checked, refused)
}

// TestVerifySNPReportTurin: the genuine Turin report verifies with its VCEK
// to AMD's Turin ARK at the time project-oak/oak's tests use; a changed
// byte, another chip's VCEK, another product's chain or a time outside the
// VCEK's validity (2025-07-17 to 2032-07-17, openssl x509 -dates) fail.
func TestVerifySNPReportTurin(t *testing.T) {
	raw := snpsigRead(t, "snp-oak-turin-report.bin")
	vcek := snpsigRead(t, "snp-oak-turin-vcek.der")
	turin, err := embeddedRoots("Turin")
	if err != nil {
		t.Fatal(err)
	}
	genoa, err := embeddedRoots("Genoa")
	if err != nil {
		t.Fatal(err)
	}
	pc := turin.ProductCerts
	algo := bytes.Clone(raw)
	binary.LittleEndian.PutUint32(algo[offSignatureAlgo:], 2)
	tests := []struct {
		name     string
		report   []byte
		signer   []byte
		key      string
		line     string
		ark, ica *x509.Certificate
		at       time.Time
		want     string
	}{
		{"genuine", raw, vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, ""},
		{"MEASUREMENT changed", snpsigFlip(raw, 0x90), vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "signature verification failed"},
		{"REPORTED_TCB changed", snpsigFlip(raw, 0x183), vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "signature verification failed"},
		{"CHIP_ID changed", snpsigFlip(raw, 0x1a0), vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "signature verification failed"},
		{"R changed", snpsigFlip(raw, offSignatureR), vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "signature verification failed"},
		{"R's padding set", snpsigFlip(raw, offSignatureR+p384ScalarSize), vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "want zeros"},
		{"SIGNATURE_ALGO 2", algo, vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "SIGNATURE_ALGO at 0x34 is 2"},
		{"the Genoa VCEK", raw, snpsigRead(t, "snp-oak-genoa-vcek.der"), signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, `issued by "SEV-Genoa", not by "SEV-Turin"`},
		{"the Genoa chain", raw, vcek, signerVCEK, "Turin", genoa.ProductCerts.Ark, genoa.ProductCerts.Ask, snpsigTime, `issued by "SEV-Turin", not by "SEV-Genoa"`},
		{"an ASK from another ARK", raw, vcek, signerVCEK, "Turin", pc.Ark, genoa.ProductCerts.Ask, snpsigTime, `the ASK certificate is issued by "ARK-Genoa", not by "ARK-Turin"`},
		{"the ASVK as the ASK", raw, vcek, signerVCEK, "Turin", pc.Ark, pc.Asvk, snpsigTime, `issued by "SEV-Turin", not by "SEV-VLEK-Turin"`},
		{"the VCEK as a VLEK", raw, vcek, signerVLEK, "Turin", pc.Ark, pc.Asvk, snpsigTime, `issued by "SEV-Turin", not by "SEV-VLEK-Turin"`},
		{"the ASK as the ARK", raw, vcek, signerVCEK, "Turin", pc.Ask, pc.Ask, snpsigTime, "the ARK certificate is issued by"},
		{"product line Genoa", raw, vcek, signerVCEK, "Genoa", pc.Ark, pc.Ask, snpsigTime, `want "SEV-Genoa" for product line Genoa`},
		{"no ASK", raw, vcek, signerVCEK, "Turin", pc.Ark, nil, snpsigTime, "no ASK"},
		{"before the VCEK", raw, vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, time.Date(2025, time.July, 1, 0, 0, 0, 0, time.UTC), "not yet valid"},
		{"after the VCEK", raw, vcek, signerVCEK, "Turin", pc.Ark, pc.Ask, time.Date(2032, time.July, 18, 0, 0, 0, 0, time.UTC), "has expired"},
		{"not a certificate", raw, []byte("VCEK"), signerVCEK, "Turin", pc.Ark, pc.Ask, snpsigTime, "VCEK certificate:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verifySNPReport(tc.report, tc.signer, tc.key, tc.line, tc.ark, tc.ica, tc.at)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("verifySNPReport = %v, want %q", err, tc.want)
			}
		})
	}
}

func snpsigFlip(b []byte, off int) []byte {
	b = bytes.Clone(b)
	b[off] ^= 0x01
	return b
}

// snpsigTurinChain makes go-sev-guest's test chain for Turin (ARK-Turin,
// SEV-Turin, SEV-VLEK-Turin) whose VCEK and VLEK carry exts as their KDS
// extensions (the VLEK's with the CSP ID for the HWID).
func snpsigTurinChain(t *testing.T, vcek, vlek *kdsExtensions) *sevtest.AmdSigner {
	t.Helper()
	vcekExts, err := marshalKDSExtensions(vcek)
	if err != nil {
		t.Fatal(err)
	}
	vlekExts, err := marshalKDSExtensions(vlek)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)
	b := &sevtest.AmdSignerBuilder{
		Keys:             sevtest.DefaultAmdKeys(),
		ProductName:      "Turin",
		CSPID:            "go-sev-guest",
		ArkCreationTime:  created,
		AskCreationTime:  created,
		AsvkCreationTime: created,
		VcekCreationTime: created,
		VlekCreationTime: created,
		VcekCustom:       sevtest.CertOverride{Extensions: vcekExts},
		VlekCustom:       sevtest.CertOverride{Extensions: vlekExts},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// snpsigTurinReport makes a report of the given version (CPUID fms from
// version 3 on) with TCB_VERSION tcb and CHIP_ID chip, signed by s's VCEK
// or VLEK.
func snpsigTurinReport(t *testing.T, s *sevtest.AmdSigner, key sevabi.ReportSigner, version, fms uint32, tcb uint64, chip []byte) []byte {
	t.Helper()
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{Version: version, FMS: fms, SignerInfo: sevabi.SignerInfo{SigningKey: key}})
	p, err := sevabi.ReportToProto(raw[:sevabi.ReportSize])
	if err != nil {
		t.Fatal(err)
	}
	p.Policy = 0x30000
	p.CurrentTcb, p.ReportedTcb, p.CommittedTcb, p.LaunchTcb = tcb, tcb, tcb, tcb
	p.ChipId = make([]byte, sevabi.ChipIDSize)
	copy(p.ChipId, chip)
	b, err := sevabi.ReportToAbiBytes(p)
	if err != nil {
		t.Fatal(err)
	}
	R, S, err := s.Sign(sevabi.SignedComponent(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sevabi.SetSignature(R, S, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifySNPSignatureTurinTestChain signs Turin-style reports with
// go-sev-guest's test signer, whose VCEK and VLEK carry Turin's extensions
// (FMC SPL, 8-byte HWID): VerifySNPSignature takes the report when the
// certificate's five SPLs equal REPORTED_TCB and its HWID is CHIP_ID's
// first 8 bytes (the rest zero), and refuses any difference.
func TestVerifySNPSignatureTurinTestChain(t *testing.T) {
	hwid := []byte{0x3b, 0x42, 0x09, 0x2f, 0x69, 0xc6, 0x56, 0xd3}
	turinFMS := sevabi.FmsToCpuid1Eax(0x1a, 0x02, 0x01)
	genoaFMS := sevabi.FmsToCpuid1Eax(0x19, 0x11, 0x01)
	tcb := TCB{FMC: 3, Bootloader: 1, TEE: 0, SNP: 2, Microcode: 71, HasFMC: true}
	tcbV, err := tcb.tcbVersion(tcbLayoutTurin)
	if err != nil {
		t.Fatal(err)
	}
	turinVCEK := func(tcb TCB, hwid []byte) *kdsExtensions {
		return &kdsExtensions{StructVersion: 1, ProductName: "Turin", TCB: tcb, HWID: hwid, Reserved: map[int]uint8{5: 0, 6: 0, 7: 0}}
	}
	turinVLEK := &kdsExtensions{StructVersion: 1, ProductName: "Turin", TCB: tcb, CSPID: "go-sev-guest", Reserved: map[int]uint8{}}
	fmc0 := tcb
	fmc0.FMC = 0
	noFMC := tcb
	noFMC.HasFMC, noFMC.FMC = false, 0
	otherChip := bytes.Clone(hwid)
	otherChip[7] ^= 1
	tests := []struct {
		name       string
		vcek       *kdsExtensions
		key        sevabi.ReportSigner
		version    uint32 // 5 when 0
		fms        uint32
		tcb        uint64
		chip       []byte
		want       string // error; "" to verify
		wantMasked bool
	}{
		{name: "VCEK", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, chip: hwid},
		{name: "VLEK", vcek: turinVCEK(tcb, hwid), key: sevabi.VlekReportSigner, fms: turinFMS, tcb: tcbV},
		{name: "CHIP_ID masked", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, wantMasked: true},
		{name: "another FMC SPL", vcek: turinVCEK(fmc0, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, chip: hwid,
			want: "REPORTED_TCB is 0x4700000002000103 (fmc=3,bl=1,tee=0,snp=2,ucode=71), but the VCEK certificate is for TCB fmc=0,bl=1,tee=0,snp=2,ucode=71"},
		{name: "no FMC SPL", vcek: turinVCEK(noFMC, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, chip: hwid,
			want: "but the VCEK certificate is for TCB bl=1,tee=0,snp=2,ucode=71"},
		{name: "another chip", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, chip: otherChip,
			want: "CHIP_ID is 3b42092f69c656d2" + strings.Repeat("00", 56) + ", but the VCEK certificate is for HWID 3b42092f69c656d3"},
		{name: "CHIP_ID with more than the HWID", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, fms: turinFMS, tcb: tcbV, chip: append(bytes.Clone(hwid), 1),
			want: "but the VCEK certificate is for HWID 3b42092f69c656d3"},
		// Version 2 reports name no CPUID: the product line is the VCEK's
		// (Turin), the layout Turin's for a CHIP_ID of 8 bytes then zeros
		// (virtee/sev's rule); with CHIP_ID masked it is Milan's and
		// Genoa's, where the VCEK's FMC SPL has no place: fail closed.
		{name: "version 2", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, version: 2, tcb: tcbV, chip: hwid},
		{name: "version 2, CHIP_ID masked", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, version: 2, tcb: tcbV,
			want: "REPORTED_TCB is 0x4700000002000103 (bl=3,tee=1,snp=0,ucode=71), but the VCEK certificate is for TCB fmc=3,bl=1,tee=0,snp=2,ucode=71"},
		// A family 19h report is Genoa's, which go-sev-guest verifies: it
		// refuses the Turin-style VCEK; had it not, the FMC SPL would have
		// no place in Milan's and Genoa's TCB_VERSION layout.
		{name: "Genoa CPUID", vcek: turinVCEK(tcb, hwid), key: sevabi.VcekReportSigner, fms: genoaFMS, tcb: tcbV, chip: hwid,
			want: "hardware signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := snpsigTurinChain(t, tc.vcek, turinVLEK)
			version := tc.version
			if version == 0 {
				version = 5
			}
			b := snpsigTurinReport(t, s, tc.key, version, tc.fms, tc.tcb, tc.chip)
			r, err := ParseSNPReport(b)
			if err != nil {
				t.Fatal(err)
			}
			certs := SNPCerts{VCEK: s.Vcek.Raw, ASK: s.Ask.Raw, ARK: s.Ark.Raw}
			if tc.key == sevabi.VlekReportSigner {
				certs = SNPCerts{VLEK: s.Vlek.Raw, ASK: s.Asvk.Raw, ARK: s.Ark.Raw}
			}
			hw, err := VerifySNPSignature(r, certs, time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC))
			if tc.want != "" {
				if !errors.Is(err, ErrHardwareSignature) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("VerifySNPSignature = %+v, %v; want an error containing %q", hw, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifySNPSignature: %v", err)
			}
			if !hw.Verified || hw.ProductLine != "Turin" || hw.CertifiedTCB == nil || *hw.CertifiedTCB != tcb {
				t.Errorf("Hardware = %+v, CertifiedTCB %v; want verified, Turin, %v", hw, hw.CertifiedTCB, tcb)
			}
			masked := false
			for _, l := range hw.Limits {
				masked = masked || strings.Contains(l, "CHIP_ID masked")
			}
			if masked != tc.wantMasked {
				t.Errorf("Limits %q, want CHIP_ID masked: %v", hw.Limits, tc.wantMasked)
			}
		})
	}
}

// FuzzKDSExtensions: any extension values under AMD's arc never panic the
// parser, and what parses marshals to extensions that parse the same.
func FuzzKDSExtensions(f *testing.F) {
	for _, name := range []string{"snp-oak-turin-vcek.der", "snp-oak-genoa-vcek.der", "snp-vlek.der"} {
		var buf []byte
		for _, e := range snpsigCert(f, name).Extensions {
			if hasPrefix(e.Id, oidAMDKDS) {
				arcs := e.Id[len(oidAMDKDS):]
				sub := 0
				if len(arcs) > 1 {
					sub = arcs[1]
				}
				buf = append(buf, byte(arcs[0]), byte(sub), byte(len(e.Value)))
				buf = append(buf, e.Value...)
			}
		}
		f.Add(buf, name == "snp-vlek.der")
	}
	f.Fuzz(func(t *testing.T, b []byte, vlek bool) {
		// Each extension: arc, sub-arc (0 for none), length, value.
		var exts []pkix.Extension
		for len(b) >= 3 {
			id := kdsOID(int(b[0]))
			if b[1] != 0 {
				id = kdsOID(int(b[0]), int(b[1]))
			}
			n := min(int(b[2]), len(b)-3)
			exts = append(exts, pkix.Extension{Id: id, Value: b[3 : 3+n]})
			b = b[3+n:]
		}
		key := signerVCEK
		if vlek {
			key = signerVLEK
		}
		e, err := parseKDSExtensions(exts, key)
		if err != nil {
			return
		}
		again, err := marshalKDSExtensions(e)
		if err != nil {
			t.Fatalf("marshalKDSExtensions(%+v): %v", e, err)
		}
		e2, err := parseKDSExtensions(again, key)
		if err != nil || !cmp.Equal(e, e2, cmp.AllowUnexported(TCB{})) {
			t.Fatalf("round trip: %+v, then %+v, %v", e, e2, err)
		}
	})
}
