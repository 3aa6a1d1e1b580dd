package verify_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/verify"
)

// realTime is when project-oak/oak's tests check its Genoa and Turin VCEKs
// (oak_attestation_verification/src/amd/tests.rs, current_time); the
// virtee/sev VCEK, the AWS VLEK and AMD's roots are valid then too.
var realTime = time.Date(2025, time.October, 1, 8, 0, 0, 0, time.UTC)

// realSNP is a report recorded on real hardware by another project, with
// the key that signed it and the facts the source's own tests (or the
// certificate the source fetched for it) assert; see testdata/README.md.
type realSNP struct {
	name         string
	report, cert string // files in testdata/
	vlek         bool   // cert is a VLEK
	version      uint32
	measurement  string
	chipID       string
	reportedTCB  verify.TCB
	productLine  string
	root         string // the ARK's common name
	// flips are bytes of the signed area whose change the source's tests
	// show to break verification.
	flips []int
}

var realSNPs = []realSNP{
	{
		name: "virtee/sev Milan", report: "snp-virtee-milan-report.bin", cert: "snp-virtee-milan-vcek.der",
		version:     2,
		measurement: "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
		chipID:      "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6",
		reportedTCB: verify.TCB{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115},
		productLine: "Milan", root: "ARK-Milan",
		flips: []int{21, 0x90, 0x180}, // 21: virtee's milan_report_invalid
	},
	{
		name: "trustee AWS VLEK Milan", report: "snp-vlek-report.bin", cert: "snp-vlek.der", vlek: true,
		version:     3,
		measurement: "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0",
		chipID:      strings.Repeat("00", 64),
		reportedTCB: verify.TCB{Bootloader: 4, TEE: 0, SNP: 24, Microcode: 217},
		productLine: "Milan", root: "ARK-Milan",
		flips: []int{42, 384, 0x90}, // trustee's check_vlek_report_signature_failure and _tcb_failure
	},
	{
		name: "oak Genoa", report: "snp-oak-genoa-report.bin", cert: "snp-oak-genoa-vcek.der",
		version:     5,
		measurement: "c57729018b0a6fb90dc17bb138b0aa35e4401004283ff4a2c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc",
		chipID:      "d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102adbc7c53d0302bff82a432c94a305dec7a7a270ceb19a10f04a83316c6486968d",
		reportedTCB: verify.TCB{Bootloader: 10, TEE: 0, SNP: 25, Microcode: 84},
		productLine: "Genoa", root: "ARK-Genoa",
		flips: []int{0x90, 0x180, 0x1a0},
	},
	{
		// project-oak/oak turin_oc_evidence; its TCB_VERSION fields have
		// Turin's layout, REPORTED_TCB bytes 00 01 00 02 00 00 00 47.
		name: "oak Turin", report: "snp-oak-turin-report.bin", cert: "snp-oak-turin-vcek.der",
		version:     5,
		measurement: turinMeasurement,
		chipID:      turinHWID + strings.Repeat("00", 56),
		reportedTCB: verify.TCB{FMC: 0, Bootloader: 1, TEE: 0, SNP: 2, Microcode: 71, HasFMC: true},
		productLine: "Turin", root: "ARK-Turin",
		flips: []int{0x90, 0x180, 0x1a0},
	},
}

// The Turin report (project-oak/oak, turin_oc_evidence): its TCB_VERSION
// fields have the Turin layout, FMC, BOOT_LOADER, TEE, SNP at bytes 0-3 and
// MICROCODE at byte 7 (SEV-SNP ABI 1.58, TCB_VERSION for family 1Ah).
const (
	turinReport      = "testdata/snp-oak-turin-report.bin"
	turinVCEK        = "testdata/snp-oak-turin-vcek.der"
	turinMeasurement = "f924dd18f168df60fbea937f0b086284d51b1b376de872bac43694f61134d57967c318018de7335503023dbb50dee624"
	turinHWID        = "3b42092f69c656d3" // 8 bytes; the rest of CHIP_ID is zeros
	// offReportedTCB is REPORTED_TCB's offset (SEV-SNP ABI Table 23).
	offReportedTCB = 0x180
	// signedArea is how many bytes of a report its signature covers
	// (SEV-SNP ABI Table 23: bytes 0h to 29Fh).
	signedArea = 0x2a0
)

func (e realSNP) certs(t testing.TB) verify.SNPCerts {
	c := read(t, "testdata/"+e.cert)
	if e.vlek {
		return verify.SNPCerts{VLEK: c}
	}
	return verify.SNPCerts{VCEK: c}
}

func parseSNPFile(t testing.TB, path string) *verify.SNPReport {
	t.Helper()
	r, err := verify.ParseSNPReport(read(t, path))
	if err != nil {
		t.Fatalf("ParseSNPReport(%s): %v", path, err)
	}
	return r
}

func fieldMap(r *verify.SNPReport) map[string]string {
	m := map[string]string{}
	for _, f := range r.Fields() {
		m[f.Name] = f.Value
	}
	return m
}

// TestRealSNPReportsParse: each report parses, and its fields are those
// its source asserts.
func TestRealSNPReportsParse(t *testing.T) {
	for _, e := range realSNPs {
		t.Run(e.name, func(t *testing.T) {
			r := parseSNPFile(t, "testdata/"+e.report)
			if got := hex.EncodeToString(r.Registers()[0].Value); got != e.measurement {
				t.Errorf("MEASUREMENT = %s, want %s", got, e.measurement)
			}
			if r.Version() != e.version {
				t.Errorf("VERSION = %d, want %d", r.Version(), e.version)
			}
			f := fieldMap(r)
			if f["CHIP_ID"] != e.chipID {
				t.Errorf("CHIP_ID = %s, want %s", f["CHIP_ID"], e.chipID)
			}
			if got := r.TCBs()["REPORTED_TCB"]; got != e.reportedTCB {
				t.Errorf("REPORTED_TCB = %v, want %v", got, e.reportedTCB)
			}
			signer := "signed by VCEK"
			if e.vlek {
				signer = "signed by VLEK"
			}
			if !strings.Contains(f["SIGNER_INFO"], signer) {
				t.Errorf("SIGNER_INFO = %s, want %s", f["SIGNER_INFO"], signer)
			}
			if r.Debug() {
				t.Errorf("Debug() = true; the source's policy has debug off")
			}
			if e.version >= 3 && !strings.HasSuffix(f["CPUID_FAM_ID/MOD_ID/STEP"], "("+e.productLine+")") {
				t.Errorf("CPUID_FAM_ID/MOD_ID/STEP = %s, want %s", f["CPUID_FAM_ID/MOD_ID/STEP"], e.productLine)
			}
		})
	}
}

// TestRealSNPReportsVerify: each report verifies, at a time its
// certificates are valid, to AMD's root built into go-sev-guest, with only
// its VCEK or VLEK given (a VLEK through the built-in ASVK), and the
// certificate vouches for the REPORTED_TCB the source asserts.
func TestRealSNPReportsVerify(t *testing.T) {
	for _, e := range realSNPs {
		t.Run(e.name, func(t *testing.T) {
			r := parseSNPFile(t, "testdata/"+e.report)
			hw, err := verify.VerifySNPSignature(r, e.certs(t), realTime)
			if err != nil {
				t.Fatalf("VerifySNPSignature: %v", err)
			}
			signer := "VCEK"
			if e.vlek {
				signer = "VLEK"
			}
			if !hw.Checked || !hw.Verified || !hw.VendorRoot || hw.Signer != signer || hw.ProductLine != e.productLine ||
				!strings.HasPrefix(hw.Root, e.root+" ") {
				t.Errorf("Hardware = %+v; want checked, verified, vendor root %s, signer %s, product line %s", hw, e.root, signer, e.productLine)
			}
			if hw.CertifiedTCB == nil || *hw.CertifiedTCB != e.reportedTCB {
				t.Errorf("CertifiedTCB = %v, want %v", hw.CertifiedTCB, e.reportedTCB)
			}
			if err := hw.Trusted(verify.HardwareTrust{}); err != nil {
				t.Errorf("Trusted() = %v", err)
			}
			// The VCEK reports carry their CHIP_ID, which was compared with
			// the HWID; a VLEK has no HWID (the AWS report's CHIP_ID is zeros).
			for _, l := range hw.Limits {
				if strings.Contains(l, "CHIP_ID masked") {
					t.Errorf("Limits = %q; the HWID was not compared", hw.Limits)
				}
			}
		})
	}
}

// TestRealSNPReportsRejected: one changed byte of the signed area (the
// bytes the sources' own negative tests change, and MEASUREMENT), another
// project's certificate, or a time outside the certificate's validity fails
// as a hardware signature failure.
func TestRealSNPReportsRejected(t *testing.T) {
	type reject struct {
		name   string
		report []byte
		certs  verify.SNPCerts
		at     time.Time
		want   error
		msg    string
	}
	var tests []reject
	for _, e := range realSNPs {
		raw := read(t, "testdata/"+e.report)
		for _, off := range e.flips {
			b := bytes.Clone(raw)
			b[off]++
			tests = append(tests, reject{name: fmt.Sprintf("%s, byte %#x changed", e.name, off), report: b, certs: e.certs(t), at: realTime, want: verify.ErrHardwareSignature, msg: "signature verification"})
		}
	}
	milan := read(t, "testdata/snp-virtee-milan-report.bin")
	vlekReport := read(t, "testdata/snp-vlek-report.bin")
	genoa := read(t, "testdata/snp-oak-genoa-report.bin")
	virteeVCEK := read(t, "testdata/snp-virtee-milan-vcek.der")
	googleVCEK := read(t, "testdata/snp-vcek.der")
	vlek := read(t, "testdata/snp-vlek.der")
	tests = append(tests,
		reject{name: "virtee report, go-sev-guest's VCEK", report: milan, certs: verify.SNPCerts{VCEK: googleVCEK}, at: realTime, want: verify.ErrHardwareSignature, msg: "signature verification"},
		reject{name: "go-sev-guest's report, virtee's VCEK", report: read(t, "testdata/snp-attestation.bin"), certs: verify.SNPCerts{VCEK: virteeVCEK}, at: realTime, want: verify.ErrHardwareSignature, msg: "signature verification"},
		reject{name: "Genoa report, a Milan VCEK", report: genoa, certs: verify.SNPCerts{VCEK: virteeVCEK}, at: realTime, want: verify.ErrHardwareSignature, msg: "SEV-Genoa"},
		reject{name: "VLEK report, a VCEK given as the VLEK", report: vlekReport, certs: verify.SNPCerts{VLEK: virteeVCEK}, at: realTime, want: verify.ErrHardwareSignature, msg: "SEV-VLEK"},
		// SIGNER_INFO says VLEK: a VCEK slot is not looked at.
		reject{name: "VLEK report, the VLEK given as a VCEK", report: vlekReport, certs: verify.SNPCerts{VCEK: vlek}, at: realTime, want: verify.ErrNoCertificate, msg: "no VLEK certificate"},
		reject{name: "Turin report, the Genoa VCEK", report: read(t, turinReport), certs: verify.SNPCerts{VCEK: read(t, "testdata/snp-oak-genoa-vcek.der")}, at: realTime, want: verify.ErrHardwareSignature, msg: `issued by "SEV-Genoa", not by "SEV-Turin"`},
		reject{name: "Turin report, the Turin VCEK as a VLEK", report: read(t, turinReport), certs: verify.SNPCerts{VLEK: read(t, turinVCEK)}, at: realTime, want: verify.ErrNoCertificate, msg: "no VCEK certificate"},
		// The Turin VCEK is valid 2025-07-17 to 2032-07-17 (openssl x509 -dates).
		reject{name: "Turin VCEK expired", report: read(t, turinReport), certs: verify.SNPCerts{VCEK: read(t, turinVCEK)}, at: time.Date(2032, time.August, 1, 0, 0, 0, 0, time.UTC), want: verify.ErrHardwareSignature, msg: "expired or is not yet valid"},
		reject{name: "Turin VCEK not yet valid", report: read(t, turinReport), certs: verify.SNPCerts{VCEK: read(t, turinVCEK)}, at: time.Date(2025, time.July, 1, 0, 0, 0, 0, time.UTC), want: verify.ErrHardwareSignature, msg: "expired or is not yet valid"},
		// The VLEK is valid 2024-12-10 to 2025-12-10 (openssl x509 -dates).
		reject{name: "VLEK expired", report: vlekReport, certs: verify.SNPCerts{VLEK: vlek}, at: time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC), want: verify.ErrHardwareSignature, msg: "expired or is not yet valid"},
		reject{name: "VLEK not yet valid", report: vlekReport, certs: verify.SNPCerts{VLEK: vlek}, at: time.Date(2024, time.December, 1, 0, 0, 0, 0, time.UTC), want: verify.ErrHardwareSignature, msg: "expired or is not yet valid"},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.ParseSNPReport(tc.report)
			if err != nil {
				t.Fatalf("ParseSNPReport: %v", err)
			}
			hw, err := verify.VerifySNPSignature(r, tc.certs, tc.at)
			if !errors.Is(err, tc.want) || !strings.Contains(errString(err), tc.msg) {
				t.Fatalf("VerifySNPSignature = %+v, %v; want %v containing %q", hw, err, tc.want, tc.msg)
			}
			t.Log(err)
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRealSNPTurin: the genuine Turin report and VCEK, which
// project-oak/oak's verifier accepts (verifier_tests.rs, test_verify_success
// load_turin_oc) and whose fields YAXI's routex-client-lua asserts
// (tests/report_spec.lua, "Verify Turin"), verify to AMD's Turin ARK (the
// VCEK carries the FMC SPL extension, which go-sev-guest v0.15.0 refuses,
// and an 8-byte HWID); the TCB_VERSION fields read in Turin's layout, so
// REPORTED_TCB is fmc=0,bl=1,tee=0,snp=2,ucode=71 (Oak's reference values
// and its KDS request for the VCEK), and a minimum TCB is held against
// that: tee=1, which the Milan/Genoa layout's misreading (bl=0,tee=1,
// snp=0,ucode=71) met, fails.
func TestRealSNPTurin(t *testing.T) {
	raw := read(t, turinReport)
	r := parseSNPFile(t, turinReport)
	f := fieldMap(r)
	if r.Version() != 5 || f["CPUID_FAM_ID/MOD_ID/STEP"] != "0x1a/0x2/0x1 (Turin)" {
		t.Errorf("VERSION %d, CPUID %s; want 5, 0x1a/0x2/0x1 (Turin)", r.Version(), f["CPUID_FAM_ID/MOD_ID/STEP"])
	}
	if got, want := raw[offReportedTCB:offReportedTCB+8], []byte{0, 1, 0, 2, 0, 0, 0, 71}; !bytes.Equal(got, want) {
		t.Errorf("REPORTED_TCB bytes = % x, want % x", got, want)
	}
	if got, want := f["REPORTED_TCB"], "0x4700000002000100 (fmc=0,bl=1,tee=0,snp=2,ucode=71)"; got != want {
		t.Errorf("REPORTED_TCB field = %s, want %s", got, want)
	}
	hw, err := verify.VerifySNPSignature(r, verify.SNPCerts{VCEK: read(t, turinVCEK)}, realTime)
	if err != nil {
		t.Fatalf("VerifySNPSignature: %v", err)
	}
	want := verify.TCB{FMC: 0, Bootloader: 1, TEE: 0, SNP: 2, Microcode: 71, HasFMC: true}
	if hw.CertifiedTCB == nil || *hw.CertifiedTCB != want || hw.CertifiedTCB.String() != "fmc=0,bl=1,tee=0,snp=2,ucode=71" {
		t.Errorf("CertifiedTCB = %v, want %v", hw.CertifiedTCB, want)
	}
	b, err := json.Marshal(hw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"certified_tcb":{"fmc":0,"bootloader":1,"tee":0,"snp":2,"microcode":71}`) {
		t.Errorf("JSON %s lacks the certified TCB with fmc", b)
	}

	tests := []struct {
		min  string
		want error
		msg  string
	}{
		{"tee=1", verify.ErrPolicy, "REPORTED_TCB is fmc=0,bl=1,tee=0,snp=2,ucode=71, want at least bl=0,tee=1,snp=0,ucode=0"},
		{"fmc=0,bl=1,tee=0,snp=2,ucode=71", nil, ""},
		{"bl=1,snp=2", nil, ""},
		{"fmc=1", verify.ErrPolicy, "want at least fmc=1"},
		{"snp=3", verify.ErrPolicy, "want at least bl=0,tee=0,snp=3,ucode=0"},
		{"0x4700000002000100", nil, ""},
		{"0x4700000002000101", verify.ErrPolicy, "want at least fmc=1,bl=1,tee=0,snp=2,ucode=71 (TCB_VERSION 0x4700000002000101 in the report's layout)"},
	}
	for _, tc := range tests {
		min, err := verify.ParseTCB(tc.min)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verify.CheckPolicy(r, verify.Policy{MinTCB: &min})
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil || !strings.Contains(errString(err), tc.msg) {
			t.Errorf("CheckPolicy(--min-tcb %s) = %v, want %v containing %q", tc.min, err, tc.want, tc.msg)
		}
	}
	// An FMC minimum cannot be met by a Milan or Genoa report: fail closed.
	genoa := parseSNPFile(t, "testdata/snp-oak-genoa-report.bin")
	fmc0 := verify.TCB{HasFMC: true}
	if _, err := verify.CheckPolicy(genoa, verify.Policy{MinTCB: &fmc0}); !errors.Is(err, verify.ErrPolicy) || !strings.Contains(err.Error(), "FMC component only a Turin TCB has") {
		t.Errorf("CheckPolicy(Genoa report, fmc=0) = %v, want ErrPolicy saying only Turin has FMC", err)
	}
}

// FuzzVerifyRealSNP: a report changed anywhere never panics the verifier
// with real certificates, and verifies only if its signed area is one that
// AMD's key signed.
func FuzzVerifyRealSNP(f *testing.F) {
	type signed struct {
		area  []byte
		certs verify.SNPCerts
	}
	var originals []signed
	for _, e := range realSNPs {
		b := read(f, "testdata/"+e.report)
		originals = append(originals, signed{b[:signedArea], e.certs(f)})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := verify.ParseSNPReport(b)
		if err != nil {
			return
		}
		for _, o := range originals {
			hw, err := verify.VerifySNPSignature(r, o.certs, realTime)
			if err == nil && !bytes.Equal(r.Raw()[:signedArea], o.area) {
				t.Fatalf("a changed report verified: %+v", hw)
			}
		}
	})
}
