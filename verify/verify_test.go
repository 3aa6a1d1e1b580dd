package verify_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// Facts about the recorded evidence, from the origin repositories' own tests
// (see testdata/README.md).
const (
	recordedChipID  = "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"
	recordedMRTD    = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"
	recordedRTMR0   = "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a"
	recordedRTMR2   = "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e"
	recordedTDAttrs = "0000004000000000"
)

// quoteTime is when go-tdx-guest's tests verify the recorded quote.
var quoteTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

// reportTime is a time at which the recorded VCEK and AMD's roots are valid.
var reportTime = time.Date(2024, time.June, 1, 0, 0, 0, 0, time.UTC)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRecordedSNPReport(t *testing.T) {
	raw := read(t, "testdata/snp-attestation.bin")
	forms := map[string][]byte{
		"binary":     raw,
		"hex":        []byte(hex.EncodeToString(raw) + "\n"),
		"hex lines":  []byte(strings.ToUpper(hex.EncodeToString(raw[:600])) + "\n" + hex.EncodeToString(raw[600:])),
		"base64":     []byte(base64.StdEncoding.EncodeToString(raw)),
		"base64 url": []byte(base64.RawURLEncoding.EncodeToString(raw)),
	}
	for name, b := range forms {
		t.Run(name, func(t *testing.T) {
			ev, err := verify.Parse(b, verify.KindAny)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			r, ok := ev.(*verify.SNPReport)
			if !ok {
				t.Fatalf("Parse gave %T, want *SNPReport", ev)
			}
			if !bytes.Equal(r.Raw(), raw) {
				t.Errorf("Raw() differs from the file")
			}
			fields := map[string]string{}
			for _, f := range r.Fields() {
				fields[f.Name] = f.Value
			}
			if got := fields["CHIP_ID"]; got != recordedChipID {
				t.Errorf("CHIP_ID = %s, want %s", got, recordedChipID)
			}
			if got, want := r.TCBs()["REPORTED_TCB"], (verify.TCB{Bootloader: 2, TEE: 0, SNP: 5, Microcode: 68}); got != want {
				t.Errorf("REPORTED_TCB = %v, want %v", got, want)
			}
			if r.Version() != 2 || r.Platform() != "sev-snp" || len(r.Registers()) != 1 {
				t.Errorf("version %d, platform %s, %d registers; want 2, sev-snp, 1", r.Version(), r.Platform(), len(r.Registers()))
			}
		})
	}
}

func TestParseRecordedTDXQuote(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	ev, err := verify.Parse(raw, verify.KindAny)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	q, ok := ev.(*verify.TDXQuote)
	if !ok {
		t.Fatalf("Parse gave %T, want *TDXQuote", ev)
	}
	regs := map[string]string{}
	for _, r := range q.Registers() {
		regs[r.Name] = r.Hex
	}
	want := map[string]string{"MRTD": recordedMRTD, "RTMR0": recordedRTMR0, "RTMR2": recordedRTMR2, "RTMR3": strings.Repeat("0", 96)}
	for k, v := range want {
		if regs[k] != v {
			t.Errorf("%s = %s, want %s", k, regs[k], v)
		}
	}
	if len(regs) != 5 {
		t.Errorf("%d registers, want MRTD and RTMR0-3", len(regs))
	}
	for _, f := range q.Fields() {
		if f.Name == "TDATTRIBUTES" && !strings.HasPrefix(f.Value, recordedTDAttrs+" ") {
			t.Errorf("TDATTRIBUTES = %s, want %s", f.Value, recordedTDAttrs)
		}
	}
	if q.Debug() {
		t.Errorf("Debug() = true for a production quote")
	}
}

func TestParseErrors(t *testing.T) {
	report := read(t, "testdata/snp-attestation.bin")
	quote := read(t, "testdata/tdx-quote-v4.dat")
	v5 := append([]byte(nil), quote...)
	v5[0] = 5
	badVersion := append([]byte(nil), report...)
	badVersion[0] = 1
	tests := []struct {
		name    string
		in      []byte
		kind    verify.Kind
		wantErr error
	}{
		{"empty", nil, verify.KindAny, verify.ErrTruncated},
		{"truncated report", report[:1000], verify.KindAny, verify.ErrTruncated},
		{"truncated report hex", []byte(hex.EncodeToString(report[:1183])), verify.KindSNPReport, verify.ErrTruncated},
		{"truncated quote", quote[:600], verify.KindAny, verify.ErrTruncated},
		{"truncated quote body", quote[:len(quote)-100], verify.KindTDXQuote, verify.ErrTruncated},
		{"quote v5 with a v4 body", v5, verify.KindAny, verify.ErrMalformed},
		{"report as quote", report, verify.KindTDXQuote, verify.ErrMalformed},
		{"report version 1", badVersion, verify.KindSNPReport, verify.ErrMalformed},
		{"neither", bytes.Repeat([]byte{0xff}, 2000), verify.KindAny, verify.ErrMalformed},
		{"bad text", []byte("this is not hex! nor base64"), verify.KindAny, verify.ErrMalformed},
		{"bad cert table", append(append([]byte(nil), report...), bytes.Repeat([]byte{1}, 40)...), verify.KindSNPReport, verify.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.Parse(tc.in, tc.kind)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Parse = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRecordedSNPSignature(t *testing.T) {
	raw := read(t, "testdata/snp-attestation.bin")
	vcek := read(t, "testdata/snp-vcek.der")
	chain := read(t, "testdata/snp-ask-ark-milan.pem")
	ask, ark := splitPEM(t, chain)
	tampered := append([]byte(nil), raw...)
	tampered[0x90] ^= 1 // MEASUREMENT
	tests := []struct {
		name       string
		report     []byte
		certs      verify.SNPCerts
		now        time.Time
		wantErr    error
		wantVendor bool
	}{
		{"built-in AMD roots", raw, verify.SNPCerts{VCEK: vcek}, reportTime, nil, true},
		{"roots given", raw, verify.SNPCerts{VCEK: vcek, ASK: ask, ARK: ark}, reportTime, nil, true},
		{"measurement altered", tampered, verify.SNPCerts{VCEK: vcek}, reportTime, verify.ErrHardwareSignature, false},
		{"VCEK expired", raw, verify.SNPCerts{VCEK: vcek}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), verify.ErrHardwareSignature, false},
		{"no VCEK", raw, verify.SNPCerts{}, reportTime, verify.ErrNoCertificate, false},
		{"ARK without ASK", raw, verify.SNPCerts{VCEK: vcek, ARK: ark}, reportTime, verify.ErrNoCertificate, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.ParseSNPReport(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			hw, err := verify.VerifySNPSignature(r, tc.certs, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifySNPSignature = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !hw.Checked || hw.Signer != "VCEK" || hw.ProductLine != "Milan" || hw.VendorRoot != tc.wantVendor {
				t.Errorf("VerifySNPSignature = %+v, want checked, VCEK, Milan, vendor root %v", hw, tc.wantVendor)
			}
			// The real VCEK vouches for the report's REPORTED_TCB and CHIP_ID
			// (not masked), so both comparisons ran and passed.
			if want := (verify.TCB{Bootloader: 2, TEE: 0, SNP: 5, Microcode: 68}); hw.CertifiedTCB == nil || *hw.CertifiedTCB != want {
				t.Errorf("CertifiedTCB = %v, want %v", hw.CertifiedTCB, want)
			}
			for _, l := range hw.Limits {
				if strings.Contains(l, "HWID") {
					t.Errorf("Limits = %q, want the HWID compared", hw.Limits)
				}
			}
		})
	}
}

func TestRecordedTDXSignature(t *testing.T) {
	raw := read(t, "testdata/tdx-quote-v4.dat")
	tests := []struct {
		name    string
		mutate  func([]byte)
		now     time.Time
		wantErr error
	}{
		{"valid", func([]byte) {}, quoteTime, nil},
		{"MRTD altered", func(b []byte) { b[48+136] ^= 1 }, quoteTime, verify.ErrHardwareSignature},
		{"REPORTDATA altered", func(b []byte) { b[48+520] ^= 0x80 }, quoteTime, verify.ErrHardwareSignature},
		{"chain expired", func([]byte) {}, time.Date(2053, 1, 1, 0, 0, 0, 0, time.UTC), verify.ErrHardwareSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), raw...)
			tc.mutate(b)
			q, err := verify.ParseTDXQuote(b)
			if err != nil {
				t.Fatal(err)
			}
			hw, err := verify.VerifyTDXSignature(q, nil, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifyTDXSignature = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (!hw.Checked || !hw.VendorRoot) {
				t.Errorf("VerifyTDXSignature = %+v, want checked with the vendor root", hw)
			}
		})
	}
}

// splitPEM returns the two certificates of a KDS cert_chain (ASK, then ARK).
func splitPEM(t *testing.T, b []byte) (ask, ark []byte) {
	t.Helper()
	const end = "-----END CERTIFICATE-----"
	i := bytes.Index(b, []byte(end))
	if i < 0 {
		t.Fatal("no certificate in chain")
	}
	return b[:i+len(end)], bytes.TrimSpace(b[i+len(end):])
}

// vector is one SEV-SNP row of testdata/vectors/snp.tsv: a configuration and
// the digest virtee/sev-snp-measure computed for it.
type vector struct {
	id             string
	ovmf           string
	kernel, initrd string
	cmdline        string
	hasCmdline     bool
	cfg            snp.Config
	expected       snp.SNPDigest
}

const repoRoot = ".."

var fixtures = map[string]string{
	"$BOOKWORM_OVMF":  "testdata/fixtures/bookworm-OVMF.fd",
	"$BOOKWORM_CODE":  "testdata/fixtures/bookworm-OVMF_CODE.fd",
	"$TRIXIE_OVMF":    "testdata/fixtures/trixie-OVMF.fd",
	"$INITRD":         "testdata/fixtures/test-initrd.cpio",
	"$KERNEL":         "../shared/fixtures/debian/vmlinuz-6.1.0-56-cloud-amd64",
	"$AMDSEV_SUFFIX":  "../shared/fixtures/upstream/ovmf_AmdSev_suffix.bin",
	"$OVMFX64_SUFFIX": "../shared/fixtures/upstream/ovmf_OvmfX64_suffix.bin",
}

// snpVectors reads the rows of snp.tsv that compute an SEV-SNP digest.
func snpVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "testdata/vectors/snp.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 || cols[2] == "ERROR" {
			continue
		}
		args := shellSplit(cols[1])
		if args[0] != "snp" {
			continue
		}
		v := vector{id: cols[0], cfg: snp.Config{VMM: snp.VMMQEMU, GuestFeatures: 1}}
		if v.expected, err = snp.ParseSNPDigest(cols[2]); err != nil {
			t.Fatalf("%s: %v", cols[0], err)
		}
		for i := 1; i+1 < len(args); i += 2 {
			val := args[i+1]
			if p, ok := fixtures[val]; ok {
				val = filepath.Join(repoRoot, p)
			}
			switch args[i] {
			case "--vcpus":
				v.cfg.VCPUs, _ = strconv.Atoi(val)
			case "--vcpu-type":
				c, err := snp.LookupCPUType(val)
				if err != nil {
					t.Fatal(err)
				}
				v.cfg.VCPUSig = c.Signature()
			case "--vmm-type":
				v.cfg.VMM, _ = snp.ParseVMMType(val)
			case "--guest-features":
				v.cfg.GuestFeatures, _ = strconv.ParseUint(val, 0, 64)
			case "--ovmf":
				v.ovmf = val
			case "--kernel":
				v.kernel = val
			case "--initrd":
				v.initrd = val
			case "--append":
				v.cmdline, v.hasCmdline = val, true
			case "--snp-ovmf-hash":
			default:
				t.Fatalf("%s: flag %s unknown to this test", v.id, args[i])
			}
		}
		out = append(out, v)
	}
	return out
}

// shellSplit splits words as a POSIX shell does for the vectors' args:
// blanks separate words, single quotes group.
func shellSplit(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote, inWord = !inQuote, true
		case r == ' ' && !inQuote:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func loadImage(t testing.TB, path string) *ovmf.Image {
	t.Helper()
	img, err := ovmf.Parse(read(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func refsFor(platform string, values ...provenance.ReferenceValue) *provenance.ReferenceValues {
	return &provenance.ReferenceValues{Platform: platform, Firmware: provenance.Firmware{Name: "OVMF.fd"}, Values: values}
}

func snpRef(cfg provenance.Configuration, d string) provenance.ReferenceValue {
	return provenance.ReferenceValue{Configuration: cfg, Measurements: []provenance.Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": d}}}}
}

// TestSyntheticReports runs reports made with go-sev-guest's test fakes and
// signed by its test keys, carrying digests from the vectors, through
// parsing, signature, comparison and policy.
func TestSyntheticReports(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	vecs := snpVectors(t)
	byID := map[string]vector{}
	for _, v := range vecs {
		byID[v.id] = v
	}
	v4 := byID["snp-qemu-bookworm-ovmf-v4-4"]
	milan := byID["snp-qemu-bookworm-ovmf-milan-16"]
	refs := refsFor("sev-snp",
		snpRef(provenance.Configuration{VMMType: "qemu", VCPUs: 16, VCPUType: "EPYC-Milan", GuestFeatures: "0x1"}, milan.expected.String()),
		snpRef(provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-v4", GuestFeatures: "0x1"}, v4.expected.String()),
	)
	roots := verify.SNPCerts{VCEK: signer.VCEK(), ASK: signer.ASK(), ARK: signer.ARK()}
	table, err := signer.CertTable()
	if err != nil {
		t.Fatal(err)
	}
	gen := byID["snp-qemu-bookworm-ovmf-genoa-64"]

	tests := []struct {
		name      string
		report    verifytest.Report
		mutate    func([]byte) []byte
		certs     *verify.SNPCerts
		wantParse error
		wantHW    error
		wantMatch string // configuration, or "" for a mismatch
		wantPol   error
	}{
		{name: "match", report: verifytest.Report{Measurement: v4.expected}, certs: &roots, wantMatch: "--vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1"},
		{name: "match without certificates", report: verifytest.Report{Measurement: milan.expected}, wantMatch: "--vmm-type qemu --vcpus 16 --vcpu-type EPYC-Milan --guest-features 0x1"},
		{name: "extended report", report: verifytest.Report{Measurement: v4.expected},
			mutate: func(b []byte) []byte { return append(b, table...) },
			certs:  &verify.SNPCerts{ASK: signer.ASK(), ARK: signer.ARK()}, wantMatch: "--vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1"},
		{name: "mismatch", report: verifytest.Report{Measurement: gen.expected}, certs: &roots},
		{name: "wrong signature", report: verifytest.Report{Measurement: v4.expected},
			mutate: func(b []byte) []byte { b[0x90+47] ^= 0x01; return b }, certs: &roots, wantHW: verify.ErrHardwareSignature},
		{name: "test key against AMD roots", report: verifytest.Report{Measurement: v4.expected},
			certs: &verify.SNPCerts{VCEK: signer.VCEK()}, wantHW: verify.ErrHardwareSignature},
		{name: "truncated", report: verifytest.Report{Measurement: v4.expected},
			mutate: func(b []byte) []byte { return b[:verify.SNPReportSize-1] }, wantParse: verify.ErrTruncated},
		{name: "debug policy", report: verifytest.Report{Measurement: v4.expected, Policy: verifytest.PolicyNoDebug | verifytest.PolicyDebugBit},
			certs: &roots, wantMatch: "--vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1", wantPol: verify.ErrPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := signer.Sign(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				b = tc.mutate(b)
			}
			ev, err := verify.Parse(b, verify.KindSNPReport)
			if !errors.Is(err, tc.wantParse) {
				t.Fatalf("Parse = %v, want %v", err, tc.wantParse)
			}
			if err != nil {
				return
			}
			r := ev.(*verify.SNPReport)
			if tc.certs != nil {
				hw, err := verify.VerifySNPSignature(r, *tc.certs, reportTime)
				if !errors.Is(err, tc.wantHW) {
					t.Fatalf("VerifySNPSignature = %v, want %v", err, tc.wantHW)
				}
				if err != nil {
					return
				}
				if hw.VendorRoot {
					t.Errorf("VendorRoot = true for the test ARK")
				}
			}
			c, err := verify.Compare(ev, refs)
			if tc.wantMatch == "" {
				if !errors.Is(err, verify.ErrMismatch) || len(c.Matches) != 0 || c.Compared != 2 {
					t.Errorf("Compare = %+v, %v; want a mismatch of 2 configurations", c, err)
				}
			} else {
				if err != nil || len(c.Matches) != 1 {
					t.Fatalf("Compare = %+v, %v; want one match", c, err)
				}
				if got := verify.DescribeConfiguration(c.Matches[0].Configuration); got != tc.wantMatch {
					t.Errorf("matched %q, want %q", got, tc.wantMatch)
				}
			}
			_, err = verify.CheckPolicy(ev, verify.Policy{})
			if !errors.Is(err, tc.wantPol) {
				t.Errorf("CheckPolicy = %v, want %v", err, tc.wantPol)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], "nonce")
	tcb := uint64(0x4405000000000002) // ucode 0x44, snp 5, bl 2
	b, err := signer.Sign(verifytest.Report{ReportData: rd, VMPL: 1, TCB: tcb})
	if err != nil {
		t.Fatal(err)
	}
	r, err := verify.ParseSNPReport(b)
	if err != nil {
		t.Fatal(err)
	}
	vmpl0, vmpl1 := uint32(0), uint32(1)
	tests := []struct {
		name   string
		p      verify.Policy
		failed []string
	}{
		{"default", verify.Policy{}, nil},
		{"report data", verify.Policy{ReportData: []byte("nonce")}, nil},
		{"wrong report data", verify.Policy{ReportData: []byte("other")}, []string{"REPORT_DATA"}},
		{"vmpl", verify.Policy{VMPL: &vmpl1}, nil},
		{"wrong vmpl", verify.Policy{VMPL: &vmpl0}, []string{"VMPL"}},
		{"tcb met", verify.Policy{MinTCB: &verify.TCB{Bootloader: 2, SNP: 5, Microcode: 68}}, nil},
		{"tcb too low", verify.Policy{MinTCB: &verify.TCB{SNP: 6}}, []string{"COMMITTED_TCB", "CURRENT_TCB", "REPORTED_TCB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks, err := verify.CheckPolicy(r, tc.p)
			var failed []string
			for _, c := range checks {
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			if diff := cmp.Diff(tc.failed, failed); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s", diff)
			}
			if (err != nil) != (len(tc.failed) > 0) || (err != nil && !errors.Is(err, verify.ErrPolicy)) {
				t.Errorf("CheckPolicy error %v, want ErrPolicy iff a check fails", err)
			}
		})
	}
}

func TestParseTCB(t *testing.T) {
	tests := []struct {
		in      string
		want    verify.TCB
		wantErr bool
	}{
		{"bl=2,tee=0,snp=5,ucode=68", verify.TCB{Bootloader: 2, SNP: 5, Microcode: 68}, false},
		{"snp=22", verify.TCB{SNP: 22}, false},
		// A TCB_VERSION number is read in the layout of the report it is
		// compared with: TestMinTCB (snpsig_test.go).
		{"snp=300", verify.TCB{}, true},
		{"fw=1", verify.TCB{}, true},
		{"lots", verify.TCB{}, true},
	}
	for _, tc := range tests {
		got, err := verify.ParseTCB(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("ParseTCB(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCompareTDX(t *testing.T) {
	ev, err := verify.Parse(read(t, "testdata/tdx-quote-v4.dat"), verify.KindAny)
	if err != nil {
		t.Fatal(err)
	}
	zero := strings.Repeat("0", 96)
	other := strings.Repeat("ab", 48)
	tdxRef := func(name string, regs ...string) provenance.ReferenceValue {
		v := provenance.ReferenceValue{Configuration: provenance.Configuration{VMMType: name}}
		for i, r := range []string{"MRTD", "RTMR0", "RTMR2", "RTMR3"} {
			if i < len(regs) {
				v.Measurements = append(v.Measurements, provenance.Measurement{Register: r, Digest: map[string]string{"sha384": regs[i]}})
			}
		}
		return v
	}
	tests := []struct {
		name        string
		refs        *provenance.ReferenceValues
		wantErr     error
		wantMatch   string
		wantNearest string
		wantDiffer  []string
	}{
		{"all registers", refsFor("tdx", tdxRef("a", other), tdxRef("b", recordedMRTD, recordedRTMR0, recordedRTMR2, zero)), nil, "b", "", nil},
		{"MRTD only", refsFor("tdx", tdxRef("a", recordedMRTD)), nil, "a", "", nil},
		{"kernel differs", refsFor("tdx", tdxRef("a", other, other), tdxRef("b", recordedMRTD, recordedRTMR0, other, zero)), verify.ErrMismatch, "", "b", []string{"RTMR2"}},
		// The only configuration is the nearest even with nothing equal:
		// its got and want are all there is to say.
		{"nothing equal, one configuration", refsFor("tdx", tdxRef("a", other)), verify.ErrMismatch, "", "a", []string{"MRTD"}},
		{"nothing equal, two configurations", refsFor("tdx", tdxRef("a", other), tdxRef("b", other)), verify.ErrMismatch, "", "", nil},
		{"SNP values", refsFor("sev-snp", snpRef(provenance.Configuration{}, other)), verify.ErrPlatform, "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.Compare(ev, tc.refs)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Compare = %v, want %v", err, tc.wantErr)
			}
			if c == nil {
				return
			}
			var match, nearest string
			var differ []string
			if len(c.Matches) > 0 {
				match = c.Matches[0].Configuration.VMMType
			}
			if c.Nearest != nil {
				nearest = c.Nearest.Configuration.VMMType
				for _, d := range c.Nearest.Differ {
					differ = append(differ, d.Register)
				}
			}
			if match != tc.wantMatch || nearest != tc.wantNearest || !cmp.Equal(differ, tc.wantDiffer) {
				t.Errorf("Compare: match %q, nearest %q differing %v; want %q, %q, %v", match, nearest, differ, tc.wantMatch, tc.wantNearest, tc.wantDiffer)
			}
		})
	}
}
