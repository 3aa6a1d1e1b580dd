package verifier

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The subjects below are those openssl x509 -subject prints for the files
// (verify/testdata/README.md says where each comes from).
func TestGuessRole(t *testing.T) {
	s, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"cert.bin", read(t, "../../verify/testdata/snp-vcek.der"), "vcek"},             // CN=SEV-VCEK
		{"ark.der", read(t, "../../verify/testdata/snp-vcek.der"), "vcek"},              // the certificate wins over the name
		{"x.der", read(t, "../../verify/testdata/snp-vlek.der"), "vlek"},                // CN=SEV-VLEK
		{"x.pem", read(t, "../../verify/testdata/snp-ask-ark-milan.pem"), "cert_chain"}, // CN=SEV-Milan, CN=ARK-Milan
		{"x.pem", read(t, "../../verify/intel-sgx-root-ca.pem"), "root"},                // CN=Intel SGX Root CA
		{"tdx-tcbinfo-issuer-chain.pem", read(t, "../../verify/testdata/tdx-tcbinfo-issuer-chain.pem"), "tcb_info_issuer_chain"},
		{"tdx-tcbinfo.json", nil, "tcb_info"},
		{"tdx-qeidentity.json", nil, "qe_identity"},
		{"qe_identity_issuer_chain.pem", nil, "qe_identity_issuer_chain"},
		{"tdx-pckcrl.der", nil, "pck_crl"},
		{"tdx-pckcrl-issuer-chain.pem", nil, "pck_crl_issuer_chain"},
		{"tdx-rootcrl.der", nil, "root_crl"},
		{"pckCert.pem", nil, "pck_cert"},
		{"pckSignChain.pem", nil, "pck_sign_chain"},
		{"ask_ark.pem", nil, "cert_chain"},
		{"Milan-CRL.der", nil, "crl"},
		{"vcek.testcer", nil, "vcek"},
		{"a.der", s.VCEK(), "vcek"},
		{"b.der", s.ASK(), "ask"},
		{"c.der", s.ARK(), "ark"},
		{"d.der", s.VLEK(), "vlek"},
		{"e.der", s.ASVK(), "asvk"},
		{"report.bin", read(t, "../../verify/testdata/snp-attestation.bin"), ""},
		{"notes.txt", []byte("hello"), ""},
	}
	for _, tc := range tests {
		if got := GuessRole(tc.name, tc.data); got != tc.want {
			t.Errorf("GuessRole(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	_, bundle, pub := signedRefs(t, [48]byte{1})
	report := read(t, "../../verify/testdata/snp-attestation.bin")
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"snp-attestation.bin", report, FileEvidence},
		{"report.txt", []byte(hex.EncodeToString(report) + "\n"), FileEvidence},
		{"quote.dat", read(t, "../../verify/testdata/tdx-quote-v4.dat"), FileEvidence},
		{"hcl.bin", read(t, "../../verify/testdata/hcl-snp-milan.bin"), FileEvidence},
		{"refs.json", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[]}`), FileRefs},
		{"refs.sigstore.json", bundle, FileRefs},
		// A bundle told by its mediaType alone (its envelope cut off).
		{"bundle.json", []byte(`{"verificationMaterial":{"publicKey":{"hint":"h"}},"mediaType":"` + provenance.BundleMediaType + `"}`), FileRefs},
		{"ci.pub", pub, FileKey},
		{"vcek.der", read(t, "../../verify/testdata/snp-vcek.der"), FileCert},
		{"tcb_info.json", []byte(`{"tcbInfo":{}}`), FileCert},
		{"OVMF.fd", read(t, "../../testdata/fixtures/bookworm-OVMF.fd"), FileFirmware},
		{"truncated.bin", report[:1000], ""},
		{"empty", nil, ""},
	}
	for _, tc := range tests {
		if got := Classify(tc.name, tc.data); got != tc.want {
			t.Errorf("Classify(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// refs signs reference values of one configuration whose MEASUREMENT is m.
func refs(t *testing.T, m [48]byte) (env, pub []byte) {
	t.Helper()
	env, _, pub = signedRefs(t, m)
	return env, pub
}

// signedRefs signs reference values of one configuration whose
// MEASUREMENT is m, as a DSSE envelope and as a Sigstore bundle.
func signedRefs(t *testing.T, m [48]byte) (env, bundle, pub []byte) {
	t.Helper()
	priv, pub, err := provenance.GenerateKey(provenance.Ed25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv := provenance.ReferenceValues{
		Platform: "sev-snp",
		Firmware: provenance.Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("11", 32), "sha384": strings.Repeat("22", 48)}},
		Values: []provenance.ReferenceValue{{Configuration: provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-v4"}, Measurements: []provenance.Measurement{
			{Register: "MEASUREMENT", Digest: map[string]string{"sha384": hex.EncodeToString(m[:])}},
		}}},
		Tool: provenance.Tool{Name: "measure", Version: "test"},
	}
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: rv.Firmware.Name, Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := provenance.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	env, err = provenance.Sign(context.Background(), b, signer)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err = provenance.SignBundle(context.Background(), b, signer)
	if err != nil {
		t.Fatal(err)
	}
	return env, bundle, pub
}

// TestVerify checks what the page is told for inputs that stop before a
// verdict, and that a verdict is the library's (the browser test compares
// every verdict with measure compare's).
func TestVerify(t *testing.T) {
	s, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	m := [48]byte{1, 2, 3}
	report, err := s.Sign(verifytest.Report{Measurement: m})
	if err != nil {
		t.Fatal(err)
	}
	env, bundle, pub := signedRefs(t, m)
	_, otherPub := refs(t, m)
	certs := []File{{Name: "vcek.der", Data: s.VCEK()}, {Name: "ask.der", Data: s.ASK()}, {Name: "ark.der", Data: s.ARK()}}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	base := func() Inputs {
		return Inputs{Evidence: File{Name: "report.bin", Data: report}, Refs: &File{Name: "refs.dsse.json", Data: env}, Keys: []File{{Name: "ci.pub", Data: pub}}, Now: now}
	}
	tests := []struct {
		name    string
		in      func() Inputs
		result  string // the verdict's result, or "" for none
		kind    string // the error's kind
		message string // in the error or the verdict text
		command string
	}{
		{"match, test root trusted", func() Inputs {
			in := base()
			in.Certs, in.TrustRoots = certs, []File{{Name: "ark.der", Data: s.ARK()}}
			return in
		}, verify.Passed, "", "MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4", "measure compare --report report.bin --refs refs.dsse.json --key ci.pub --certs certs --trust-root ark.der"},
		{"match, no certificates", base, verify.Unverified, "", "hardware signature: NOT CHECKED", "measure compare --report report.bin --refs refs.dsse.json --key ci.pub"},
		{"match, Sigstore bundle, test root trusted", func() Inputs {
			in := base()
			in.Refs = &File{Name: "refs.sigstore.json", Data: bundle}
			in.Certs, in.TrustRoots = certs, []File{{Name: "ark.der", Data: s.ARK()}}
			return in
		}, verify.Passed, "", "MATCH: the sev-snp evidence matches --vmm-type qemu --vcpus 4 --vcpu-type EPYC-v4", "measure compare --report report.bin --refs refs.sigstore.json --key ci.pub --certs certs --trust-root ark.der"},
		{"Sigstore bundle, another key", func() Inputs {
			in := base()
			in.Refs = &File{Name: "refs.sigstore.json", Data: bundle}
			in.Keys = []File{{Name: "other.pub", Data: otherPub}}
			return in
		}, "", KindReferenceValues, `reference values "refs.sigstore.json": not enough valid signatures`, ""},
		{"no reference values", func() Inputs { in := base(); in.Refs = nil; return in }, "", "", "", "measure report show report.bin"},
		{"no evidence", func() Inputs { in := base(); in.Evidence = File{}; return in }, "", KindUsage, "no evidence", ""},
		{"truncated", func() Inputs { in := base(); in.Evidence.Data = report[:1000]; return in }, "", KindEvidence, `"report.bin": truncated attestation evidence: SEV-SNP report is 1000 bytes, want 1184`, ""},
		{"no key", func() Inputs { in := base(); in.Keys = nil; return in }, "", KindUsage, "without the publisher's public key", ""},
		{"another key", func() Inputs { in := base(); in.Keys = []File{{Name: "other.pub", Data: otherPub}}; return in }, "", KindReferenceValues, `reference values "refs.dsse.json"`, ""},
		{"threshold above the keys", func() Inputs { in := base(); in.Threshold = 2; return in }, "", KindUsage, "threshold 2, want 1 to 1", ""},
		{"not a key", func() Inputs { in := base(); in.Keys = []File{{Name: "k.pem", Data: []byte("no")}}; return in }, "", KindUsage, `public key "k.pem"`, ""},
		{"two VCEKs", func() Inputs {
			in := base()
			in.Certs = append(certs, File{Name: "vcek2.der", Data: s.VCEK()})
			return in
		}, "", KindUsage, `"vcek.der" and "vcek2.der" are both the vcek`, ""},
		{"unknown role", func() Inputs { in := base(); in.Certs = []File{{Name: "x", Data: s.VCEK(), Role: "vcekk"}}; return in }, "", KindUsage, `role "vcekk"`, ""},
		{"bad verify time", func() Inputs { in := base(); in.VerifyTime = "yesterday"; return in }, "", KindUsage, "want RFC 3339", ""},
		{"bad vmpl", func() Inputs { in := base(); in.Policy.VMPL = "4"; return in }, "", KindUsage, `VMPL "4", want 0 to 3`, ""},
		{"bad min tcb", func() Inputs { in := base(); in.Policy.MinTCB = "snp=lots"; return in }, "", KindUsage, "minimum TCB", ""},
		{"bad report data", func() Inputs { in := base(); in.Policy.ReportData = "xyz"; return in }, "", KindUsage, "report data", ""},
		{"vmpl on a quote", func() Inputs {
			in := base()
			in.Evidence = File{Name: "quote.dat", Data: read(t, "../../verify/testdata/tdx-quote-v4.dat")}
			in.Policy.VMPL = "0"
			return in
		}, "", KindUsage, "a VMPL applies to SEV-SNP reports", ""},
		{"policy flags in the command", func() Inputs {
			in := base()
			in.NoHardwareCheck, in.Policy = true, PolicyInputs{AllowDebug: true, MinTCB: "snp=0", VMPL: "0", ReportData: "00"}
			return in
		}, verify.Passed, "", "policy ok   VMPL = 0", "measure compare --report report.bin --refs refs.dsse.json --key ci.pub --no-hardware-check --allow-debug --min-tcb snp=0 --vmpl 0 --report-data 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Verify(context.Background(), tc.in())
			switch {
			case tc.kind != "":
				if res.Error == nil || res.Error.Kind != tc.kind || !strings.Contains(res.Error.Message, tc.message) {
					t.Fatalf("error %+v, want kind %s with %q", res.Error, tc.kind, tc.message)
				}
				return
			case res.Error != nil:
				t.Fatalf("error %+v", res.Error)
			}
			if res.Command != tc.command {
				t.Errorf("command %q, want %q", res.Command, tc.command)
			}
			if tc.result == "" {
				if res.Verdict != nil || res.Hardware == nil || res.Evidence == nil || len(res.Policy) == 0 {
					t.Errorf("without reference values: verdict %v, hardware %v, evidence %v, policy %v; want no verdict and the rest", res.Verdict, res.Hardware, res.Evidence, res.Policy)
				}
				return
			}
			if res.Verdict == nil || res.Verdict.Result != tc.result || !strings.Contains(res.VerdictText, tc.message) {
				t.Errorf("verdict %v:\n%s\nwant %s with %q", res.Verdict != nil && res.Verdict.Result != "", res.VerdictText, tc.result, tc.message)
			}
		})
	}
}

// TestExplain: the vector's measurement of bookworm's OVMF.fd
// (virtee/sev-snp-measure's, testdata/vectors/snp.tsv row
// snp-qemu-bookworm-ovmf-v4-4) is explained by 4 vCPUs of EPYC-v4's
// signature.
func TestExplain(t *testing.T) {
	s, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	m, err := hex.DecodeString("32ac9d7a17d28f7cd4404a4516d2f00519668c40ada2062351c36767e908eb3f090d66c33ab10f80150e00a4385b6d0f")
	if err != nil {
		t.Fatal(err)
	}
	report, err := s.Sign(verifytest.Report{Measurement: [48]byte(m)})
	if err != nil {
		t.Fatal(err)
	}
	fw := &File{Name: "OVMF.fd", Data: read(t, "../../testdata/fixtures/bookworm-OVMF.fd")}
	res := Explain(Inputs{Evidence: File{Name: "r.bin", Data: report}, Firmware: fw})
	if res.Error != nil {
		t.Fatal(res.Error.Message)
	}
	ex := res.Explanation
	if ex.Result != ResultExplained || len(ex.Found) == 0 || ex.Found[0].VCPUs != 4 || !strings.Contains(strings.Join(ex.Found[0].VCPUTypes, ","), "EPYC-v4") {
		t.Errorf("explanation %+v, want 4 vCPUs of EPYC-v4's signature", ex)
	}
	if res.Command != "measure explain --report r.bin --ovmf OVMF.fd" {
		t.Errorf("command %q", res.Command)
	}
	other := Explain(Inputs{Evidence: File{Name: "r.bin", Data: read(t, "../../verify/testdata/snp-attestation.bin")}, Firmware: fw})
	if other.Error != nil || other.Explanation.Result != ResultUnexplained || !strings.Contains(other.Message, "explains MEASUREMENT b07af962") {
		t.Errorf("the recorded report: %+v, want unexplained", other)
	}
	quote := Explain(Inputs{Evidence: File{Name: "q.dat", Data: read(t, "../../verify/testdata/tdx-quote-v4.dat")}, Firmware: fw})
	if quote.Error == nil || quote.Error.Kind != KindUsage {
		t.Errorf("a TDX quote: %+v, want a usage error", quote)
	}
	notFirmware := Explain(Inputs{Evidence: File{Name: "r.bin", Data: report}, Firmware: &File{Name: "x.fd", Data: []byte("not firmware")}})
	if notFirmware.Error == nil || notFirmware.Error.Kind != KindFirmware || !strings.Contains(notFirmware.Error.Message, `firmware "x.fd"`) {
		t.Errorf("not a firmware image: %+v", notFirmware.Error)
	}
}

// FuzzVerify: no input makes the page's core panic or hang, whatever the
// evidence and certificate bytes.
func FuzzVerify(f *testing.F) {
	for _, p := range []string{"snp-attestation.bin", "tdx-quote-v4.dat", "hcl-snp-milan.bin", "snp-vcek.der"} {
		f.Add(read(f, "../../verify/testdata/"+p), read(f, "../../verify/testdata/snp-vcek.der"))
	}
	f.Add([]byte("00"), []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, evidence, cert []byte) {
		in := Inputs{Evidence: File{Name: "e", Data: evidence}, Certs: []File{{Name: "c", Data: cert, Role: "vcek"}}, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
		res := Verify(context.Background(), in)
		if res.Error == nil && res.Evidence == nil {
			t.Fatal("no error and no evidence")
		}
		Classify("e", evidence)
		GuessRole("c", cert)
	})
}

// TestCertRoles: a file's role is the one given, else guessed; a file left
// out is not used, and without any the hardware signature is not checked.
func TestCertRoles(t *testing.T) {
	s, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	report, err := s.Sign(verifytest.Report{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role, as string
		checked  bool
	}{{"", "vcek.der", true}, {"vcek", "vcek.der", true}, {NotUsed, "", false}} {
		res := Verify(context.Background(), Inputs{Evidence: File{Name: "r.bin", Data: report}, Certs: []File{{Name: "x.der", Data: s.VCEK(), Role: tc.role}}})
		if res.Error != nil {
			t.Fatal(res.Error.Message)
		}
		if len(res.Certs) != 1 || res.Certs[0].As != tc.as || res.Hardware.Checked != tc.checked {
			t.Errorf("role %q: certs %+v, hardware checked %v; want as %q, checked %v", tc.role, res.Certs, res.Hardware.Checked, tc.as, tc.checked)
		}
	}
}

// TestHCL: an Azure HCL report stands for its SEV-SNP report, whose
// hardware signature is checked with the VCEK trustee's test uses with it
// (verify/testdata/README.md), and the report's binding of its runtime data
// is added to the sources, as measure compare does.
func TestHCL(t *testing.T) {
	res := Verify(context.Background(), Inputs{
		Evidence: File{Name: "hcl.bin", Data: read(t, "../../verify/testdata/hcl-snp-milan.bin")},
		Certs:    []File{{Name: "hcl-snp-milan-vcek.pem", Data: read(t, "../../verify/testdata/hcl-snp-milan-vcek.pem")}},
	})
	if res.Error != nil {
		t.Fatal(res.Error.Message)
	}
	if !strings.HasPrefix(res.Evidence.Form, "Azure HCL report holding an SEV-SNP attestation report") || res.Command != "measure report show hcl.bin" {
		t.Errorf("form %q, command %q", res.Evidence.Form, res.Command)
	}
	if !res.Hardware.Verified || !strings.Contains(strings.Join(res.Hardware.Sources, "\n"), "hcl.bin: Azure HCL report (SEV-SNP)") {
		t.Errorf("hardware %+v (%s), want verified and the HCL report among the sources", res.Hardware, res.HardwareError)
	}
}
